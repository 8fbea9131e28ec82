package model_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"go.yaml.in/yaml/v3"

	"github.com/apphostd/apphostd/pkg/model"
)

// schemaPath is the JSON Schema of apphost.yaml, relative to this package.
const schemaPath = "../../schemas/apphost.schema.json"

// Markers an invalid YAML fixture carries to say what the schema must do
// with it. A file without a marker is a semantic error (a cycle, an unknown
// reference) that a schema cannot see, so it must pass the schema.
const (
	markerInvalid = "invalid" // structural problem: the schema must reject it
	markerSkip    = "skip"    // not parseable YAML: the schema never sees it
)

var markerRE = regexp.MustCompile(`(?m)^[ \t]*#[ \t]*SCHEMA:[ \t]*(\S*)[ \t]*$`)

// schemaMarker returns the value of the file's `# SCHEMA: <value>` line, or
// "" when there is none. More than one marker is an error.
func schemaMarker(src []byte) (string, error) {
	m := markerRE.FindAllSubmatch(src, -1)
	switch {
	case len(m) == 0:
		return "", nil
	case len(m) > 1:
		return "", fmt.Errorf("%d `# SCHEMA:` lines; want at most one", len(m))
	}
	v := string(m[0][1])
	if v != markerInvalid && v != markerSkip {
		return "", fmt.Errorf("unknown marker `# SCHEMA: %s`; want %q or %q", v, markerInvalid, markerSkip)
	}
	return v, nil
}

// loadSchema compiles schemas/apphost.schema.json.
func loadSchema(t testing.TB) *jsonschema.Schema {
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

// yamlToValue parses a YAML document into the plain values a JSON decoder
// would produce (map[string]any, []any, string, int64/float64, bool, nil),
// which is what the schema validates. It reads YAML as the compiler's front
// end does: one document only, merge keys (<<) applied with explicit keys
// winning, duplicate keys and unknown tags rejected, timestamps kept as the
// strings they are written as (every string-like scalar is an HCL template,
// never a date). An empty document is an empty project, as an empty
// apphost.hcl is.
func yamlToValue(src []byte) (any, error) {
	dec := yaml.NewDecoder(bytes.NewReader(src))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return map[string]any{}, nil
		}
		return nil, fmt.Errorf("parse yaml: %w", err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("parse yaml: more than one document (or %v)", err)
	}
	if len(doc.Content) == 0 {
		return map[string]any{}, nil
	}
	return nodeValue(doc.Content[0], 0)
}

// maxYAMLDepth bounds alias expansion so a hostile file cannot recurse forever.
const maxYAMLDepth = 64

func nodeValue(n *yaml.Node, depth int) (any, error) {
	if depth > maxYAMLDepth {
		return nil, fmt.Errorf("line %d: nesting deeper than %d", n.Line, maxYAMLDepth)
	}
	switch n.Kind {
	case yaml.AliasNode:
		return nodeValue(n.Alias, depth+1)
	case yaml.SequenceNode:
		out := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			v, err := nodeValue(c, depth+1)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case yaml.MappingNode:
		return mappingValue(n, depth)
	case yaml.ScalarNode:
		return scalarValue(n)
	}
	return nil, fmt.Errorf("line %d: unsupported YAML node kind %d", n.Line, n.Kind)
}

func mappingValue(n *yaml.Node, depth int) (map[string]any, error) {
	out := make(map[string]any, len(n.Content)/2)
	var merged []map[string]any
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, vn := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
			v, err := nodeValue(vn, depth+1)
			if err != nil {
				return nil, err
			}
			switch v := v.(type) {
			case map[string]any:
				merged = append(merged, v)
			case []any:
				for _, item := range v {
					m, ok := item.(map[string]any)
					if !ok {
						return nil, fmt.Errorf("line %d: merge key (<<) takes mappings", k.Line)
					}
					merged = append(merged, m)
				}
			default:
				return nil, fmt.Errorf("line %d: merge key (<<) takes mappings", k.Line)
			}
			continue
		}
		if k.Kind != yaml.ScalarNode {
			return nil, fmt.Errorf("line %d: mapping key is not a scalar", k.Line)
		}
		if _, dup := out[k.Value]; dup {
			return nil, fmt.Errorf("line %d: duplicate key %q", k.Line, k.Value)
		}
		v, err := nodeValue(vn, depth+1)
		if err != nil {
			return nil, err
		}
		out[k.Value] = v
	}
	for _, m := range merged {
		for k, v := range m {
			if _, ok := out[k]; !ok {
				out[k] = v
			}
		}
	}
	return out, nil
}

