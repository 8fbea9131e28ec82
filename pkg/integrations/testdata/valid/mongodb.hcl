mongodb "mongo" {
  database "catalog" {}
}
