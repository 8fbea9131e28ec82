# Every probe kind and the health defaults.
executable "web" {
  command = "./web"
  endpoint "admin" {
    scheme = "tcp"
  }
  endpoint "https" {
    scheme      = "https"
    port        = 8443
    target_port = 9443
    env         = "HTTPS_PORT"
    proxy       = true
  }
  health {
    http {
      path   = "/ready"
      status = "204"
    }
    interval     = "1s"
    timeout      = "500ms"
    retries      = 5
    start_period = "10s"
  }
}

executable "tcp-default" {
  command = "./svc"
  endpoint "grpc" {
    scheme = "h2c"
  }
  health {
    tcp {}
  }
}

container "db" {
  image = "docker.io/library/postgres:16"
  endpoint "tcp" {
    scheme      = "tcp"
    target_port = 5432
  }
  health {
    exec {
      command = ["pg_isready", "-U", "postgres"]
    }
  }
}

executable "http-default" {
  command = "./svc"
  endpoint "metrics" {
    scheme = "tcp"
  }
  endpoint "main" {}
  health {
    http {}
  }
}
