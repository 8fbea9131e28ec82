# The example from notes/SYNTAX.md: a cache, an API, a migration job.
parameter "greeting" {
  default = "hello"
  env     = "GREETING"
  secret  = false
}

volume "data" {}

container "cache" {
  image       = "docker.io/library/redis:7"
  entrypoint  = ["redis-server"]
  args        = ["--appendonly", "yes"]
  user        = "1000:1000"
  working_dir = "/data"
  pull        = "missing"
  network     = "bridge"
  stop_signal = "SIGTERM"
  mount {
    source    = volume.data
    target    = "/data"
    read_only = false
  }
  mount {
    source    = "./conf"
    target    = "/etc/redis"
    read_only = true
  }
  endpoint "tcp" {
    scheme      = "tcp"
    target_port = 6379
    port        = 16379
  }
  health {
    tcp { endpoint = "tcp" }
    interval     = "5s"
    timeout      = "2s"
    retries      = 3
    start_period = "0s"
  }
}

executable "migrate" {
  command = "go"
  args    = ["run", "./cmd/migrate"]
}

executable "api" {
  command = "go"
  args    = ["run", "./cmd/api"]
  dir     = "services/api"
  endpoint "http" {
    env   = "PORT"
    proxy = false
  }
  env = {
    REDIS_ADDR = container.cache.endpoint.tcp.host_port
    GREETING   = "${parameter.greeting.value}, world"
  }
  references          = [container.cache]
  wait_for            = [container.cache]
  wait_for_completion = [executable.migrate]
  replicas  = 1
  restart   = "on-failure"
  backoff {
    initial = "500ms"
    max     = "30s"
  }
  autostart = true
  labels    = { team = "core" }
  health {
    http {
      path     = "/healthz"
      endpoint = "http"
      status   = "200-399"
    }
  }
}
