executable "a" {
  command               = "./a"
  profiles              = ["Debug"] # ERROR: Invalid profile name
  on_dependency_restart = "bounce" # ERROR: Invalid value for on_dependency_restart
}

executable "b" {
  command = "./b"
  restart = "always"
  run     = "once" # ERROR: Conflicting run and restart
}

executable "c" {
  command = "./c"
  inputs  = ["x.sql"] # ERROR: inputs without run = "once"
}

executable "d" {
  command = "./d"
  run     = "once"
  inputs  = ["/etc/passwd"] # ERROR: Invalid input
}

executable "e" {
  command = "./e"
  limits {
    memory = "lots" # ERROR: Invalid memory limit
    cpus   = 0 # ERROR: Invalid cpus limit
    pids   = 0 # ERROR: Invalid pids limit
  }
}

executable "f" {
  command = "./f"
  limits {
    memory = "512k" # ERROR: Invalid memory limit
  }
  endpoint "http" {
    proxy  = true
    socket = true # ERROR: Conflicting endpoint options
  }
}

container "g" {
  image = "redis:7"
  endpoint "tcp" {
    target_port = 6379
    socket      = true # ERROR: Socket activation needs an executable
  }
}
