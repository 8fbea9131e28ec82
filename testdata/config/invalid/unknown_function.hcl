executable "api" {
  command = "go"
  env = {
    TOKEN = base64encode("secret") # ERROR: Call to unknown function
  }
}
