executable "db" {
  command = "postgres"
  endpoint "tcp" {
    scheme = "tcp"
  }
}

executable "api" {
  command = "go"
  env = {
    DB = container.db.endpoint.tcp.host_port # ERROR: Resource kind mismatch
  }
}
