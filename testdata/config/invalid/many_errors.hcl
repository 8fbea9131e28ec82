# All errors of a phase are reported at once.
executable "api" {
  command  = "go"
  replicas = -1 # ERROR: Invalid replicas
  restart  = "nope" # ERROR: Invalid value for restart
  endpoint "http" {
    port        = 0 # ERROR: Invalid port
    target_port = 1.5 # ERROR: Invalid number
    scheme      = "HTTP!" # ERROR: Invalid scheme
  }
}

container "db" { # ERROR: Missing required argument
  user = "postgres"
}

container "web" {
  image = "nginx"
  endpoint "http" { # ERROR: Missing target_port
    port = 8080
  }
}
