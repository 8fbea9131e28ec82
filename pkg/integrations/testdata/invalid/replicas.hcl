redis "cache" {
  replicas = 2 # ERROR: Replicas not supported
}
