package integrations

import (
	"time"

	"github.com/apphostd/apphostd/pkg/model"
)

// nats: a NATS server with JetStream (container only).
//
//	nats "bus" {}
var nats = &integration{
	kind:    "nats",
	summary: "NATS server with JetStream (container)",
	image:   "docker.io/library/nats:2.11-alpine",
	attrs:   []model.AttributeSchema{attrRuntime, attrImage, attrPort, attrPassword, attrDataVolume},
	expand:  expandNATS,
}

const natsUser = "nats"

// natsServerScript writes a config whose password is `$NATS_PASSWORD`
// literally (a quoted here-document): nats-server resolves an undefined
// config variable from its environment, so the secret is in neither the
// file nor the command line. It needs an image with a shell (the -alpine
// variants; the default nats image has none).
const natsServerScript = `set -eu
cat >/tmp/nats.conf <<'EOF'
port: 4222
http_port: 8222
jetstream { store_dir: "/data" }
authorization { user: nats, password: $NATS_PASSWORD }
EOF
exec nats-server -c /tmp/nats.conf
`

func expandNATS(x *expansion) {
	pw := x.passwordParam()
	vol := x.dataVolume()
	srv := x.server()
	self := x.self()
	x.shell(srv, "nats", natsServerScript)
	x.endpoint(srv, "tcp", "tcp", 4222, "")
	x.endpoint(srv, "monitoring", "http", 8222, "")
	x.env(srv, map[string]string{"NATS_PASSWORD": pw})
	x.mount(srv, vol, "/data")
	// The monitoring port's /healthz reports the server (and JetStream)
	// healthy; the daemon probes it over HTTP.
	srv.Health = x.probe(10*time.Second, 2*time.Second)
	srv.Health.HTTP = &model.HTTPProbe{Endpoint: "monitoring", Path: "/healthz", StatusMin: 200, StatusMax: 299}
	uri := "nats://" + natsUser + ":" + pw + "@${" + self + ".endpoint.tcp.host_port}"
	x.attrs(srv, map[string]string{
		"host":              "${" + self + ".endpoint.tcp.host}",
		"port":              "${" + self + ".endpoint.tcp.port}",
		"username":          natsUser,
		"password":          pw,
		"uri":               uri,
		"connection_string": uri,
	})
}
