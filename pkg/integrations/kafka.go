package integrations

import (
	"time"

	"github.com/apphostd/apphostd/pkg/model"
)

// kafka: a single-node Apache Kafka broker in KRaft mode (no ZooKeeper),
// container only.
//
//	kafka "events" {}
//
// Kafka clients connect to the bootstrap address, then to the address the
// broker advertises. The broker listens inside its container on the same
// port number that is published on the host (the endpoint has no fixed
// target port, so the target is the allocated host port) and advertises
// 127.0.0.1:PORT: right for every client on the host (executables, and
// containers on the host network). Containers on the project bridge cannot
// use an address advertised as 127.0.0.1; see docs/integrations.md.
var kafka = &integration{
	kind:    "kafka",
	summary: "Apache Kafka broker, single node in KRaft mode (container)",
	image:   "docker.io/apache/kafka:3.9.1",
	attrs:   []model.AttributeSchema{attrRuntime, attrImage, attrPort, attrDataVolume},
	expand:  expandKafka,
}

// kafkaClusterID is the KRaft cluster ID storage is formatted with; fixed so
// a restarted broker accepts its own data volume.
const kafkaClusterID = "YXBwaG9zdGRrYWZrYTAwMQ"

func expandKafka(x *expansion) {
	vol := x.dataVolume()
	srv := x.server()
	self := x.self()
	x.endpoint(srv, "tcp", "tcp", 0, "")
	port := "${" + self + ".endpoint.tcp.target_port}"
	x.env(srv, map[string]string{
		"CLUSTER_ID":                                     kafkaClusterID,
		"KAFKA_NODE_ID":                                  "1",
		"KAFKA_PROCESS_ROLES":                            "broker,controller",
		"KAFKA_LISTENERS":                                "PLAINTEXT://:" + port + ",CONTROLLER://127.0.0.1:9093",
		"KAFKA_ADVERTISED_LISTENERS":                     "PLAINTEXT://127.0.0.1:" + port,
		"KAFKA_LISTENER_SECURITY_PROTOCOL_MAP":           "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
		"KAFKA_CONTROLLER_LISTENER_NAMES":                "CONTROLLER",
		"KAFKA_CONTROLLER_QUORUM_VOTERS":                 "1@127.0.0.1:9093",
		"KAFKA_INTER_BROKER_LISTENER_NAME":               "PLAINTEXT",
		"KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR":         "1",
		"KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR": "1",
		"KAFKA_TRANSACTION_STATE_LOG_MIN_ISR":            "1",
		"KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS":         "0",
		"KAFKA_LOG_DIRS":                                 "/var/lib/kafka/data",
	})
	if vol != "" {
		x.mount(srv, vol, "/var/lib/kafka/data")
		// The image runs as an unprivileged user, and a fresh volume
		// directory belongs to root.
		srv.Container.User = lit("0:0", x.rng)
	}
	// A TCP connect: a protocol-level check would start a JVM
	// (kafka-broker-api-versions.sh) every few seconds.
	srv.Health = x.probe(30*time.Second, 2*time.Second)
	srv.Health.TCP = &model.TCPProbe{Endpoint: "tcp"}
	bootstrap := "${" + self + ".endpoint.tcp.host_port}"
	x.attrs(srv, map[string]string{
		"host":              "${" + self + ".endpoint.tcp.host}",
		"port":              "${" + self + ".endpoint.tcp.port}",
		"uri":               "kafka://" + bootstrap,
		"connection_string": bootstrap,
	})
}
