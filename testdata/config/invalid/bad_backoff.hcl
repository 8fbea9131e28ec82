executable "api" {
  command = "go"
  restart = "always"
  backoff { # ERROR: Invalid backoff
    initial = "1m"
    max     = "1s"
  }
}
