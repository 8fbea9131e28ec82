redis "cache" {
  restart = "always"
}
