mysql "sql" {
  runtime = "executable" # ERROR: Invalid runtime
}
