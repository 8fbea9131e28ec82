parameter "port" {
  default = "8080"
}

executable "api" {
  command = "go"
  endpoint "http" {
    port = parameter.port.value # ERROR: Reference not allowed here
  }
}
