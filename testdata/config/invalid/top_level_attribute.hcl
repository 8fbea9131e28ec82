name = "my-app" # ERROR: Unsupported argument

executable "api" {
  command = "go"
}
