parameter "p" {
  default = "x"
}

executable "api" {
  command  = "go"
  wait_for = [parameter.p] # ERROR: Invalid wait_for target
}
