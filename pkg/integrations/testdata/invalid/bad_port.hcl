nats "bus" {
  port = 70000 # ERROR: Invalid port
}
