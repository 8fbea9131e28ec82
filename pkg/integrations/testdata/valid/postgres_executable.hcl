# PostgreSQL from local binaries, with a database and a consumer.
postgres "db" {
  runtime = "executable"
  database "appdata" {}
}

executable "app" {
  command    = "./app"
  references = [postgres_database.appdata, postgres.db]
  wait_for   = [postgres_database.appdata]
}
