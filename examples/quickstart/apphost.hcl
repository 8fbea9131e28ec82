# Quickstart: three small Go services and a build job, wired by apphostd.
#
#   apphostd up            # foreground, prefixed logs, Ctrl-C stops everything
#   apphostd up --wait     # background; returns once everything is healthy
#   apphostd ps            # status
#   apphostd down          # stop everything
#
# Edit this file while it runs: only what changed restarts.

parameter "greeting" {
  default = "hello"
}

# A completion job: builds the services once; everything else waits for it.
executable "build" {
  command = "go"
  args    = ["build", "-o", "bin/", "./cmd/store", "./cmd/api", "./cmd/web"]
}

executable "store" {
  command = "./bin/store"
  endpoint "http" {
    env = "PORT"
  }
  wait_for_completion = [executable.build]
  health {
    http {
      path = "/healthz"
    }
  }
}

executable "api" {
  command = "./bin/api"
  endpoint "http" {
    env = "PORT"
  }
  env = {
    GREETING = "${parameter.greeting.value}, world"
  }
  references = [executable.store]
  wait_for   = [executable.store]
  restart    = "on-failure"
  health {
    http {
      path = "/healthz"
    }
  }
}

executable "web" {
  command = "./bin/web"
  endpoint "http" {
    env = "PORT"
  }
  references = [executable.api]
  wait_for   = [executable.api]
  health {
    http {
      path = "/healthz"
    }
  }
}
