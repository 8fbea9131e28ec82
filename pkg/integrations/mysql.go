package integrations

import (
	"time"

	"github.com/apphostd/apphostd/pkg/model"
)

// mysql: a MySQL server with child databases (container only).
//
//	mysql "sql" {
//	  database "shop" {}
//	}
var mysql = &integration{
	kind:         "mysql",
	summary:      "MySQL server with databases (container)",
	image:        "docker.io/library/mysql:8.4",
	databaseKind: "mysql_database",
	attrs:        []model.AttributeSchema{attrRuntime, attrImage, attrPort, attrPassword, attrDataVolume},
	expand:       expandMySQL,
}

// mysqlClient runs the mysql client with the password in an option file
// read from stdin, not on the command line.
const mysqlClient = `myclient() {
  mysql --defaults-extra-file=/dev/stdin -h"$MYSQL_HOST" -P"$MYSQL_PORT" -uroot "$@" <<EOF
[client]
password="$MYSQL_PASSWORD"
EOF
}
`

// mysqlDatabaseScript creates the database (IF NOT EXISTS: idempotent;
// the name is quoted as an identifier) and stays up until stopped.
const mysqlDatabaseScript = "set -eu\n" + mysqlClient +
	"myclient -e \"CREATE DATABASE IF NOT EXISTS \\`$APPHOST_DATABASE\\`\"\n" + `echo "$0: database $APPHOST_DATABASE is ready"
trap 'exit 0' TERM INT
while :; do sleep 3600 & wait $!; done
`

const mysqlDatabaseHealth = mysqlClient + `myclient -e "SELECT 1" "$APPHOST_DATABASE"
`

func expandMySQL(x *expansion) {
	pw := x.passwordParam()
	vol := x.dataVolume()
	srv := x.server()
	self := x.self()
	x.endpoint(srv, "tcp", "tcp", 3306, "")
	x.env(srv, map[string]string{"MYSQL_ROOT_PASSWORD": pw})
	x.mount(srv, vol, "/var/lib/mysql")
	// mysqladmin ping completes the protocol handshake (it succeeds even
	// without credentials). The image's first-start initialisation runs a
	// server without networking, so TCP answers only once it is done.
	srv.Health = execProbe(x.probe(60*time.Second, 10*time.Second), "mysqladmin", "ping", "-h", "127.0.0.1", "-P", "3306", "--silent")
	hostPort := "${" + self + ".endpoint.tcp.host_port}"
	uri := "mysql://root:" + pw + "@" + hostPort
	x.attrs(srv, map[string]string{
		"host":              "${" + self + ".endpoint.tcp.host}",
		"port":              "${" + self + ".endpoint.tcp.port}",
		"username":          "root",
		"password":          pw,
		"uri":               uri,
		"connection_string": uri,
	})
	for _, db := range x.databases() {
		dbURI := "mysql://root:${" + self + ".password}@" + hostPort + "/" + db.name
		x.database(srv, db, mysqlDatabaseScript,
			[]string{"/bin/sh", "-c", mysqlDatabaseHealth, "mysql-database-health"},
			map[string]string{
				"MYSQL_HOST":       "${" + self + ".host}",
				"MYSQL_PORT":       "${" + self + ".port}",
				"MYSQL_PASSWORD":   "${" + self + ".password}",
				"APPHOST_DATABASE": db.name,
			},
			map[string]string{
				"host":              "${" + self + ".host}",
				"port":              "${" + self + ".port}",
				"username":          "root",
				"password":          "${" + self + ".password}",
				"database":          db.name,
				"uri":               dbURI,
				"connection_string": dbURI,
			})
	}
}
