executable "api" {
  command = "go"
}

executable "web" {
  command = "npm"
  env = {
    API = executable.api # ERROR: Incomplete reference
  }
}
