package integrations

import "github.com/apphostd/apphostd/pkg/model"

// all lists every integration, one file each.
var all = []*integration{kafka, mongodb, mysql, nats, postgres, rabbitmq, redis}

func init() {
	for _, i := range all {
		model.RegisterKind(i.kindDef())
	}
}
