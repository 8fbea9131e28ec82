executable "a" {
  command = "a"
  endpoint "http" {}
  env = {
    B = executable.b.endpoint.http.url # ERROR: Dependency cycle
  }
}

executable "b" {
  command = "b"
  endpoint "http" {}
  wait_for = [executable.a]
}
