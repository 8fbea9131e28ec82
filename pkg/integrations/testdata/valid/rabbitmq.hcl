rabbitmq "queue" {
  management = true
}
