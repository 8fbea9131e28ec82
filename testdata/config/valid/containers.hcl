# Containers: volumes, bind mounts, host network, pull policies, signals,
# and references between containers.
volume "pgdata" {}
volume "cache-data" {}

parameter "pg_password" {
  secret = true
  generate {}
}

container "postgres" {
  image = "docker.io/library/postgres:16"
  pull  = "never"
  env = {
    POSTGRES_PASSWORD = parameter.pg_password.value
    PGDATA            = "/var/lib/postgresql/data/pgdata"
  }
  mount {
    source = volume.pgdata
    target = "/var/lib/postgresql/data"
  }
  endpoint "tcp" {
    scheme      = "tcp"
    target_port = 5432
  }
  health {
    exec { command = ["pg_isready"] }
  }
}

container "cache" {
  image       = "docker.io/library/redis:7"
  network     = "host"
  stop_signal = "SIGINT"
  user        = "redis"
  mount {
    source    = volume.cache-data
    target    = "/data"
    read_only = false
  }
  mount {
    source    = "./redis.conf"
    target    = "/usr/local/etc/redis/redis.conf"
    read_only = true
  }
  endpoint "tcp" {
    scheme      = "tcp"
    target_port = 6379
    port        = 6379
  }
}

container "app" {
  image       = "registry.local/app:${parameter.pg_password.value == "" ? "dev" : "latest"}"
  entrypoint  = ["/app", "serve"]
  args        = ["--db", "postgres://postgres:${parameter.pg_password.value}@${container.postgres.endpoint.tcp.host_port}/app"]
  working_dir = "/srv"
  pull        = "always"
  endpoint "http" {
    target_port = 8080
  }
  env = {
    CACHE_URL = "redis://${container.cache.endpoint.tcp.host}:${container.cache.endpoint.tcp.port}"
    SELF_URL  = container.app.endpoint.http.url
  }
  references = [container.postgres, container.cache]
  wait_for   = [container.postgres]
}
