executable "api" {
  command = "go"
  args = ["run",
} # ERROR: Invalid expression
