# A reference project that uses every block and attribute of apphost.hcl.
# apphost.yaml beside it is the same project in YAML; the model tests check
# that both compile to the same graph. See docs/reference.md.

parameter "greeting" {
  default = "hello"
  env     = "GREETING"
}

parameter "db_password" {
  secret = true
  generate {
    length  = 24
    lower   = true
    upper   = true
    numeric = true
    special = false
  }
}

volume "pgdata" {}

container "db" {
  image       = "docker.io/library/postgres:16"
  user        = "postgres"
  working_dir = "/var/lib/postgresql"
  pull        = "missing"
  network     = "bridge"
  stop_signal = "SIGINT"
  env = {
    POSTGRES_PASSWORD = parameter.db_password.value
  }
  mount {
    source = volume.pgdata
    target = "/var/lib/postgresql/data"
  }
  mount {
    source    = "./db/init"
    target    = "/docker-entrypoint-initdb.d"
    read_only = true
  }
  endpoint "tcp" {
    scheme      = "tcp"
    target_port = 5432
  }
  health {
    exec { command = ["pg_isready", "-U", "postgres"] }
    interval     = "2s"
    timeout      = "1s"
    retries      = 5
    start_period = "5s"
  }
}

container "cache" {
  image      = "docker.io/library/redis:7"
  entrypoint = ["redis-server"]
  args       = ["--appendonly", "yes"]
  endpoint "tcp" {
    scheme      = "tcp"
    target_port = 6379
    port        = 16379
    proxy       = false
  }
  health {
    tcp { endpoint = "tcp" }
  }
}

executable "migrate" {
  command    = "go"
  args       = ["run", "./cmd/migrate"]
  dir        = "services/api"
  env        = { DATABASE_URL = "postgres://postgres:${parameter.db_password.value}@${container.db.endpoint.tcp.host_port}/postgres" }
  wait_for   = [container.db]
  references = [container.db]
  run        = "once"
  inputs     = ["services/api/migrations/*.sql"]
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
  references          = [container.cache, container.db]
  wait_for            = [container.cache]
  wait_for_completion = [executable.migrate]
  replicas            = 1
  restart             = "on-failure"
  backoff {
    initial = "500ms"
    max     = "30s"
  }
  autostart             = true
  labels                = { team = "core" }
  on_dependency_restart = "restart"
  limits {
    memory = "512M"
    cpus   = 1.5
    pids   = 256
  }
  health {
    http {
      path     = "/healthz"
      endpoint = "http"
      status   = "200-399"
    }
  }
}

executable "web" {
  command    = "npm"
  args       = ["run", "dev", "--", "--port", "${executable.web.endpoint.http.target_port}"]
  dir        = "web"
  references = [executable.api]
  wait_for   = [executable.api]
  restart    = "always"
  autostart  = false
  endpoint "http" {
    port = 3000
  }
}

executable "pprof" {
  command  = "go"
  args     = ["tool", "pprof", "-http", "127.0.0.1:${executable.pprof.endpoint.http.target_port}", "cpu.out"]
  profiles = ["debug"]
  endpoint "http" {
    socket = false
  }
}
