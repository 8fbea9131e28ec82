# Restart policies, replicas, backoff, autostart, labels and the three
# kinds of dependency: references, wait_for, wait_for_completion.
executable "schema" {
  command = "./migrate"
  args    = ["up"]
}

executable "seed" {
  command             = "./seed"
  wait_for_completion = [executable.schema]
  autostart           = false
}

executable "backend" {
  command  = "./backend"
  replicas = 3
  restart  = "always"
  backoff {
    initial = "1s"
    max     = "1m"
  }
  endpoint "http" {
    env = "PORT"
  }
  endpoint "metrics" {
    scheme = "http"
    env    = "METRICS_PORT"
  }
  labels = {
    team    = "core"
    "tier"  = "backend"
  }
  wait_for_completion = [executable.schema, executable.seed]
}

executable "frontend" {
  command = "npm"
  args    = ["run", "dev", "--", "--port", executable.frontend.endpoint.http.target_port]
  dir     = "web"
  restart = "on-failure"
  endpoint "http" {}
  env = {
    API_URL     = executable.backend.endpoint.http.url
    API_SCHEME  = executable.backend.endpoint.http.scheme
    METRICS     = "${executable.backend.endpoint.metrics.host}:${executable.backend.endpoint.metrics.port}"
    EMPTY       = ""
    LITERAL     = "$${not_interpolated}"
  }
  references = [executable.backend]
  wait_for   = [executable.backend]
}
