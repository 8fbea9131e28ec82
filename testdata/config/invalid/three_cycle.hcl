executable "a" {
  command    = "a"
  references = [executable.b] # ERROR: Dependency cycle
}

executable "b" {
  command             = "b"
  wait_for_completion = [executable.c]
}

executable "c" {
  command  = "c"
  wait_for = [executable.a]
}
