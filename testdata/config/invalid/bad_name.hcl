executable "Api" { # ERROR: Invalid resource name
  command = "go"
}
