package integrations_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"

	"github.com/apphostd/apphostd/pkg/integrations"
	"github.com/apphostd/apphostd/pkg/model"
)

// The integration kinds' part of schemas/apphost.schema.json, checked
// against the compiler with this package's kinds registered, as
// pkg/model/schema_test.go checks the base kinds' part (pkg/model's tests
// cannot: they do not load the integrations).

const schemaPath = "../../schemas/apphost.schema.json"

// baseKinds are the top-level schema properties pkg/model's tests cover.
var baseKinds = map[string]bool{
	model.KindParameter: true, model.KindVolume: true, model.KindContainer: true, model.KindExecutable: true,
}

func loadSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	f, err := os.Open(schemaPath)
	if err != nil {
		t.Fatalf("open schema: %v", err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatalf("parse schema: %v", err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	if err := c.AddResource("apphost.schema.json", doc); err != nil {
		t.Fatalf("add schema: %v", err)
	}
	sch, err := c.Compile("apphost.schema.json")
	if err != nil {
		t.Fatalf("compile schema: %v", err)
	}
	return sch
}

// validateYAML reads src as the schema sees a YAML file (yaml.v3 keeps
// timestamp-like scalars as strings and rejects duplicate keys, as the
// compiler's front end does) and validates it.
func validateYAML(sch *jsonschema.Schema, src []byte) (parseErr, schemaErr error) {
	var v any
	if err := yaml.Unmarshal(src, &v); err != nil {
		return fmt.Errorf("parse yaml: %w", err), nil
	}
	if v == nil {
		v = map[string]any{}
	}
	// Through JSON, so numbers and maps have the types the validator expects
	// and a non-string key is an error rather than a surprise.
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("yaml to json: %w", err), nil
	}
	inst, err := jsonschema.UnmarshalJSON(strings.NewReader(string(b)))
	if err != nil {
		return fmt.Errorf("yaml to json: %w", err), nil
	}
	return nil, sch.Validate(inst)
}

// schemaDoc is the schema as plain JSON, for walking.
type schemaDoc struct {
	root, defs map[string]any
}

func readSchemaDoc(t *testing.T) schemaDoc {
	t.Helper()
	raw, err := os.ReadFile(schemaPath)
	if err != nil {
		t.Fatal(err)
	}
	var root map[string]any
	if err := json.Unmarshal(raw, &root); err != nil {
		t.Fatalf("parse schema: %v", err)
	}
	defs, _ := root["$defs"].(map[string]any)
	return schemaDoc{root: root, defs: defs}
}

// resolve follows $refs to the schema object they name.
func (d schemaDoc) resolve(t *testing.T, s any) map[string]any {
	t.Helper()
	m, _ := s.(map[string]any)
	for i := 0; m != nil && i < 10; i++ {
		ref, ok := m["$ref"].(string)
		if !ok {
			break
		}
		name, ok := strings.CutPrefix(ref, "#/$defs/")
		if !ok {
			t.Fatalf("unsupported $ref %q", ref)
		}
		next, ok := d.defs[name].(map[string]any)
		if !ok {
			t.Fatalf("dangling $ref %q", ref)
		}
		m = next
	}
	return m
}

// blockBody returns the body schema when s is a block in one of its YAML
// shapes (a mapping, a mapping keyed by label, a sequence), or nil for an
// attribute. labelled reports the keyed-by-label shape.
func (d schemaDoc) blockBody(t *testing.T, s map[string]any) (body map[string]any, labelled, seq bool) {
	if _, ok := s["properties"]; ok {
		return s, false, false
	}
	if pp, ok := s["patternProperties"].(map[string]any); ok {
		for _, v := range pp {
			if b := d.resolve(t, v); b != nil {
				if _, ok := b["properties"]; ok {
					return b, true, false
				}
			}
		}
	}
	if items := d.resolve(t, s["items"]); items != nil {
		if _, ok := items["properties"]; ok {
			return items, false, true
		}
	}
	return nil, false, false
}

// place is one attribute or block position in an integration kind's body.
type place struct {
	kind  string
	path  string   // dotted, labels as NAME: postgres.NAME.database.NAME.name
	rel   []string // names from the kind's body down, without labels
	name  string
	block bool
	enum  []any
	// doc returns a minimal document that sets this attribute (or block) to v.
	doc func(v any) any
}

// kindBody is one integration kind's body schema.
type kindBody struct {
	kind  string
	props map[string]any
}

// integrationSchema walks the top-level properties that are not base kinds:
// the integration kinds, their bodies and every place within them.
func integrationSchema(t *testing.T) (bodies []kindBody, places []place) {
	t.Helper()
	d := readSchemaDoc(t)
	top, _ := d.root["properties"].(map[string]any)
	var kinds []string
	for k := range top {
		if !baseKinds[k] {
			kinds = append(kinds, k)
		}
	}
	sort.Strings(kinds)
	var walk func(kind, path string, rel []string, body map[string]any, wrap func(any) any)
	walk = func(kind, path string, rel []string, body map[string]any, wrap func(any) any) {
		props, _ := body["properties"].(map[string]any)
		names := make([]string, 0, len(props))
		for name := range props {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			s := d.resolve(t, props[name])
			if s == nil {
				t.Fatalf("%s.%s: property schema is not an object", path, name)
			}
			at := func(v any) any { return wrap(map[string]any{name: v}) }
			r := append(append([]string(nil), rel...), name)
			if b, labelled, seq := d.blockBody(t, s); b != nil {
				inner, sub := at, path+"."+name
				switch {
				case labelled:
					inner = func(v any) any { return at(map[string]any{"x": v}) }
					sub += ".NAME"
				case seq:
					inner = func(v any) any { return at([]any{v}) }
				}
				places = append(places, place{kind: kind, path: sub, rel: r, name: name, block: true, doc: inner})
				walk(kind, sub, r, b, inner)
				continue
			}
			enum, _ := s["enum"].([]any)
			places = append(places, place{kind: kind, path: path + "." + name, rel: r, name: name, enum: enum, doc: at})
		}
	}
	for _, k := range kinds {
		b, labelled, _ := d.blockBody(t, d.resolve(t, top[k]))
		if b == nil || !labelled {
			t.Fatalf("top-level %q: not a mapping of names to bodies with properties", k)
		}
		props, _ := b["properties"].(map[string]any)
		bodies = append(bodies, kindBody{kind: k, props: props})
		walk(k, k+".NAME", nil, b, func(v any) any { return map[string]any{k: map[string]any{"x": v}} })
	}
	return bodies, places
}

// TestSchemaKindsAreRegistered: the schema's integration kinds are exactly
// the registered ones, so a new integration cannot ship without its schema.
func TestSchemaKindsAreRegistered(t *testing.T) {
	bodies, _ := integrationSchema(t)
	var got []string
	for _, b := range bodies {
		got = append(got, b.kind)
	}
	if want := integrations.Kinds(); !reflect.DeepEqual(got, want) {
		t.Errorf("schema top-level integration kinds = %v, registered kinds = %v", got, want)
	}
}

// TestSchemaAttributesKnownToCompiler sets every attribute and block the
// schema defines for an integration kind, one at a time, and checks that
// model.Compile knows it: no "Unsupported argument" or "Unsupported block
// type". Other errors (a null where a value is needed) are ignored.
func TestSchemaAttributesKnownToCompiler(t *testing.T) {
	_, places := integrationSchema(t)
	for _, p := range places {
		var v any // null: the front end still checks the name
		if p.block {
			v = map[string]any{}
		}
		src := mustYAML(t, p.doc(v))
		_, diags := model.Compile("probe.yaml", src)
		for _, d := range diags {
			if strings.HasPrefix(d.Summary, "Unsupported") {
				t.Errorf("%s: the schema defines it, the compiler does not: %s: %s\n%s", p.path, d.Summary, d.Detail, src)
			}
		}
	}
	// 7 kinds with ~15 common attributes and blocks each, nested ones included.
	if len(places) < 7*30 {
		t.Errorf("walked only %d places in the integration kinds", len(places))
	}
}

// TestSchemaHasEveryCompilerAttribute is the converse: every name the
// schema defines for some runnable body (base or integration) that the
// compiler accepts on an integration kind's body, or on its database
// blocks, is in that kind's schema. The one name accepted by the front end
// and refused by every integration, replicas, must be absent.
func TestSchemaHasEveryCompilerAttribute(t *testing.T) {
	d := readSchemaDoc(t)
	bodies, _ := integrationSchema(t)
	candidates := map[string]bool{}
	for _, k := range []string{model.KindContainer, model.KindExecutable} {
		for name := range d.resolve(t, d.defs[k])["properties"].(map[string]any) {
			candidates[name] = true
		}
	}
	for _, b := range bodies {
		for name := range b.props {
			candidates[name] = true
		}
	}
	names := make([]string, 0, len(candidates))
	for n := range candidates {
		names = append(names, n)
	}
	sort.Strings(names)
	refused := func(diags []string, name string) bool {
		for _, s := range diags {
			if strings.Contains(s, "Unsupported") && strings.Contains(s, strconv.Quote(name)) {
				return true
			}
		}
		return false
	}
	for _, b := range bodies {
		var dbProps map[string]any
		if db, ok := b.props["database"]; ok {
			body, _, _ := d.blockBody(t, d.resolve(t, db))
			dbProps, _ = body["properties"].(map[string]any)
		}
		for _, name := range names {
			doc := map[string]any{b.kind: map[string]any{"x": map[string]any{name: nil}}}
			diags := compileDiags(t, doc)
			if name == "replicas" {
				if _, ok := b.props[name]; ok {
					t.Errorf("%s: the schema allows replicas, which every integration refuses", b.kind)
				}
				if !hasSummary(diags, "Replicas not supported") {
					t.Errorf("%s: the compiler does not refuse replicas:\n%s", b.kind, strings.Join(diags, "\n"))
				}
				continue
			}
			_, inSchema := b.props[name]
			if !inSchema && !refused(diags, name) {
				t.Errorf("%s: the compiler accepts %q, the schema does not define it:\n%s", b.kind, name, strings.Join(diags, "\n"))
			}
			if dbProps == nil {
				continue
			}
			doc = map[string]any{b.kind: map[string]any{"x": map[string]any{"database": map[string]any{"y": map[string]any{name: nil}}}}}
			diags = compileDiags(t, doc)
			if _, inDB := dbProps[name]; !inDB && !refused(diags, name) {
				t.Errorf("%s database: the compiler accepts %q, the schema does not define it:\n%s", b.kind, name, strings.Join(diags, "\n"))
			}
		}
	}
}

// TestSchemaRuntimes: for every kind, each runtime value is accepted by
// the schema exactly when the compiler accepts it.
func TestSchemaRuntimes(t *testing.T) {
	sch := loadSchema(t)
	for _, k := range integrations.Kinds() {
		for _, rt := range []string{"container", "executable", "vm"} {
			src := mustYAML(t, map[string]any{k: map[string]any{"x": map[string]any{"runtime": rt}}})
			_, serr := validateYAML(sch, src)
			_, diags := model.Compile("runtime.yaml", src)
			if (serr == nil) != !diags.HasErrors() {
				t.Errorf("%s runtime %s: schema accepts=%v, compiler accepts=%v\nschema: %v\ncompiler: %v", k, rt, serr == nil, !diags.HasErrors(), serr, diags)
			}
		}
	}
}

// TestSchemaEnumValuesCompile: every enum value the schema offers on an
// integration body compiles there.
func TestSchemaEnumValuesCompile(t *testing.T) {
	_, places := integrationSchema(t)
	n := 0
	for _, p := range places {
		for _, e := range p.enum {
			n++
			src := mustYAML(t, p.doc(e))
			if _, diags := model.Compile("enum.yaml", src); diags.HasErrors() {
				t.Errorf("%s = %v: the schema offers it, the compiler refuses it: %v", p.path, e, diags)
			}
		}
	}
	if n == 0 {
		t.Error("no enum values found")
	}
}

// TestSchemaFixtures: every YAML fixture of this package meets the schema
// as the compiler does. Valid ones pass it. An invalid one marked
// `# SCHEMA: invalid` (a structural error) must fail it at its `# ERROR:`
// line; an unmarked one (an error a schema cannot see) must pass it, as
// in pkg/model's fixtures.
func TestSchemaFixtures(t *testing.T) {
	sch := loadSchema(t)
	valid, _ := filepath.Glob("testdata/valid/*.yaml")
	invalid, _ := filepath.Glob("testdata/invalid/*.yaml")
	if len(valid) == 0 || len(invalid) == 0 {
		t.Fatalf("fixtures: %d valid, %d invalid YAML files", len(valid), len(invalid))
	}
	for _, path := range valid {
		t.Run(path, func(t *testing.T) {
			src := mustRead(t, path)
			if perr, serr := validateYAML(sch, src); perr != nil || serr != nil {
				t.Errorf("valid fixture fails the schema: %v%v", perr, serr)
			}
		})
	}
	for _, path := range invalid {
		t.Run(path, func(t *testing.T) {
			src := mustRead(t, path)
			perr, serr := validateYAML(sch, src)
			if perr != nil {
				t.Fatalf("not YAML: %v", perr)
			}
			if !schemaInvalidRE.Match(src) {
				if serr != nil {
					t.Errorf("unmarked invalid fixture fails the schema; mark a structural error with a `# SCHEMA: invalid` line:\n%v", serr)
				}
				return
			}
			if serr == nil {
				t.Fatal("marked `# SCHEMA: invalid` but the schema accepts it")
			}
			if err := errorAtMarker(src, serr); err != nil {
				t.Errorf("the schema rejects it, but not at the `# ERROR:` line: %v\n%v", err, serr)
			}
		})
	}
}

var schemaInvalidRE = regexp.MustCompile(`(?m)^[ \t]*#[ \t]*SCHEMA:[ \t]*invalid[ \t]*$`)

// errorAtMarker checks that a leaf error of verr is at a YAML node that
// starts on a `# ERROR:` line.
func errorAtMarker(src []byte, verr error) error {
	var ve *jsonschema.ValidationError
	if !errors.As(verr, &ve) {
		return fmt.Errorf("not a validation error: %w", verr)
	}
	markers := map[int]bool{}
	for i, line := range strings.Split(string(src), "\n") {
		if strings.Contains(line, "# ERROR:") {
			markers[i+1] = true
		}
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil || len(doc.Content) == 0 {
		return fmt.Errorf("reparse: %v", err)
	}
	var lines []int
	var visit func(e *jsonschema.ValidationError)
	visit = func(e *jsonschema.ValidationError) {
		for _, c := range e.Causes {
			visit(c)
		}
		if len(e.Causes) > 0 {
			return
		}
		if n := nodeAt(doc.Content[0], e.InstanceLocation); n != nil {
			lines = append(lines, n.Line)
		}
	}
	visit(ve)
	for _, l := range lines {
		if markers[l] {
			return nil
		}
	}
	return fmt.Errorf("errors at lines %v", lines)
}

// nodeAt follows a JSON pointer's tokens through mappings and sequences.
func nodeAt(n *yaml.Node, path []string) *yaml.Node {
	for _, tok := range path {
		switch n.Kind {
		case yaml.MappingNode:
			var next *yaml.Node
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == tok {
					next = n.Content[i+1]
				}
			}
			n = next
		case yaml.SequenceNode:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(n.Content) {
				return nil
			}
			n = n.Content[i]
		default:
			return nil
		}
		if n == nil {
			return nil
		}
	}
	return n
}

// TestSchemaDocsExamples: every YAML example of docs/integrations.md
// passes the schema (TestDocsExamplesCompile compiles them).
func TestSchemaDocsExamples(t *testing.T) {
	sch := loadSchema(t)
	n := 0
	for _, blk := range docBlocks(t) {
		if blk.lang != "yaml" {
			continue
		}
		n++
		if perr, serr := validateYAML(sch, []byte(blk.src)); perr != nil || serr != nil {
			t.Errorf("%s:%d: YAML example fails the schema: %v%v\n%s", docsPath, blk.line, perr, serr, blk.src)
		}
	}
	if n < len(integrations.Kinds()) {
		t.Errorf("only %d YAML examples in %s", n, docsPath)
	}
}

// TestSchemaAcceptsAdd: what `apphostd add` writes into apphost.yaml
// passes the schema, for every kind with every option it supports.
func TestSchemaAcceptsAdd(t *testing.T) {
	sch := loadSchema(t)
	n := 0
	for _, k := range integrations.Kinds() {
		for _, opts := range []integrations.AddOptions{
			{}, {Runtime: "container"}, {Runtime: "executable"},
			{Databases: []string{"one", "two"}}, {Runtime: "executable", Databases: []string{"one"}},
		} {
			out, err := integrations.AppendBlock("apphost.yaml", nil, k, "x", opts)
			if err != nil {
				continue // an option the kind does not take
			}
			n++
			if perr, serr := validateYAML(sch, out); perr != nil || serr != nil {
				t.Errorf("add %s %+v writes YAML the schema rejects: %v%v\n%s", k, opts, perr, serr, out)
			}
		}
	}
	// Every kind twice (no option, explicit container); executable for
	// postgres and redis, databases for postgres, mysql and mongodb, both for
	// postgres.
	if want := 2*len(integrations.Kinds()) + 2 + 3 + 1; n != want {
		t.Errorf("add accepted %d kind and option combinations, want %d", n, want)
	}
}

// TestSchemaCases pins the integration part of the schema on small
// documents, and that the compiler agrees except where the schema is
// stricter on purpose.
func TestSchemaCases(t *testing.T) {
	sch := loadSchema(t)
	cases := []struct {
		name  string
		src   string
		valid bool
		// strict: the schema rejects what the compiler accepts, on purpose.
		strict bool
	}{
		{"every kind, empty", "kafka: { a: {} }\nmongodb: { b: {} }\nmysql: { c: {} }\nnats: { d: {} }\npostgres: { e: {} }\nrabbitmq: { f: {} }\nredis: { g: {} }\n", true, false},
		{"bodies and maps left empty", "kafka:\n  a:\npostgres:\n  db:\n    database:\n      app:\nredis:\n", true, false},
		{"postgres, everything", `
parameter:
  pg: { env: PG_PASSWORD, secret: true }
postgres:
  db:
    runtime: container
    image: docker.io/library/postgres:16
    port: 15432
    password: ${parameter.pg.value}
    data_volume: false
    database:
      app: { name: app_v2 }
      reports: {}
    endpoint:
      metrics: { scheme: http, target_port: 9187 }
    env: { POSTGRES_INITDB_ARGS: --data-checksums }
    restart: always
    backoff: { initial: 1s, max: 1m }
    autostart: false
    labels: { team: data }
    health: { exec: { command: [pg_isready] }, interval: 2s }
    profiles: [db]
    on_dependency_restart: ignore
    limits: { memory: 1G, cpus: 2, pids: 512 }
`, true, false},
		{"executable postgres with a socket endpoint", "postgres:\n  db:\n    runtime: executable\n    endpoint:\n      admin: { env: ADMIN_PORT, socket: true }\n", true, false},
		{"run once with inputs", "redis:\n  cache:\n    run: once\n    inputs: [seed/*.rdb]\n", true, false},
		{"references and waits", "nats:\n  bus: {}\nredis:\n  cache:\n    references: [nats.bus]\n    wait_for: [nats.bus]\n    wait_for_completion: [executable.job]\nexecutable:\n  job: { command: ./job }\n", true, false},
		{"rabbitmq management", "rabbitmq:\n  q: { management: true }\n", true, false},
		{"container endpoint without target_port", "kafka:\n  k:\n    endpoint:\n      extra: { env: EXTRA_PORT }\n", true, false},
		{"rabbitmq executable", "rabbitmq:\n  q: { runtime: executable }\n", false, false},
		{"unknown runtime", "postgres:\n  db: { runtime: vm }\n", false, false},
		{"image in executable mode", "redis:\n  c: { runtime: executable, image: redis:7 }\n", false, false},
		{"no data volume in executable mode", "postgres:\n  db: { runtime: executable, data_volume: false }\n", false, false},
		{"no data volume in a container", "redis:\n  c: { data_volume: false }\n", true, false},
		{"socket in container mode", "redis:\n  c:\n    endpoint:\n      x: { target_port: 7000, socket: true }\n", false, false},
		{"socket false in container mode", "redis:\n  c:\n    endpoint:\n      x: { target_port: 7000, socket: false }\n", true, false},
		{"socket on a container-only kind", "mysql:\n  s:\n    runtime: container\n    endpoint:\n      x: { target_port: 33060, socket: true }\n", false, false},
		{"empty image", "nats:\n  n: { image: \"\" }\n", false, false},
		{"image from a parameter", "parameter:\n  img: { default: nats:2 }\nnats:\n  n: { image: \"${parameter.img.value}\" }\n", false, false},
		{"password on kafka", "kafka:\n  k: { password: secret }\n", false, false},
		{"replicas", "redis:\n  c: { replicas: 2 }\n", false, false},
		{"database on redis", "redis:\n  c:\n    database:\n      zero: {}\n", false, false},
		{"management on nats", "nats:\n  n: { management: true }\n", false, false},
		{"database name", "mysql:\n  s:\n    database:\n      shop: { name: Shop_2 }\n", true, false},
		{"database name starting with a digit", "mysql:\n  s:\n    database:\n      shop: { name: 2shop }\n", false, false},
		{"database name too long", "mongodb:\n  m:\n    database:\n      d: { name: " + strings.Repeat("a", 64) + " }\n", false, false},
		{"database label not a name", "postgres:\n  db:\n    database:\n      App: {}\n", false, false},
		{"database with env", "postgres:\n  db:\n    database:\n      app: { env: { A: b } }\n", false, false},
		{"server name not a name", "redis:\n  Cache: {}\n", false, false},
		{"port zero", "redis:\n  c: { port: 0 }\n", false, false},
		{"port too large", "redis:\n  c: { port: 65536 }\n", false, false},
		// The compiler converts a quoted number or boolean; editors should still flag it.
		{"port as string", "redis:\n  c: { port: \"6380\" }\n", false, true},
		{"management as string", "rabbitmq:\n  q: { management: \"true\" }\n", false, true},
		{"bad restart", "redis:\n  c: { restart: sometimes }\n", false, false},
		{"unknown attribute", "redis:\n  c: { version: 7 }\n", false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			perr, serr := validateYAML(sch, []byte(tc.src))
			if perr != nil {
				t.Fatalf("test case is not YAML: %v", perr)
			}
			if tc.valid && serr != nil {
				t.Errorf("schema rejects a valid document:\n%v", serr)
			}
			if !tc.valid && serr == nil {
				t.Errorf("schema accepts an invalid document")
			}
			_, diags := model.Compile("case.yaml", []byte(tc.src))
			if want := tc.valid || tc.strict; diags.HasErrors() == want {
				t.Errorf("model.Compile disagrees (want ok=%v): %v", want, diags)
			}
		})
	}
}

