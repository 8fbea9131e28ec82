package integrations

import (
	"time"

	"github.com/apphostd/apphostd/pkg/model"
)

// postgres: a PostgreSQL server with child databases.
//
//	postgres "db" {
//	  runtime = "executable"   # default "container"
//	  database "appdata" {}
//	}
//
// Container mode runs the official image; executable mode runs initdb and
// postgres found on PATH or under /usr/lib/postgresql/*/bin (Debian), with
// the cluster in .apphost/volumes/NAME-data/pgdata. PostgreSQL refuses to
// run as root, so a root daemon starts it as the project directory's owner,
// or, when that is root too, as the system user "apphost" (created with
// useradd when missing); see pgServerScript.
var postgres = &integration{
	kind:         "postgres",
	summary:      "PostgreSQL server with databases (container, or executable from local binaries)",
	image:        "docker.io/library/postgres:17",
	executable:   true,
	databaseKind: "postgres_database",
	attrs:        []model.AttributeSchema{attrRuntime, attrImage, attrPort, attrPassword, attrDataVolume},
	expand:       expandPostgres,
}

const pgUser = "postgres"

// pgFind prints the directory holding the named PostgreSQL programs: the
// PATH's, else the newest /usr/lib/postgresql/VERSION/bin (where Debian
// puts them, off PATH).
const pgFind = `pgfind() {
  for d in "$(dirname "$(command -v "$1" 2>/dev/null || echo /nonexistent/x)")" $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k4 -nr); do
    if [ -x "$d/$1" ] && { [ -z "${2:-}" ] || [ -x "$d/$2" ]; }; then echo "$d"; return 0; fi
  done
  return 1
}
`

// pgServerScript runs a local PostgreSQL server: initdb on first start
// (into pgdata.init, renamed when complete, so an interrupted initdb is
// redone rather than half-used), then exec postgres so the server itself
// is the process the daemon supervises and signals.
//
// The password reaches initdb through a 0600 file inside the (0700) volume,
// removed at once, never through argv. Unix sockets are off: clients use
// TCP on 127.0.0.1 with scram-sha-256.
//
// As root: the server runs as the project directory's owner, else as the
// system user "apphost"; the volume is chowned to it, and .apphost and
// .apphost/volumes get its group with mode 0710 (search only) so it can
// reach its data and nothing else there. setpriv (util-linux) drops the
// privileges and execs, keeping one process.
const pgServerScript = `set -eu
die() { echo "$0: $*" >&2; exit 1; }
` + pgFind + `bin=$(pgfind postgres initdb) || die "initdb and postgres not found on PATH or under /usr/lib/postgresql/*/bin; install PostgreSQL (Debian: apt-get install postgresql) or use runtime = \"container\""
[ -n "${POSTGRES_PASSWORD:-}" ] || die "the password is empty"
vol=$PWD/$APPHOST_VOLUME
data=$vol/pgdata
mkdir -p "$vol"
as=
if [ "$(id -u)" = 0 ]; then
  user=$(stat -c %U .)
  if [ "$user" = root ] || [ "$user" = UNKNOWN ]; then
    user=apphost
    id -u "$user" >/dev/null 2>&1 || useradd --system --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$user" || id -u "$user" >/dev/null 2>&1 || die "cannot create the system user $user to run PostgreSQL, which refuses to run as root"
  fi
  uid=$(id -u "$user"); gid=$(id -g "$user")
  chgrp "$gid" "${APPHOST_VOLUME%/*/*}" "${APPHOST_VOLUME%/*}"
  chmod 0710 "${APPHOST_VOLUME%/*/*}" "${APPHOST_VOLUME%/*}"
  [ "$(stat -c %u "$vol")" = "$uid" ] || chown -R "$uid:$gid" "$vol"
  chmod 0700 "$vol"
  as="setpriv --reuid=$uid --regid=$gid --clear-groups --"
  $as test -w "$vol" -a -x "$vol" || die "PostgreSQL runs as user $user, who cannot reach $vol: make the directories above the project searchable for it (chmod o+x), or run apphostd as that user"
  echo "$0: running PostgreSQL as user $user"
fi
if [ ! -f "$data/PG_VERSION" ]; then
  rm -rf "$data.init"
  pwfile=$vol/.initdb-password
  trap 'rm -f "$pwfile"' EXIT
  (umask 077 && printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile")
  [ -z "$as" ] || chown "$uid:$gid" "$pwfile"
  echo "$0: initializing $data with $bin/initdb"
  $as "$bin/initdb" -D "$data.init" -U "$PGUSER" --pwfile="$pwfile" -A scram-sha-256 -E UTF8 --no-locale --no-instructions
  rm -f "$pwfile"
  trap - EXIT
  mv "$data.init" "$data"
fi
unset POSTGRES_PASSWORD
exec $as "$bin/postgres" -D "$data" -p "$PGPORT" -c listen_addresses=127.0.0.1 -c unix_socket_directories=
`

