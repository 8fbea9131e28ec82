package integrations

import (
	"time"

	"github.com/apphostd/apphostd/pkg/model"
)

// mongodb: a MongoDB server with child databases (container only).
//
//	mongodb "mongo" {
//	  database "catalog" {}
//	}
//
// MongoDB creates a database on its first write; a database resource
// checks that the server accepts the credentials for it and stays up, so
// consumers can wait_for it as for the other kinds.
var mongodb = &integration{
	kind:         "mongodb",
	summary:      "MongoDB server with databases (container)",
	image:        "docker.io/library/mongo:8.0",
	databaseKind: "mongodb_database",
	attrs:        []model.AttributeSchema{attrRuntime, attrImage, attrPort, attrPassword, attrDataVolume},
	expand:       expandMongoDB,
}

const mongoUser = "admin"

// mongoPing connects with the URI in APPHOST_URI (read from the
// environment inside mongosh, never passed as an argument) and runs ping,
// which needs the credentials to be accepted.
const mongoPing = `mongosh --quiet --nodb --eval '
const c = connect(process.env.APPHOST_URI);
quit(c.runCommand({ ping: 1 }).ok === 1 ? 0 : 1);
'
`

const mongoDatabaseScript = "set -eu\n" + mongoPing + `echo "$0: database $APPHOST_DATABASE is ready"
trap 'exit 0' TERM INT
while :; do sleep 3600 & wait $!; done
`

func expandMongoDB(x *expansion) {
	pw := x.passwordParam()
	vol := x.dataVolume()
	srv := x.server()
	self := x.self()
	x.endpoint(srv, "tcp", "tcp", 27017, "")
	x.env(srv, map[string]string{
		"MONGO_INITDB_ROOT_USERNAME": mongoUser,
		"MONGO_INITDB_ROOT_PASSWORD": pw,
		// For the health check, which runs inside the container.
		"APPHOST_URI": "mongodb://" + mongoUser + ":" + pw + "@127.0.0.1:27017/admin?authSource=admin",
	})
	x.mount(srv, vol, "/data/db")
	srv.Health = execProbe(x.probe(30*time.Second, 10*time.Second), "/bin/sh", "-c", mongoPing, "mongodb-health")
	hostPort := "${" + self + ".endpoint.tcp.host_port}"
	uri := "mongodb://" + mongoUser + ":" + pw + "@" + hostPort + "/?authSource=admin"
	x.attrs(srv, map[string]string{
		"host":              "${" + self + ".endpoint.tcp.host}",
		"port":              "${" + self + ".endpoint.tcp.port}",
		"username":          mongoUser,
		"password":          pw,
		"uri":               uri,
		"connection_string": uri,
	})
	for _, db := range x.databases() {
		dbURI := "mongodb://" + mongoUser + ":${" + self + ".password}@" + hostPort + "/" + db.name + "?authSource=admin"
		x.database(srv, db, mongoDatabaseScript,
			[]string{"/bin/sh", "-c", mongoPing, "mongodb-database-health"},
			map[string]string{"APPHOST_URI": dbURI, "APPHOST_DATABASE": db.name},
			map[string]string{
				"host":              "${" + self + ".host}",
				"port":              "${" + self + ".port}",
				"username":          mongoUser,
				"password":          "${" + self + ".password}",
				"database":          db.name,
				"uri":               dbURI,
				"connection_string": dbURI,
			})
	}
}
