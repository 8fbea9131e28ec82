# The services this module's tests need. Developers run `apphostd up`;
# CI runs `apphostd run -- go test ./...` (see docs/ci.md).

# A completion job: build the service once; api waits for it to exit 0.
executable "build" {
  command = "go"
  args    = ["build", "-o", "bin/", "./cmd/api"]
}

executable "api" {
  command = "./bin/api"
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
