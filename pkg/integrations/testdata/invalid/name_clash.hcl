parameter "db-password" {
  default = "x"
}

postgres "db" {} # ERROR: Duplicate resource name
