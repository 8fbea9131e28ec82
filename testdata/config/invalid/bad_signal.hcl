container "c" {
  image       = "alpine"
  stop_signal = "TERM" # ERROR: Invalid stop signal
}
