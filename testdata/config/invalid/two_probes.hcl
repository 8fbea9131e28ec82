executable "api" {
  command = "go"
  endpoint "http" {}
  health {
    http {}
    tcp {} # ERROR: Conflicting health probes
  }
}