func scalarValue(n *yaml.Node) (any, error) {
	switch tag := n.ShortTag(); tag {
	case "!!null":
		return nil, nil
	case "!!bool":
		var b bool
		if err := n.Decode(&b); err != nil {
			return nil, fmt.Errorf("line %d: %w", n.Line, err)
		}
		return b, nil
	case "!!int":
		var i int64
		if err := n.Decode(&i); err != nil {
			return nil, fmt.Errorf("line %d: %w", n.Line, err)
		}
		return i, nil
	case "!!float":
		var f float64
		if err := n.Decode(&f); err != nil {
			return nil, fmt.Errorf("line %d: %w", n.Line, err)
		}
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, fmt.Errorf("line %d: %q is not a finite number", n.Line, n.Value)
		}
		return f, nil
	case "!!str", "!!timestamp":
		return n.Value, nil
	default:
		return nil, fmt.Errorf("line %d: unsupported YAML tag %s", n.Line, tag)
	}
}

// validateYAML parses src and validates it against sch.
func validateYAML(sch *jsonschema.Schema, src []byte) (parseErr, schemaErr error) {
	v, err := yamlToValue(src)
	if err != nil {
		return err, nil
	}
	return nil, sch.Validate(v)
}

// fixtureFiles lists testdata/config/<sub>/*.<ext>. The fixtures live at the
// repository root (shared by the model, docs and schema tests) or, failing
// that, in this package's testdata.
func fixtureFiles(t *testing.T, sub, ext string) []string {
	t.Helper()
	for _, root := range []string{"../../testdata/config", "testdata/config"} {
		files, err := filepath.Glob(filepath.Join(root, sub, "*."+ext))
		if err != nil {
			t.Fatalf("glob fixtures: %v", err)
		}
		if len(files) > 0 {
			sort.Strings(files)
			return files
		}
	}
	t.Fatalf("no testdata/config/%s/*.%s fixtures found", sub, ext)
	return nil
}

// compileErrors compiles src the way `apphostd up` would and returns the
// error diagnostics rendered as text.
func compileErrors(path string, src []byte) (errs []string, hasErrors bool) {
	_, diags := model.Compile(path, src)
	for _, d := range diags.Errs() {
		errs = append(errs, d.Error())
	}
	return errs, diags.HasErrors()
}

func TestSchemaValidFixtures(t *testing.T) {
	sch := loadSchema(t)
	for _, path := range fixtureFiles(t, "valid", "yaml") {
		t.Run(filepath.Base(path), func(t *testing.T) {
			src, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			perr, serr := validateYAML(sch, src)
			if perr != nil {
				t.Fatalf("valid fixture is not parseable YAML: %v", perr)
			}
			if serr != nil {
				t.Errorf("valid fixture fails the schema:\n%v", serr)
			}
			// The schema and the compiler must agree: both accept.
			if errs, bad := compileErrors(path, src); bad {
				t.Errorf("schema accepts it but model.Compile rejects it:\n%s", strings.Join(errs, "\n"))
			}
		})
	}
}

