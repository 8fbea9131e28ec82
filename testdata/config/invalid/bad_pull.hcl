container "c" {
  image   = "alpine"
  pull    = "sometimes" # ERROR: Invalid value for pull
  network = "overlay" # ERROR: Invalid value for network
}
