executable "api" {
  command = "go"
  endpoint "http" {}
  health {
    http {}
  }
  health { # ERROR: Duplicate health block
    tcp {}
  }
}
