postgres "db" {
  database "appdata" {}
}

executable "app" {
  command    = "./app"
  references = [postgres.appdata] # ERROR: Resource kind mismatch
}
