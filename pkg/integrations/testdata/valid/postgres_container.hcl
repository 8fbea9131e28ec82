# PostgreSQL in a container: fixed port, the password from a parameter,
# no data volume, a database with its own name, extra env on the server.
parameter "pg_pass" {
  env    = "PG_PASS"
  secret = true
}

postgres "pg" {
  image       = "docker.io/library/postgres:16"
  port        = 15432
  password    = parameter.pg_pass.value
  data_volume = false
  env         = { POSTGRES_INITDB_ARGS = "--data-checksums" }
  database "orders" {
    name = "orders_db"
  }
  database "billing" {}
}