// TestSchemaDocumented: docs/integrations.md documents the integration
// part of the schema. Every kind's own attribute (one that executables do
// not take) has a table row (“| `name` |”) and every block type of its own
// a heading naming it; every runtime attribute an integration takes is
// named, and every enum value of an attribute of its own appears, in
// backticks. (The runtime attributes themselves are documented in
// docs/reference.md, which pkg/model's tests check.)
func TestSchemaDocumented(t *testing.T) {
	d := readSchemaDoc(t)
	_, places := integrationSchema(t)
	raw, err := os.ReadFile(docsPath)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)
	common := map[string]bool{}
	for name := range d.resolve(t, d.defs[model.KindExecutable])["properties"].(map[string]any) {
		common[name] = true
	}
	var missing []string
	seen := map[string]bool{}
	for _, p := range places {
		// Only the kinds' own places: nested runtime blocks (endpoint, health,
		// ...) are the reference's.
		if common[p.rel[0]] && len(p.rel) > 1 {
			continue
		}
		var want []string
		switch {
		case common[p.name] && len(p.rel) == 1:
			want = []string{"`" + p.name + "`"}
		case p.block:
			want = []string{"# `" + p.name + "` block"}
		default:
			want = []string{"\n| `" + p.name + "` |"}
			for _, e := range p.enum {
				want = append(want, fmt.Sprintf("`%v`", e))
			}
		}
		for _, w := range want {
			if !seen[w] && !strings.Contains(doc, w) {
				missing = append(missing, fmt.Sprintf("%s (for %s)", strings.TrimSpace(w), p.path))
			}
			seen[w] = true
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("%s does not document:\n%s", docsPath, strings.Join(missing, "\n"))
	}
}

func mustYAML(t *testing.T, v any) []byte {
	t.Helper()
	b, err := yaml.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// compileDiags compiles a document and returns its diagnostics as text.
func compileDiags(t *testing.T, doc any) []string {
	t.Helper()
	_, diags := model.Compile("probe.yaml", mustYAML(t, doc))
	out := make([]string, 0, len(diags))
	for _, d := range diags {
		out = append(out, d.Summary+": "+d.Detail)
	}
	return out
}

func hasSummary(diags []string, summary string) bool {
	for _, d := range diags {
		if strings.HasPrefix(d, summary+":") {
			return true
		}
	}
	return false
}
