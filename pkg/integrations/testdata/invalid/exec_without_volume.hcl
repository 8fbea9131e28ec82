postgres "db" {
  runtime     = "executable"
  data_volume = false # ERROR: Data volume required
}
