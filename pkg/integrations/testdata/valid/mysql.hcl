mysql "sql" {
  database "shop" {}
}
