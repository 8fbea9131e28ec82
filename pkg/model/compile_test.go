package model_test

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"

	"github.com/apphostd/apphostd/pkg/model"
)

func TestCycleNamesPathAndEveryReference(t *testing.T) {
	src := `executable "c" {
  command  = "c"
  wait_for = [executable.a]
  endpoint "http" {}
}

executable "a" {
  command    = "a"
  references = [executable.b]
}

executable "b" {
  command = "b"
  env = {
    C = executable.c.endpoint.http.url
  }
}

executable "d" {
  command  = "d"
  wait_for = [executable.d2]
}

executable "d2" {
  command  = "d2"
  wait_for = [executable.d]
}
`
	g, diags := model.Compile("apphost.hcl", []byte(src))
	if g != nil {
		t.Fatal("compiled a cyclic graph")
	}
	if len(diags) != 2 {
		t.Fatalf("want 2 cycle diagnostics (one per cycle), got %d: %v", len(diags), diags)
	}
	d := diags[0]
	if d.Summary != "Dependency cycle" || !strings.Contains(d.Detail, "a -> b -> c -> a") {
		t.Fatalf("first cycle: %s / %s", d.Summary, d.Detail)
	}
	// Every edge of the cycle with its reference's position.
	for _, want := range []string{"a -> b at apphost.hcl:9:17", "b -> c at apphost.hcl:15:9", "c -> a at apphost.hcl:3:15"} {
		if !strings.Contains(d.Detail, want) {
			t.Errorf("detail lacks %q:\n%s", want, d.Detail)
		}
	}
	if d.Subject == nil || d.Subject.Start.Line != 9 {
		t.Errorf("subject = %v, want a's reference on line 9", d.Subject)
	}
	if !strings.Contains(diags[1].Detail, "d -> d2 -> d") {
		t.Errorf("second cycle: %s", diags[1].Detail)
	}
}

func TestOrderIsTopologicalWithNameTies(t *testing.T) {
	src := `
executable "z" { command = "z" }
executable "y" {
  command  = "y"
  wait_for = [executable.z]
}
executable "b" { command = "b" }
executable "a" {
  command  = "a"
  wait_for = [executable.y, executable.b]
}
`
	g := mustCompile(t, "apphost.hcl", src)
	if got := strings.Join(g.Order, " "); got != "b z y a" {
		t.Errorf("Order = %s, want b z y a", got)
	}
}

func TestDuplicateNamesTheEarlierDefinition(t *testing.T) {
	src := "volume \"x\" {}\n\nexecutable \"x\" {\n  command = \"x\"\n}\n"
	_, diags := model.Compile("apphost.hcl", []byte(src))
	if len(diags) != 1 || !strings.Contains(diags[0].Detail, "apphost.hcl:1:1") {
		t.Fatalf("diags = %v", diags)
	}
}

func TestAllDiagnosticsOfAPhase(t *testing.T) {
	src := `
executable "a" {
  command  = "a"
  replicas = 0
}
executable "b" {
  command = "b"
  restart = "sometimes"
}
container "c" {
  image = "x"
  mount {
    source = "./x"
    target = "relative"
  }
}
`
	_, diags := model.Compile("apphost.hcl", []byte(src))
	if len(diags) != 3 {
		t.Fatalf("want 3 diagnostics at once, got %d: %v", len(diags), diags)
	}
}

func TestFileTooLarge(t *testing.T) {
	big := bytes.Repeat([]byte("# padding\n"), model.MaxFileSize/10+1)
	_, diags := model.Compile("apphost.hcl", big)
	if len(diags) != 1 || diags[0].Summary != "File too large" {
		t.Fatalf("Compile: %v", diags)
	}
	path := filepath.Join(t.TempDir(), "apphost.yaml")
	if err := os.WriteFile(path, big, 0o644); err != nil {
		t.Fatal(err)
	}
	g, _, diags := model.LoadFile(path)
	if g != nil || len(diags) != 1 || diags[0].Summary != "File too large" || !strings.Contains(diags[0].Detail, "4 MiB") {
		t.Fatalf("LoadFile: %v", diags)
	}
}

func TestHostileInputsAreBounded(t *testing.T) {
	cases := map[string]struct{ file, src, want string }{
		"brackets":    {"a.hcl", "x = " + strings.Repeat("[", 5000) + strings.Repeat("]", 5000), "Nesting too deep"},
		"unary":       {"a.hcl", "x = " + strings.Repeat("!", 5000) + "true", "Nesting too deep"},
		"ternary":     {"a.hcl", "x = " + strings.Repeat("a ? b : ", 5000) + "c", "Nesting too deep"},
		"splat":       {"a.hcl", "x = a" + strings.Repeat("[*]", 5000), "Nesting too deep"},
		"templates":   {"a.hcl", "x = \"" + strings.Repeat("${\"", 500) + strings.Repeat("\"}", 500) + "\"", "Nesting too deep"},
		"blocks":      {"a.hcl", strings.Repeat("a {\n", 5000) + strings.Repeat("}\n", 5000), "Nesting too deep"},
		"yaml deep":   {"a.yaml", "executable:\n  a:\n    command: x\n    args: " + strings.Repeat("[", 200) + strings.Repeat("]", 200), "YAML nesting too deep"},
		"yaml map":    {"a.yaml", deepYAMLMap(200), "YAML nesting too deep"},
		"yaml tmpl":   {"a.yaml", "executable:\n  a:\n    command: \"" + strings.Repeat("${(", 100) + "1" + strings.Repeat(")}", 100) + "\"", "Nesting too deep"},
		"unknown ext": {"a.toml", "x = 1", "Unsupported file type"},
	}
	for name, c := range cases {
		g, diags := model.Compile(c.file, []byte(c.src))
		if g != nil || !strings.Contains(diags.Error(), c.want) {
			t.Errorf("%s: want %q, got %v", name, c.want, diags)
		}
	}
}

