executable "api" {
  command = "go"
  dir     = var.dir # ERROR: Unknown reference
}
