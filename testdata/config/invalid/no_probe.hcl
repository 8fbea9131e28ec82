executable "api" {
  command = "go"
  health { # ERROR: Missing health probe
    interval = "1s"
  }
}