// pgReadyScript is the executable-mode health check: pg_isready speaks the
// protocol's startup handshake and reports "accepting connections".
const pgReadyScript = pgFind + `bin=$(pgfind pg_isready) || { echo "pg_isready not found on PATH or under /usr/lib/postgresql/*/bin" >&2; exit 127; }
exec "$bin/pg_isready" -h 127.0.0.1 -p "$PGPORT" -U "$PGUSER" -d postgres
`

// pgDatabaseScript creates the database if it does not exist (idempotent:
// psql's \gexec runs the CREATE only when the SELECT finds none, and the
// name is quoted with %I), then stays up until stopped. Connection
// settings come from PGHOST, PGPORT, PGUSER, PGPASSWORD.
const pgDatabaseScript = `set -eu
` + pgFind + `bin=$(pgfind psql) || { echo "$0: psql not found on PATH or under /usr/lib/postgresql/*/bin; install the PostgreSQL client (Debian: apt-get install postgresql-client)" >&2; exit 127; }
"$bin/psql" -v ON_ERROR_STOP=1 -qAt -v db="$APPHOST_DATABASE" <<'EOF'
SELECT format('CREATE DATABASE %I', :'db') WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db')\gexec
EOF
echo "$0: database $APPHOST_DATABASE is ready"
trap 'exit 0' TERM INT
while :; do sleep 3600 & wait $!; done
`

// pgDatabaseHealth connects to the database itself and runs a query.
const pgDatabaseHealth = pgFind + `bin=$(pgfind psql) || { echo "psql not found" >&2; exit 127; }
exec "$bin/psql" -qAt -d "$APPHOST_DATABASE" -c "select 1"
`

func expandPostgres(x *expansion) {
	pw := x.passwordParam()
	vol := x.dataVolume()
	srv := x.server()
	self := x.self()
	if srv.Executable != nil {
		x.shell(srv, "postgres", pgServerScript)
		x.endpoint(srv, "tcp", "tcp", 0, "PGPORT")
		x.env(srv, map[string]string{"PGUSER": pgUser, "POSTGRES_PASSWORD": pw, "APPHOST_VOLUME": volumePath(vol)})
		srv.Health = execProbe(x.probe(30*time.Second, 3*time.Second), "/bin/sh", "-c", pgReadyScript, "postgres-health")
	} else {
		x.endpoint(srv, "tcp", "tcp", 5432, "")
		x.env(srv, map[string]string{"POSTGRES_USER": pgUser, "POSTGRES_PASSWORD": pw})
		x.mount(srv, vol, "/var/lib/postgresql/data")
		// TCP on 127.0.0.1: the image's first-start initialisation runs a
		// socket-only server, so this succeeds only once the real one is up.
		srv.Health = execProbe(x.probe(30*time.Second, 10*time.Second), "pg_isready", "-h", "127.0.0.1", "-p", "5432", "-U", pgUser, "-d", "postgres")
	}
	hostPort := "${" + self + ".endpoint.tcp.host_port}"
	uri := "postgresql://" + pgUser + ":" + pw + "@" + hostPort
	x.attrs(srv, map[string]string{
		"host":              "${" + self + ".endpoint.tcp.host}",
		"port":              "${" + self + ".endpoint.tcp.port}",
		"username":          pgUser,
		"password":          pw,
		"uri":               uri,
		"connection_string": uri,
	})
	for _, db := range x.databases() {
		dbURI := "postgresql://${" + self + ".username}:${" + self + ".password}@" + hostPort + "/" + db.name
		x.database(srv, db, pgDatabaseScript,
			[]string{"/bin/sh", "-c", pgDatabaseHealth, "postgres-database-health"},
			map[string]string{
				"PGHOST":           "${" + self + ".host}",
				"PGPORT":           "${" + self + ".port}",
				"PGUSER":           "${" + self + ".username}",
				"PGPASSWORD":       "${" + self + ".password}",
				"PGDATABASE":       "postgres",
				"APPHOST_DATABASE": db.name,
			},
			map[string]string{
				"host":              "${" + self + ".host}",
				"port":              "${" + self + ".port}",
				"username":          "${" + self + ".username}",
				"password":          "${" + self + ".password}",
				"database":          db.name,
				"uri":               dbURI,
				"connection_string": dbURI,
			})
	}
}
