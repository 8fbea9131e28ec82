executable "api" {
  command = "go"
  endpoint "http" {}
  health {
    http {}
    interval = "5 seconds" # ERROR: Invalid duration
  }
}
