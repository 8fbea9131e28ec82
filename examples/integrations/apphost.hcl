# Integrations example: PostgreSQL with a database and Redis, both run from
# this machine's binaries (no containers needed), and a job that uses them
# with the connection values apphostd injects.
#
#   sudo ../../scripts/install-integration-deps.sh   # PostgreSQL and Redis from Debian
#   apphostd up --wait       # servers healthy, database created
#   apphostd logs check      # the job's psql and redis-cli output
#   apphostd env appdata     # ConnectionStrings__appdata, APPDATA_URI, ...
#   apphostd down            # data and generated passwords are kept
#
# Drop the runtime lines to run both in containers instead.

postgres "db" {
  runtime = "executable"
  database "appdata" {}
}

redis "cache" {
  runtime = "executable"
}

# A one-shot consumer: references inject the values, wait_for holds it until
# the database exists and Redis answers PING.
executable "check" {
  command    = "/bin/sh"
  args       = ["./check.sh"]
  references = [postgres_database.appdata, redis.cache]
  wait_for   = [postgres_database.appdata, redis.cache]
}
