volume "data" {}

container "db" {
  image = "postgres:16"
  mount {
    source = volume.data
    target = "var/lib/data" # ERROR: Invalid mount target
  }
}
