// Package integrations defines apphostd's hosting integrations, as in .NET
// Aspire: postgres, redis, rabbitmq, kafka, mysql, mongodb and nats blocks,
// each one line in a project file that expands into a server (a container,
// or for postgres and redis optionally a local executable), a generated
// password parameter, a data volume, a real health check and the attributes
// consumers read (host, port, username, password, uri, connection_string).
//
// Importing the package registers the kinds with model.RegisterKind; the
// apphostd command imports it for that side effect. Each integration is one
// file holding its definition; builder.go and integration.go hold what they
// share. docs/integrations.md documents every kind.
package integrations
