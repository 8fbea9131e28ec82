executable "api" {
  command  = "go"
  replicas = 0 # ERROR: Invalid replicas
}
