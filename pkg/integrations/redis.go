package integrations

import (
	"time"

	"github.com/apphostd/apphostd/pkg/model"
)

// redis: a Redis server with a password and append-only persistence.
//
//	redis "cache" {
//	  runtime = "executable"   # default "container"
//	}
//
// Executable mode runs redis-server from PATH with its data in
// .apphost/volumes/NAME-data.
var redis = &integration{
	kind:       "redis",
	summary:    "Redis server (container, or executable from a local redis-server)",
	image:      "docker.io/library/redis:7.4",
	executable: true,
	attrs:      []model.AttributeSchema{attrRuntime, attrImage, attrPort, attrPassword, attrDataVolume},
	expand:     expandRedis,
}

// redisServerScript starts redis-server with its configuration on stdin
// (`redis-server -`, fed by a here-document the shell expands), so the
// password is neither on a command line `ps` shows nor in a file. The
// password is copied to a shell variable and removed from the environment
// before exec, so the server's environment does not hold it either.
// Double quotes and backslashes are escaped for Redis' config syntax.
const redisServerScript = `set -eu
command -v redis-server >/dev/null 2>&1 || { echo "$0: redis-server not found on PATH; install Redis (Debian: apt-get install redis-server) or use runtime = \"container\"" >&2; exit 127; }
[ -n "${REDIS_PASSWORD:-}" ] || { echo "$0: the password is empty" >&2; exit 1; }
pw=$(printf '%s' "$REDIS_PASSWORD" | sed 's/[\\"]/\\&/g')
unset REDIS_PASSWORD
case $APPHOST_DATA in /*) dir=$APPHOST_DATA ;; *) dir=$PWD/$APPHOST_DATA ;; esac
mkdir -p "$dir"
exec redis-server - <<EOF
bind $REDIS_BIND
port $REDIS_PORT
dir "$dir"
appendonly yes
save 60 1
requirepass "$pw"
EOF
`

// redisHealth sends PING with the password (REDISCLI_AUTH keeps it off the
// command line) and wants PONG: a NOAUTH or LOADING reply fails it.
const redisHealth = `command -v redis-cli >/dev/null 2>&1 || { echo "redis-cli not found on PATH" >&2; exit 127; }
out=$(REDISCLI_AUTH="$REDIS_PASSWORD" redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>&1) || true
[ "$out" = PONG ] || { echo "PING: $out" >&2; exit 1; }
`

func expandRedis(x *expansion) {
	pw := x.passwordParam()
	vol := x.dataVolume()
	srv := x.server()
	self := x.self()
	x.shell(srv, "redis", redisServerScript)
	env := map[string]string{"REDIS_PASSWORD": pw}
	if srv.Executable != nil {
		x.endpoint(srv, "tcp", "tcp", 0, "REDIS_PORT")
		env["REDIS_BIND"] = "127.0.0.1"
		env["APPHOST_DATA"] = volumePath(vol)
	} else {
		x.endpoint(srv, "tcp", "tcp", 6379, "")
		env["REDIS_BIND"] = "0.0.0.0"
		env["REDIS_PORT"] = "6379"
		env["APPHOST_DATA"] = "/data"
		x.mount(srv, vol, "/data")
	}
	x.env(srv, env)
	srv.Health = execProbe(x.probe(10*time.Second, x.probeTimeout()), "/bin/sh", "-c", redisHealth, "redis-health")
	hostPort := "${" + self + ".endpoint.tcp.host_port}"
	uri := "redis://default:" + pw + "@" + hostPort
	x.attrs(srv, map[string]string{
		"host":              "${" + self + ".endpoint.tcp.host}",
		"port":              "${" + self + ".endpoint.tcp.port}",
		"username":          "default",
		"password":          pw,
		"uri":               uri,
		"connection_string": uri,
	})
}
