package integrations

import (
	"regexp"
	"sort"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/apphostd/apphostd/pkg/model"
)

// integration is one hosting integration: a top-level block kind that
// expands into base resources. Each lives in its own file and is listed in
// all; register.go turns them into model.KindDefs.
type integration struct {
	kind    string // block type, e.g. "postgres"
	summary string // one line, for `apphostd add --help` and docs
	image   string // default container image
	// executable is true when runtime = "executable" is supported (the
	// server runs from binaries on PATH).
	executable bool
	// databaseKind is the Kind of child `database "NAME" {}` blocks, e.g.
	// "postgres_database"; "" when the integration has none.
	databaseKind string
	// attrs are the block's own attributes beyond the runtime ones
	// (env, references, health, ...), which every integration accepts.
	attrs []model.AttributeSchema
	// expand fills x.out from the decoded block.
	expand func(x *expansion)
}

func (i *integration) schema() *model.BlockSchema {
	s := &model.BlockSchema{Attributes: append([]model.AttributeSchema(nil), i.attrs...)}
	if i.databaseKind != "" {
		s.Blocks = append(s.Blocks, model.NestedBlockSchema{Type: "database", Labelled: true, Repeatable: true,
			Body: &model.BlockSchema{Attributes: []model.AttributeSchema{{Name: "name"}}}})
	}
	return s
}

func (i *integration) kindDef() model.KindDef {
	return model.KindDef{
		Name:   i.kind,
		Schema: i.schema(),
		Common: true,
		Expand: func(b *model.Block) ([]*model.Resource, hcl.Diagnostics) {
			x := newExpansion(i, b)
			x.decodeOptions()
			if x.diags.HasErrors() {
				return nil, x.diags
			}
			i.expand(x)
			if x.diags.HasErrors() {
				return nil, x.diags
			}
			return x.out, x.diags
		},
	}
}

// Kinds returns the integration kinds, sorted: what `apphostd add` accepts.
func Kinds() []string {
	out := make([]string, 0, len(all))
	for _, i := range all {
		out = append(out, i.kind)
	}
	sort.Strings(out)
	return out
}

func lookup(kind string) *integration {
	for _, i := range all {
		if i.kind == kind {
			return i
		}
	}
	return nil
}

// dbNameRE limits database names to what every integration can put into
// SQL identifiers, URIs and shell words without quoting surprises.
var dbNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]{0,62}$`)

// dbBlock is a decoded `database "LABEL" { name = "..." }` block: LABEL is
// the resource name, name the database's own name (default LABEL).
type dbBlock struct {
	label string
	name  string
	rng   hcl.Range
}

// databases decodes the database child blocks.
func (x *expansion) databases() []dbBlock {
	var out []dbBlock
	for _, blk := range x.b.Body.BlocksOfType("database") {
		db := dbBlock{label: blk.Label(), name: blk.Label(), rng: blk.DefRange}
		if s, ok := blk.Body.ConstString("name", &x.diags); ok {
			db.name = s
		}
		if !dbNameRE.MatchString(db.name) {
			rng := blk.LabelRange()
			if attr := blk.Body.Attributes["name"]; attr != nil {
				rng = attr.Expr.Range()
			}
			x.diags = append(x.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid database name",
				Detail:  "A database name starts with a letter or '_' and holds up to 63 letters, digits, '_' or '-'; got \"" + db.name + "\".",
				Subject: rng.Ptr()})
			continue
		}
		out = append(out, db)
	}
	return out
}

// database adds a child resource that makes sure one database exists and
// then stays Running, healthy while the database accepts connections, so
// consumers can wait_for it like any server (as Aspire's database
// resources). It runs the server's image (containers) or the host's client
// binaries (executables) and starts once the server is healthy.
func (x *expansion) database(server *model.Resource, db dbBlock, script string, health []string, env, attrs map[string]string) *model.Resource {
	r := model.NewResource(db.label, x.def.databaseKind, server.BaseKind, db.rng)
	r.Parent = x.name
	r.Restart.Policy = model.RestartOnFailure
	if r.Container != nil {
		r.Container.Image = server.Container.Image
		r.Container.Network = server.Container.Network
	}
	x.shell(r, x.def.kind+"-database", script)
	x.env(r, env)
	x.attrs(r, attrs)
	x.waitFor(r, x.name)
	r.Health = execProbe(x.probe(0, x.probeTimeout()), health...)
	return x.add(r)
}

// probeTimeout is longer for containers, where probes are exec'd through
// the runtime and client tools (mongosh, JVM-based ones) start slowly.
func (x *expansion) probeTimeout() time.Duration {
	if x.opts.runtime == runtimeExecutable {
		return 3 * time.Second
	}
	return 10 * time.Second
}
