executable "api" { # ERROR: Missing required argument
  comand = "go" # ERROR: Unsupported argument
}
