nats "bus" {
  port = 14222
}
