# Parameters: defaults, environment, secrets, generated values, and
# defaults built from other parameters with the pure functions.
parameter "region" {
  default = "eu-west-1"
}

parameter "db_password" {
  secret = true
  generate {
    length  = 32
    special = true
  }
}

parameter "api-key" {
  env    = "API_KEY"
  secret = true
  generate {}
}

parameter "dsn" {
  default = "postgres://app:${parameter.db_password.value}@localhost/app?region=${upper(parameter.region.value)}"
  secret  = true
}

parameter "banner" {
  default = format("%s/%s", lower(parameter.region.value), "v1")
}

executable "worker" {
  command = "./worker"
  args    = ["--region", parameter.region.value, join(",", ["a", "b"])]
  env = {
    DSN     = parameter.dsn.value
    API_KEY = parameter.api-key.value
    BANNER  = parameter.banner.value
  }
}
