executable "api" {
  command = "go"
  env = {
    "1BAD" = "x" # ERROR: Invalid environment variable name
  }
}
