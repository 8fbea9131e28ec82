kafka "events" {
  password = "x" # ERROR: Unsupported argument
}
