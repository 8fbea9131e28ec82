executable { # ERROR: Missing name for executable
  command = "go"
}
