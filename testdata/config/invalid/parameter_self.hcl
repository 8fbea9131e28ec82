parameter "p" {
  default = "${parameter.p.value}x" # ERROR: Self-referential parameter
}
