#!/bin/sh
# Uses what apphostd injected for `references = [postgres_database.appdata, redis.cache]`.
set -eu
echo "postgres: $APPDATA_HOST:$APPDATA_PORT database $APPDATA_DATABASE as $APPDATA_USERNAME"
psql "$ConnectionStrings__appdata" -v ON_ERROR_STOP=1 -qc "
  CREATE TABLE IF NOT EXISTS visits (at timestamptz DEFAULT now());
  INSERT INTO visits DEFAULT VALUES;"
psql "$ConnectionStrings__appdata" -qAtc "SELECT 'visits so far: ' || count(*) FROM visits"
echo "redis: $(redis-cli --no-auth-warning -u "$CACHE_URI" INCR runs) runs so far"
