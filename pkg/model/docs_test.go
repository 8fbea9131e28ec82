package model_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/apphostd/apphostd/pkg/model"
)

// referencePath is the user reference of the project file, relative to this package.
const referencePath = "../../docs/reference.md"

// schemaNames are the names the schema defines for the base kinds, found
// by walking it from the root the way a document is read: every property is
// an attribute or, when its value is an object with properties (directly,
// keyed by label, or as sequence items), a block type.
//
// The walk covers the base kinds only (parameter, volume, container,
// executable): integration kinds (postgres, redis, ...) are registered by
// pkg/integrations, which this package's tests do not load, so
// pkg/integrations/schema_test.go checks their part of the schema against
// the compiler and docs/integrations.md. Their top-level names are listed
// in integrationKinds.
type schemaNames struct {
	blocks     map[string]bool
	attributes map[string]bool
	enums      map[string]bool
	// places has one entry per attribute and block position, e.g.
	// container.NAME.health.http.path.
	places []schemaPlace
	// integrationKinds are the top-level properties that are not base kinds.
	integrationKinds []string
}

// baseKinds are the top-level block types the compiler knows without any
// integration registered.
var baseKinds = map[string]bool{
	model.KindParameter: true, model.KindVolume: true, model.KindContainer: true, model.KindExecutable: true,
}

// schemaPlace is one attribute or block position in the schema.
type schemaPlace struct {
	path  string // dotted, with labels as NAME
	name  string
	block bool
	// doc returns a minimal document that sets this attribute (or block) to v.
	doc func(v any) any
}

func walkSchema(t *testing.T) schemaNames {
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
	resolve := func(s any) map[string]any {
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
			next, ok := defs[name].(map[string]any)
			if !ok {
				t.Fatalf("dangling $ref %q", ref)
			}
			m = next
		}
		return m
	}
	// blockBody returns the body schema when s is a block in any of its YAML
	// shapes, or nil when s is an attribute.
	blockBody := func(s map[string]any) map[string]any {
		if _, ok := s["properties"]; ok {
			return s
		}
		if pp, ok := s["patternProperties"].(map[string]any); ok {
			for _, v := range pp {
				if b := resolve(v); b != nil {
					if _, ok := b["properties"]; ok {
						return b
					}
				}
			}
		}
		if items := resolve(s["items"]); items != nil {
			if _, ok := items["properties"]; ok {
				return items
			}
		}
		return nil
	}
	n := schemaNames{blocks: map[string]bool{}, attributes: map[string]bool{}, enums: map[string]bool{}}
	seen := map[string]bool{}
	var walk func(path string, body map[string]any, wrap func(any) any)
	walk = func(path string, body map[string]any, wrap func(any) any) {
		if seen[path] {
			return
		}
		seen[path] = true
		props, _ := body["properties"].(map[string]any)
		names := make([]string, 0, len(props))
		for name := range props {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			if path == "" && !baseKinds[name] {
				n.integrationKinds = append(n.integrationKinds, name)
				continue
			}
			s := resolve(props[name])
			if s == nil {
				t.Fatalf("%s.%s: property schema is not an object", path, name)
			}
			at := func(v any) any { return wrap(map[string]any{name: v}) }
			if b := blockBody(s); b != nil {
				n.blocks[name] = true
				inner, sub := at, path+"."+name
				switch {
				case s["patternProperties"] != nil:
					// labelled: a mapping keyed by name
					inner = func(v any) any { return at(map[string]any{"x": v}) }
					sub += ".NAME"
				case s["items"] != nil:
					inner = func(v any) any { return at([]any{v}) }
				}
				n.places = append(n.places, schemaPlace{path: sub, name: name, block: true, doc: inner})
				walk(sub, b, func(v any) any { return inner(v) })
				continue
			}
			n.attributes[name] = true
			n.places = append(n.places, schemaPlace{path: path + "." + name, name: name, doc: at})
			enum, _ := s["enum"].([]any)
			for _, e := range enum {
				n.enums[fmt.Sprint(e)] = true
			}
		}
	}
	walk("", root, func(v any) any { return v })
	if len(n.blocks) == 0 || len(n.attributes) == 0 {
		t.Fatalf("walking the schema found %d blocks and %d attributes", len(n.blocks), len(n.attributes))
	}
	return n
}

