package integrations

import (
	"time"

	"github.com/apphostd/apphostd/pkg/model"
)

// rabbitmq: a RabbitMQ broker (container only).
//
//	rabbitmq "queue" {
//	  management = true   # the management UI on endpoint "management"
//	}
var rabbitmq = &integration{
	kind:    "rabbitmq",
	summary: "RabbitMQ broker (container), optional management UI",
	image:   "docker.io/library/rabbitmq:4.1",
	attrs:   []model.AttributeSchema{attrRuntime, attrImage, attrPort, attrPassword, attrDataVolume, {Name: "management"}},
	expand:  expandRabbitMQ,
}

// rabbitUser is not "guest": RabbitMQ lets guest connect from loopback
// only, and published ports arrive from the bridge.
const rabbitUser = "rabbitmq"

func expandRabbitMQ(x *expansion) {
	management := false
	if v, ok := x.b.Body.ConstBool("management", &x.diags); ok {
		management = v
	}
	if management && x.b.Body.Attributes["image"] == nil {
		x.opts.image += "-management"
	}
	pw := x.passwordParam()
	vol := x.dataVolume()
	srv := x.server()
	self := x.self()
	x.endpoint(srv, "tcp", "tcp", 5672, "")
	if management {
		x.endpoint(srv, "management", "http", 15672, "")
	}
	srv.Container.Image = lit(x.opts.image, x.rng)
	// A fixed node name keeps the data directory (named after the node)
	// the same across container restarts, whatever the hostname.
	x.env(srv, map[string]string{"RABBITMQ_DEFAULT_USER": rabbitUser, "RABBITMQ_DEFAULT_PASS": pw, "RABBITMQ_NODENAME": "rabbit@localhost"})
	x.mount(srv, vol, "/var/lib/rabbitmq")
	// rabbitmq-diagnostics ping asks the node itself over Erlang
	// distribution; slow to start (a BEAM), hence the longer timeout.
	srv.Health = execProbe(x.probe(30*time.Second, 15*time.Second), "rabbitmq-diagnostics", "-q", "ping")
	srv.Health.Interval = 10 * time.Second
	uri := "amqp://" + rabbitUser + ":" + pw + "@${" + self + ".endpoint.tcp.host_port}"
	x.attrs(srv, map[string]string{
		"host":              "${" + self + ".endpoint.tcp.host}",
		"port":              "${" + self + ".endpoint.tcp.port}",
		"username":          rabbitUser,
		"password":          pw,
		"uri":               uri,
		"connection_string": uri,
	})
}
