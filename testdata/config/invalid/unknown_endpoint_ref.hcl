executable "api" {
  command = "go"
  endpoint "http" {}
}

executable "web" {
  command = "npm"
  env = {
    API = executable.api.endpoint.grpc.url # ERROR: Unknown endpoint
  }
}