func readReference(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(referencePath)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestDocsCoverSchema fails when a block type, attribute or enum value of
// the schema is missing from docs/reference.md. A block type is documented by
// a heading naming it (“## `mount` block”); an attribute or enum value by
// appearing as `name`.
func TestDocsCoverSchema(t *testing.T) {
	n := walkSchema(t)
	doc := readReference(t)
	headings := map[string]bool{}
	for line := range strings.Lines(doc) {
		if strings.HasPrefix(line, "#") {
			for _, f := range strings.Split(line, "`") {
				headings[f] = true
			}
		}
	}
	check := func(what string, names map[string]bool, ok func(string) bool) {
		var missing []string
		for name := range names {
			if !ok(name) {
				missing = append(missing, name)
			}
		}
		sort.Strings(missing)
		if len(missing) > 0 {
			t.Errorf("%s of the schema not documented in %s: %s", what, referencePath, strings.Join(missing, ", "))
		}
	}
	// Headings put the name in backticks; splitting on "`" leaves it as a field
	// only when it stood alone between them.
	check("block types (need a heading with `name`)", n.blocks, func(s string) bool { return headings[s] })
	backticked := func(s string) bool { return strings.Contains(doc, "`"+s+"`") }
	check("attributes (need `name`)", n.attributes, backticked)
	check("enum values (need `value`)", n.enums, backticked)
	for _, want := range []string{"parameter", "volume", "container", "executable", "health", "http", "tcp", "exec", "mount", "endpoint", "backoff", "generate"} {
		if !n.blocks[want] {
			t.Errorf("schema walk did not find block type %q; the walk or the schema is wrong", want)
		}
	}
	// Integration kinds are documented in docs/integrations.md (checked by
	// pkg/integrations); the reference still names each one.
	for _, k := range n.integrationKinds {
		if !backticked(k) {
			t.Errorf("integration kind %q of the schema is not named in %s", k, referencePath)
		}
	}
}

// TestDocsNamesConventions checks the reference for the facts other
// packages rely on users knowing (DESIGN.md): injected variables, states,
// health values and defaults.
func TestDocsNamesConventions(t *testing.T) {
	doc := readReference(t)
	for _, want := range []string{
		"`services__api__http__0", "`API_HTTP", "`ConnectionStrings__NAME`", "`NAME_HOST`", "`NAME_PORT`",
		"`NAME_USERNAME`", "`NAME_PASSWORD`", "`NAME_URI`", "`OTEL_SERVICE_NAME", "`OTEL_EXPORTER_OTLP_ENDPOINT`",
		"`executable.NAME.endpoint.EP.url`", "`parameter.NAME.value`", "`KIND.NAME.ATTR`",
		"`NotStarted`", "`Waiting`", "`Starting`", "`Running`", "`Stopping`", "`Exited`", "`Finished`",
		"`FailedToStart`", "`RuntimeUnhealthy`", "`Unknown`", "`Healthy`", "`Unhealthy`",
		"`^[a-z][a-z0-9_-]*$`", "## Late binding", "## Durations", "## Restart and backoff",
	} {
		if !strings.Contains(doc, want) {
			t.Errorf("%s does not mention %s", referencePath, want)
		}
	}
	for _, def := range []string{"`interval` `5s`", "`timeout` `2s`", "`retries` `3`", "`start_period` `0s`", "`status` `200-399`"} {
		if !strings.Contains(doc, def) {
			t.Errorf("%s does not state the health default %s", referencePath, def)
		}
	}
}

// fence is one fenced code block of the reference.
type fence struct {
	lang string // info string: "hcl", "yaml", ...
	line int    // line of the opening fence
	body []byte
}

func fences(t *testing.T, doc string) []fence {
	t.Helper()
	var out []fence
	var cur *fence
	sc := bufio.NewScanner(strings.NewReader(doc))
	for ln := 1; sc.Scan(); ln++ {
		line := sc.Text()
		if strings.HasPrefix(line, "```") {
			if cur == nil {
				cur = &fence{lang: strings.TrimSpace(strings.TrimPrefix(line, "```")), line: ln}
			} else {
				out = append(out, *cur)
				cur = nil
			}
			continue
		}
		if cur != nil {
			cur.body = append(cur.body, line+"\n"...)
		}
	}
	if cur != nil {
		t.Fatalf("%s:%d: unterminated code fence", referencePath, cur.line)
	}
	return out
}

// graphSummary reduces a graph to what the HCL and YAML forms of one example
// must agree on.
func graphSummary(g *model.Graph) string {
	var b bytes.Buffer
	for _, name := range g.Order {
		r := g.Resources[name]
		// SpecHash is meant to be independent of the source format, so it
		// covers the launch-relevant rest (commands, images, mounts, env values).
		fmt.Fprintf(&b, "%s %s spec=%s deps=%v endpoints=", r.Kind, r.Name, r.SpecHash, r.DependsOn)
		for _, ep := range r.Endpoints {
			fmt.Fprintf(&b, "%s/%s/%d/%d/%s/%v/%v,", ep.Name, ep.Scheme, ep.Port, ep.TargetPort, ep.Env, ep.Proxy, ep.Socket)
		}
		env := make([]string, 0, len(r.Env))
		for _, e := range r.Env {
			env = append(env, e.Name)
		}
		fmt.Fprintf(&b, " env=%v replicas=%d restart=%+v autostart=%v labels=%v health=%v",
			env, r.Replicas, r.Restart, r.Autostart, r.Labels, healthSummary(r.Health))
		fmt.Fprintf(&b, " profiles=%v on_dep=%s run=%s inputs=%v limits=%+v\n", r.Profiles, r.OnDependencyRestart, r.Run, r.Inputs, limitsSummary(r.Limits))
	}
	return b.String()
}

func limitsSummary(l *model.Limits) string {
	if l == nil {
		return "none"
	}
	return fmt.Sprintf("%d/%g/%d", l.MemoryBytes, l.CPUs, l.PIDs)
}

func healthSummary(h *model.HealthCheck) string {
	if h == nil {
		return "none"
	}
	s := fmt.Sprintf("%v/%v/%d/%v", h.Interval, h.Timeout, h.Retries, h.StartPeriod)
	switch {
	case h.HTTP != nil:
		s += fmt.Sprintf(" http%+v", *h.HTTP)
	case h.TCP != nil:
		s += fmt.Sprintf(" tcp%+v", *h.TCP)
	case h.Exec != nil:
		s += fmt.Sprintf(" exec%+v", *h.Exec)
	}
	return s
}

// TestDocsExamples compiles every `hcl` and `yaml` code block of the
// reference (each is a complete project file), validates the YAML ones
// against the schema, and checks that an HCL block followed by a YAML block
// describe the same graph.
func TestDocsExamples(t *testing.T) {
	sch := loadSchema(t)
	var prev *fence
	var prevGraph *model.Graph
	count := 0
	for _, f := range fences(t, readReference(t)) {
		if f.lang != "hcl" && f.lang != "yaml" {
			prev, prevGraph = nil, nil
			continue
		}
		count++
		where := fmt.Sprintf("%s:%d (%s)", referencePath, f.line, f.lang)
		if f.lang == "yaml" {
			if perr, serr := validateYAML(sch, f.body); perr != nil {
				t.Errorf("%s: not YAML: %v", where, perr)
			} else if serr != nil {
				t.Errorf("%s: fails the schema:\n%v", where, serr)
			}
		}
		g, diags := model.Compile(filepath.Join("docs", "apphost."+f.lang), f.body)
		if diags.HasErrors() {
			t.Errorf("%s: does not compile:\n%s", where, diags.Error())
			prev, prevGraph = nil, nil
			continue
		}
		if prev != nil && prev.lang == "hcl" && f.lang == "yaml" {
			if a, b := graphSummary(prevGraph), graphSummary(g); a != b {
				t.Errorf("%s and the HCL above it (line %d) differ:\nhcl:\n%s\nyaml:\n%s", where, prev.line, a, b)
			}
		}
		fc := f
		prev, prevGraph = &fc, g
	}
	if count < 10 {
		t.Errorf("found %d hcl/yaml examples in %s; want one per block", count, referencePath)
	}
}

// exampleDir holds a complete project in both forms, using every block and
// attribute, for users to copy from.
const exampleDir = "../../examples/reference"

// TestDocsReferenceExample checks examples/reference: both forms compile to
// the same graph, the YAML form passes the schema, and it uses every block
// type and attribute the schema defines.
func TestDocsReferenceExample(t *testing.T) {
	sch := loadSchema(t)
	graphs := map[string]*model.Graph{}
	var yamlSrc []byte
	for _, name := range []string{"apphost.hcl", "apphost.yaml"} {
		path := filepath.Join(exampleDir, name)
		src, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		g, diags := model.Compile(path, src)
		if diags.HasErrors() {
			t.Errorf("%s does not compile:\n%s", path, diags.Error())
			continue
		}
		graphs[name] = g
		if name == "apphost.yaml" {
			yamlSrc = src
		}
	}
	if h, y := graphs["apphost.hcl"], graphs["apphost.yaml"]; h != nil && y != nil {
		if a, b := graphSummary(h), graphSummary(y); a != b {
			t.Errorf("apphost.hcl and apphost.yaml differ:\nhcl:\n%s\nyaml:\n%s", a, b)
		}
	}
	if yamlSrc == nil {
		return
	}
	perr, serr := validateYAML(sch, yamlSrc)
	if perr != nil || serr != nil {
		t.Fatalf("apphost.yaml: parse %v; schema %v", perr, serr)
	}
	v, _ := yamlToValue(yamlSrc)
	keys := map[string]bool{}
	var collect func(v any)
	collect = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, c := range v {
				keys[k] = true
				collect(c)
			}
		case []any:
			for _, c := range v {
				collect(c)
			}
		}
	}
	collect(v)
	n := walkSchema(t)
	var unused []string
	for _, set := range []map[string]bool{n.blocks, n.attributes} {
		for name := range set {
			if !keys[name] {
				unused = append(unused, name)
			}
		}
	}
	sort.Strings(unused)
	if len(unused) > 0 {
		t.Errorf("examples/reference/apphost.yaml does not use: %s", strings.Join(unused, ", "))
	}
}
