executable "api" {
  command = "go"
  endpoint "http" {}
  health {
    http {
      status = "600-700" # ERROR: Invalid status range
    }
  }
}
