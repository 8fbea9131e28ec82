parameter "api" {
  default = "x"
}

executable "api" { # ERROR: Duplicate resource name
  command = "go"
}
