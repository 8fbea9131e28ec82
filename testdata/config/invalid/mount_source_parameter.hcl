parameter "dir" {
  default = "/tmp"
}

container "c" {
  image = "alpine"
  mount {
    source = parameter.dir.value # ERROR: Invalid mount source
    target = "/data"
  }
}
