# Several services sharing settings (YAML writes them once with anchors and
# merge keys) and a diamond of dependencies.
executable "auth" {
  command = "./svc"
  args    = ["auth"]
  restart = "on-failure"
  labels  = { team = "platform" }
  endpoint "http" {
    env = "PORT"
  }
  health {
    http { path = "/healthz" }
  }
}

executable "billing" {
  command = "./svc"
  args    = ["billing"]
  restart = "on-failure"
  labels  = { team = "platform" }
  endpoint "http" {
    env = "PORT"
  }
  health {
    http { path = "/healthz" }
  }
  env = {
    AUTH_URL = executable.auth.endpoint.http.url
  }
}

executable "orders" {
  command = "./svc"
  args    = ["orders"]
  restart = "on-failure"
  labels  = { team = "shop" }
  endpoint "http" {
    env = "PORT"
  }
  health {
    http { path = "/healthz" }
  }
  env = {
    AUTH_URL = executable.auth.endpoint.http.url
  }
}

executable "gateway" {
  command = "./gateway"
  endpoint "http" {
    port = 8080
  }
  env = {
    BILLING = executable.billing.endpoint.http.url
    ORDERS  = executable.orders.endpoint.http.url
  }
  wait_for = [executable.billing, executable.orders]
}
