executable "api" {
  command = "go"
  endpoint "http" { # ERROR: Conflicting ports
    port        = 8080
    target_port = 9090
  }
}
