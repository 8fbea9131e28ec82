container "web" {
  image = "nginx"
  endpoint "http" { # ERROR: Missing target_port
    port = 8080
  }
}
