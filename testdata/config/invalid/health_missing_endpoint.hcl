executable "api" {
  command = "go"
  endpoint "http" {}
  health {
    tcp {
      endpoint = "admin" # ERROR: Unknown endpoint
    }
  }
}