func TestSchemaInvalidFixtures(t *testing.T) {
	sch := loadSchema(t)
	for _, path := range fixtureFiles(t, "invalid", "yaml") {
		t.Run(filepath.Base(path), func(t *testing.T) {
			src, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			marker, err := schemaMarker(src)
			if err != nil {
				t.Fatal(err)
			}
			// Every invalid fixture is an error for the compiler, whatever the schema says.
			if _, bad := compileErrors(path, src); !bad {
				t.Errorf("model.Compile reports no error for an invalid fixture")
			}
			perr, serr := validateYAML(sch, src)
			switch marker {
			case markerSkip:
				if perr == nil {
					t.Errorf("marked `# SCHEMA: skip` but it parses as YAML; mark it `# SCHEMA: invalid` if the schema must reject it, or drop the marker if it must pass")
				}
			case markerInvalid:
				if perr != nil {
					t.Errorf("marked `# SCHEMA: invalid` but it is not parseable YAML (%v); mark it `# SCHEMA: skip`", perr)
				} else if serr == nil {
					t.Errorf("marked `# SCHEMA: invalid` but the schema accepts it; tighten the schema or, if the error is semantic, drop the marker")
				} else if err := schemaErrorAtMarker(src, serr); err != nil {
					t.Errorf("the schema rejects it, but not at the `# ERROR:` line: %v\n%v", err, serr)
				}
			default:
				if perr != nil {
					t.Errorf("not parseable YAML (%v); add the line `# SCHEMA: skip` near the top", perr)
				} else if serr != nil {
					t.Errorf("unmarked invalid fixture fails the schema; if its problem is structural add the line `# SCHEMA: invalid` near the top, else loosen the schema:\n%v", serr)
				}
			}
		})
	}
}

// schemaErrorAtMarker checks that some leaf error of verr points at a
// `# ERROR:` line of src, so a structural fixture fails the schema for the
// reason it was written for. An error points at a line when the line falls
// within the YAML node at its instance location; for an unknown key, at the
// key itself.
func schemaErrorAtMarker(src []byte, verr error) error {
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
	if len(markers) == 0 {
		return errors.New("the fixture has no `# ERROR:` line")
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil || len(doc.Content) == 0 {
		return fmt.Errorf("reparse: %v", err)
	}
	root := doc.Content[0]
	var pointed []string
	var visit func(e *jsonschema.ValidationError) bool
	visit = func(e *jsonschema.ValidationError) bool {
		if len(e.Causes) > 0 {
			for _, c := range e.Causes {
				if visit(c) {
					return true
				}
			}
			return false
		}
		n, key := nodeAt(root, e.InstanceLocation)
		if n == nil {
			return false
		}
		first, last := n.Line, lastLine(n, 0)
		if key != nil {
			first = key.Line
		}
		if ap, ok := e.ErrorKind.(*kind.AdditionalProperties); ok && n.Kind == yaml.MappingNode {
			for _, p := range ap.Properties {
				if k, _ := mappingEntry(n, p); k != nil && markers[k.Line] {
					return true
				}
			}
			pointed = append(pointed, fmt.Sprintf("/%s keys %v", strings.Join(e.InstanceLocation, "/"), ap.Properties))
			return false
		}
		for l := range markers {
			if l >= first && l <= last {
				return true
			}
		}
		pointed = append(pointed, fmt.Sprintf("/%s (lines %d-%d)", strings.Join(e.InstanceLocation, "/"), first, last))
		return false
	}
	if visit(ve) {
		return nil
	}
	return fmt.Errorf("errors point at %s", strings.Join(pointed, ", "))
}

// nodeAt follows a JSON pointer's tokens through a YAML tree and returns
// the node there and, for a mapping entry, its key.
func nodeAt(n *yaml.Node, path []string) (node, key *yaml.Node) {
	for depth, tok := range path {
		for n != nil && n.Kind == yaml.AliasNode && depth < maxYAMLDepth {
			n = n.Alias
		}
		if n == nil {
			return nil, nil
		}
		switch n.Kind {
		case yaml.MappingNode:
			key, n = mappingEntry(n, tok)
		case yaml.SequenceNode:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(n.Content) {
				return nil, nil
			}
			key, n = nil, n.Content[i]
		default:
			return nil, nil
		}
	}
	return n, key
}

// mappingEntry returns the key and value nodes of name in mapping m
// (explicit keys only; merged ones have no line of their own here).
func mappingEntry(m *yaml.Node, name string) (key, value *yaml.Node) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == name {
			return m.Content[i], m.Content[i+1]
		}
	}
	return nil, nil
}

