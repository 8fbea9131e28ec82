executable "api" {
  command = "go"
  endpoint "http" {
    port = 70000 # ERROR: Invalid port
  }
}
