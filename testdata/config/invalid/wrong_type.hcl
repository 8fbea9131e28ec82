executable "api" {
  command   = ["go"] # ERROR: Incorrect attribute value type
  args      = "run ./cmd/api" # ERROR: Incorrect attribute value type
  autostart = "maybe" # ERROR: Incorrect attribute value type
}
