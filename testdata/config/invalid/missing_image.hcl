container "cache" { # ERROR: Missing required argument
  args = ["--appendonly", "yes"]
}
