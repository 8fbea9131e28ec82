postgres "db" {
  database "ok" {
    name = "no spaces" # ERROR: Invalid database name
  }
}