func deepYAMLMap(depth int) string {
	var b strings.Builder
	for i := 0; i < depth; i++ {
		b.WriteString(strings.Repeat(" ", i) + "a:\n")
	}
	return b.String()
}

func TestYAMLAliasBomb(t *testing.T) {
	// Each level refers to the previous one nine times: 9^9 leaves.
	var b strings.Builder
	b.WriteString("executable:\n  a:\n    command: x\n    labels:\n      l0: &l0 [x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i < 9; i++ {
		b.WriteString("      l" + string(rune('0'+i)) + ": &l" + string(rune('0'+i)) + " [")
		for j := 0; j < 9; j++ {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteString("*l" + string(rune('0'+i-1)))
		}
		b.WriteString("]\n")
	}
	defer model.SetMaxYAMLNodes(50000)()
	g, diags := model.Compile("apphost.yaml", []byte(b.String()))
	if g != nil || !strings.Contains(diags.Error(), "YAML document too large") {
		t.Fatalf("got %v", diags)
	}
}

func TestYAMLDiagnosticsPointAtTheNode(t *testing.T) {
	src := "executable:\n  api:\n    command: go\n    env:\n      X: \"${executable.nope.endpoint.http.url}\"\n      Y: ${parameter.missing.value} tail\n"
	_, diags := model.Compile("apphost.yaml", []byte(src))
	if len(diags) != 2 {
		t.Fatalf("diags = %v", diags)
	}
	want := []hcl.Pos{{Line: 5, Column: 13, Byte: 56}, {Line: 6, Column: 12, Byte: 103}}
	for i, d := range diags {
		if d.Subject.Start != want[i] {
			t.Errorf("diag %d at %+v, want %+v (%s)", i, d.Subject.Start, want[i], d.Summary)
		}
	}
	if got := string(diags[0].Subject.SliceBytes([]byte(src))); got != "executable.nope.endpoint.http.url" {
		t.Errorf("subject text = %q", got)
	}
	if got := string(diags[1].Subject.SliceBytes([]byte(src))); got != "parameter.missing.value" {
		t.Errorf("subject text = %q", got)
	}
}

func TestFindProjectFile(t *testing.T) {
	dir := t.TempDir()
	if _, err := model.FindProjectFile(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("empty dir: %v", err)
	}
	for i, name := range []string{"apphost.yml", "apphost.yaml", "apphost.hcl"} {
		if err := os.WriteFile(filepath.Join(dir, name), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := model.FindProjectFile(dir)
		if err != nil || filepath.Base(got) != name {
			t.Fatalf("step %d: got %q, %v; want %s", i, got, err, name)
		}
	}
}

func TestWriteDiagnosticsShowsPositionAndSnippet(t *testing.T) {
	src := []byte("executable \"api\" {\n  command = \"go\"\n  replicas = 0\n}\n")
	_, diags := model.Compile("apphost.hcl", src)
	var buf bytes.Buffer
	if err := model.WriteDiagnostics(&buf, "apphost.hcl", src, diags, false); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{"Error: Invalid replicas", "on apphost.hcl line 3", "replicas = 0"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "\x1b[") {
		t.Error("colour without color=true")
	}
}

func TestEmptyAndCommentOnlyFiles(t *testing.T) {
	for _, f := range []struct{ name, src string }{
		{"apphost.hcl", ""}, {"apphost.yaml", ""}, {"apphost.yaml", "# nothing\n"}, {"apphost.yml", "---\n"},
	} {
		g, diags := model.Compile(f.name, []byte(f.src))
		if g == nil || len(diags) > 0 || len(g.Resources) != 0 || g.Order == nil && len(g.Order) != 0 {
			t.Errorf("%s %q: g=%v diags=%v", f.name, f.src, g, diags)
		}
	}
}

func TestQuickNestingScan(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(configDir, "valid", "*.hcl"))
	for _, p := range files {
		src, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if quick, exact := model.NestingChecks(src); !quick || !exact {
			t.Errorf("%s: quick=%v exact=%v; want both true", p, quick, exact)
		}
	}
	if quick, _ := model.NestingChecks(genProject(100)); !quick {
		t.Error("the benchmark project needs the slow check")
	}
	for _, src := range []string{
		"x = " + strings.Repeat("[", 40) + strings.Repeat("]", 40),
		"x = " + strings.Repeat("!", 40) + "true",
		"x = a" + strings.Repeat("[*]", 40),
		"x = <<EOT\nhello\nEOT\n",
		"x = \"unterminated\n",
		"x = (]",
		"# comment ]]]]\nx = " + strings.Repeat("(", 40) + "1" + strings.Repeat(")", 40),
	} {
		if quick, _ := model.NestingChecks([]byte(src)); quick {
			t.Errorf("quick scan passed %.40q", src)
		}
	}
}
