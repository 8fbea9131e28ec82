executable "api" {
  command = "go"
  endpoint "http" {}
}

executable "web" {
  command = "npm"
  args    = [executable.api.endpoint.http.address] # ERROR: Unsupported attribute
}
