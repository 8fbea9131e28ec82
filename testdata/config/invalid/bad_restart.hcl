executable "api" {
  command = "go"
  restart = "sometimes" # ERROR: Invalid value for restart
}