// lastLine is the last line a node's text reaches (approximately: the
// last line of any descendant).
func lastLine(n *yaml.Node, depth int) int {
	last := n.Line
	if depth > maxYAMLDepth || n.Kind == yaml.AliasNode {
		return last
	}
	for _, c := range n.Content {
		if l := lastLine(c, depth+1); l > last {
			last = l
		}
	}
	return last
}

// TestSchemaCases pins the schema's behaviour on small documents, independent
// of the fixtures, so a loosened schema fails here first.
func TestSchemaCases(t *testing.T) {
	sch := loadSchema(t)
	cases := []struct {
		name  string
		src   string
		valid bool
		// strict: the schema rejects what the compiler accepts, on purpose.
		strict bool
	}{
		{"empty document", ``, true, false},
		{"syntax example", syntaxExampleYAML, true, false},
		{"template strings everywhere", `
parameter:
  pw: { secret: true, generate: { length: 32, special: true } }
executable:
  api:
    command: ${parameter.pw.value}
    args: ["--port=${executable.api.endpoint.http.target_port}", "x"]
    env: { DSN: "postgres://u:${parameter.pw.value}@h/db" }
    endpoint: { http: {} }
`, true, false},
		{"volume and bind mounts", `
volume:
  data: {}
  empty:
container:
  db:
    image: postgres:16
    mount:
      - { source: volume.data, target: /var/lib/postgresql/data }
      - { source: ./init, target: /docker-entrypoint-initdb.d, read_only: true }
    endpoint: { tcp: { scheme: tcp, target_port: 5432, port: 15432 } }
    health: { exec: { command: [pg_isready] }, interval: 1s, timeout: 500ms, retries: 5, start_period: 1m30s }
`, true, false},
		{"unknown top-level kind", "service:\n  a: {}\n", false, false},
		{"unknown attribute", "executable:\n  a: { command: x, cmd: y }\n", false, false},
		{"bad resource name", "executable:\n  Api: { command: x }\n", false, false},
		{"name starting with digit", "volume:\n  1data: {}\n", false, false},
		{"missing command", "executable:\n  a: { args: [x] }\n", false, false},
		{"missing image", "container:\n  a: { pull: always }\n", false, false},
		{"container endpoint without target_port", "container:\n  a: { image: x, endpoint: { http: {} } }\n", false, false},
		{"port zero", "executable:\n  a: { command: x, endpoint: { http: { port: 0 } } }\n", false, false},
		{"port too large", "executable:\n  a: { command: x, endpoint: { http: { target_port: 65536 } } }\n", false, false},
		// The compiler converts a quoted number; editors should still flag it.
		{"port as string", "executable:\n  a: { command: x, endpoint: { http: { port: \"8080\" } } }\n", false, true},
		{"replicas zero", "executable:\n  a: { command: x, replicas: 0 }\n", false, false},
		{"bad restart", "executable:\n  a: { command: x, restart: sometimes }\n", false, false},
		{"bad pull", "container:\n  a: { image: x, pull: maybe }\n", false, false},
		{"bad network", "container:\n  a: { image: x, network: none }\n", false, false},
		{"relative mount target", "container:\n  a: { image: x, mount: [{ source: ./d, target: data }] }\n", false, false},
		{"mount without target", "container:\n  a: { image: x, mount: [{ source: ./d }] }\n", false, false},
		{"two probes", "executable:\n  a: { command: x, health: { http: {}, tcp: {} } }\n", false, false},
		{"no probe", "executable:\n  a: { command: x, health: { interval: 5s } }\n", false, false},
		{"bad duration", "executable:\n  a: { command: x, health: { tcp: {}, interval: 5 } }\n", false, false},
		{"duration without unit", "executable:\n  a: { command: x, backoff: { initial: \"10\" } }\n", false, false},
		{"negative duration", "executable:\n  a: { command: x, backoff: { max: -1s } }\n", false, false},
		{"bad status", "executable:\n  a: { command: x, health: { http: { status: \"2xx\" } } }\n", false, false},
		{"status range", "executable:\n  a: { command: x, endpoint: { http: {} }, health: { http: { status: \"200-204\" } } }\n", true, false},
		{"exec probe without command", "container:\n  a: { image: x, health: { exec: {} } }\n", false, false},
		{"reference as template", "executable:\n  a: { command: x, references: [\"${container.c}\"] }\n", false, false},
		{"bad env name", "executable:\n  a: { command: x, env: { \"A-B\": y } }\n", false, false},
		{"all character classes off", "parameter:\n  p: { generate: { lower: false, upper: false, numeric: false } }\n", false, false},
		{"only special characters", "parameter:\n  p: { generate: { lower: false, upper: false, numeric: false, special: true } }\n", true, false},
		{"generate length zero", "parameter:\n  p: { generate: { length: 0 } }\n", false, false},
		{"volume with attributes", "volume:\n  v: { path: /x }\n", false, false},
		{"scalars as strings", "executable:\n  a: { command: x, args: [1, true], env: { PORT: 8080, DEBUG: true }, labels: { tier: 1 } }\n", true, false},
		{"status as number", "executable:\n  a: { command: x, endpoint: { http: {} }, health: { http: { status: 204 } } }\n", true, false},
		{"status number out of range", "executable:\n  a: { command: x, health: { http: { status: 99 } } }\n", false, false},
		{"empty bodies as null", "parameter:\n  p:\n    generate:\nvolume:\n  v:\nexecutable:\n  a:\n    command: x\n    endpoint:\n      http:\n    backoff:\n    health:\n      tcp:\ncontainer:\n", true, false},
		{"null health", "executable:\n  a:\n    command: x\n    health:\n", false, false},
		{"null command", "executable:\n  a:\n    command:\n", false, false},
		{"merge keys", "executable:\n  a: &base { command: x, restart: always }\n  b: { <<: *base, replicas: 2 }\n", true, false},
		{"merge keys bring a bad key", "executable:\n  a: &base { command: x }\n  b: { <<: *base, bogus: 1 }\n", false, false},
		{"referenced in structural string", "container:\n  a: { image: x, mount: [{ source: ./d, target: \"/${parameter.p.value}\" }] }\n", false, false},
		{"escaped template in constant", "executable:\n  a: { command: x, labels: { l: \"$${x}\" } }\n", true, false},
		{"bad stop signal", "container:\n  a: { image: x, stop_signal: TERM }\n", false, false},
		{"zero interval", "executable:\n  a: { command: x, health: { tcp: {}, interval: 0s } }\n", false, false},
		{"zero start period", "executable:\n  a: { command: x, endpoint: { t: {} }, health: { tcp: {}, start_period: 0s } }\n", true, false},
		{"default and generate", "parameter:\n  p: { default: x, generate: {} }\n", false, false},
		{"generate too long", "parameter:\n  p: { generate: { length: 5000 } }\n", false, false},
		{"numeric mount source", "container:\n  a: { image: x, mount: [{ source: 5, target: /x }] }\n", false, false},
		{"list as string", "executable:\n  a: { command: x, args: \"a b\" }\n", false, false},
		{"env as list", "executable:\n  a: { command: x, env: [A=b] }\n", false, false},
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
			// The schema agrees with the compiler, except where it is
			// deliberately stricter.
			_, diags := model.Compile("case.yaml", []byte(tc.src))
			if want := tc.valid || tc.strict; diags.HasErrors() == want {
				t.Errorf("model.Compile disagrees (want ok=%v): %v", want, diags)
			}
		})
	}
}

