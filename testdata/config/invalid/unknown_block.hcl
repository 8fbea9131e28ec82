service "api" { # ERROR: Unsupported block type
  command = "go"
}
