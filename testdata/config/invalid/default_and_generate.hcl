parameter "password" {
  default = "hunter2"
  generate { # ERROR: Conflicting parameter value
    length = 16
  }
}