// syntaxExampleYAML is the YAML example of notes/SYNTAX.md, verbatim.
const syntaxExampleYAML = `
parameter:
  greeting:
    default: hello
container:
  cache:
    image: docker.io/library/redis:7
    endpoint:
      tcp: { target_port: 6379 }
    health:
      tcp: { endpoint: tcp }
executable:
  api:
    command: go
    args: [run, ./cmd/api]
    dir: services/api
    endpoint:
      http: { env: PORT }
    env:
      REDIS_ADDR: ${container.cache.endpoint.tcp.host_port}
      GREETING: ${parameter.greeting.value}, world
    references: [container.cache]
    wait_for: [container.cache]
    health:
      http: { path: /healthz }
`

// TestSchemaClosed enforces `additionalProperties: false` on every object
// schema, so a typo in a key is always reported.
func TestSchemaClosed(t *testing.T) {
	raw, err := os.ReadFile(schemaPath)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("parse schema: %v", err)
	}
	if got := doc["$schema"]; got != "https://json-schema.org/draft/2020-12/schema" {
		t.Errorf("$schema = %v, want draft 2020-12", got)
	}
	var open []string
	var walk func(ptr string, v any)
	walk = func(ptr string, v any) {
		switch v := v.(type) {
		case map[string]any:
			_, props := v["properties"]
			_, pats := v["patternProperties"]
			if props || pats {
				if ap, ok := v["additionalProperties"]; !ok || ap != false {
					open = append(open, ptr)
				}
			}
			for k, c := range v {
				if k == "not" {
					// Closing a negated schema would invert its meaning.
					continue
				}
				walk(ptr+"/"+k, c)
			}
		case []any:
			for i, c := range v {
				walk(fmt.Sprintf("%s/%d", ptr, i), c)
			}
		}
	}
	walk("#", doc)
	sort.Strings(open)
	if len(open) > 0 {
		t.Errorf("object schemas without additionalProperties: false:\n%s", strings.Join(open, "\n"))
	}
}

