executable "api" {
  command = "go"
  endpoint "http" {}
  endpoint "http" { # ERROR: Duplicate endpoint
    scheme = "https"
  }
}
