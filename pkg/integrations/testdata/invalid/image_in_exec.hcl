redis "cache" {
  runtime = "executable"
  image   = "redis:7" # ERROR: Image not used
}
