executable "api" {
  command  = "go"
  wait_for = [executable.api] # ERROR: Self reference
}