// TestSchemaYAMLReader pins the YAML reading rules the schema tests share
// with the compiler's front end.
func TestSchemaYAMLReader(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		ok        bool
	}{
		{"empty", "", true},
		{"comment only", "# nothing\n", true},
		{"two documents", "volume: {}\n---\nvolume: {}\n", false},
		{"duplicate key", "volume:\n  a: {}\n  a: {}\n", false},
		{"custom tag", "executable:\n  a: { command: !env HOME }\n", false},
		{"not a number", "x: .nan\n", false},
		{"complex key", "? [a]\n: b\n", false},
		{"broken", "executable: [\n", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := yamlToValue([]byte(tc.src))
			if tc.ok && err != nil {
				t.Errorf("yamlToValue: %v", err)
			}
			if !tc.ok && err == nil {
				t.Errorf("yamlToValue accepted it")
			}
		})
	}
	v, err := yamlToValue([]byte("a: &x { p: 1, q: 2 }\nb: { <<: *x, q: 3, t: 2024-01-02 }\n"))
	if err != nil {
		t.Fatal(err)
	}
	b := v.(map[string]any)["b"].(map[string]any)
	if b["p"] != int64(1) || b["q"] != int64(3) || b["t"] != "2024-01-02" {
		t.Errorf("merge or scalars wrong: %#v", b)
	}
}

// TestSchemaAttributesKnownToCompiler sets every attribute and block the
// schema defines, one at a time, in a minimal document, and checks that
// model.Compile knows it: no "Unsupported argument" or "Unsupported block
// type" for it. Other errors (a missing command, a null value) are expected
// and ignored. This catches a schema that runs ahead of the compiler.
func TestSchemaAttributesKnownToCompiler(t *testing.T) {
	n := walkSchema(t)
	for _, p := range n.places {
		var v any // null: the front end still checks the name
		if p.block {
			v = map[string]any{}
		}
		src, err := yaml.Marshal(p.doc(v))
		if err != nil {
			t.Fatal(err)
		}
		_, diags := model.Compile("probe.yaml", src)
		for _, d := range diags {
			if strings.HasPrefix(d.Summary, "Unsupported") {
				t.Errorf("%s: the schema defines it, the compiler does not: %s: %s\n%s", p.path, d.Summary, d.Detail, src)
			}
		}
	}
	if len(n.places) < 40 {
		t.Errorf("walked only %d places in the schema", len(n.places))
	}
}
