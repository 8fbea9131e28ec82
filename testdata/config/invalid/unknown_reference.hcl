executable "api" {
  command = "go"
  env = {
    PEER = executable.nope.endpoint.http.url # ERROR: Reference to undeclared resource
  }
}
