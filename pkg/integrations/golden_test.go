package integrations_test

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"

	_ "github.com/apphostd/apphostd/pkg/integrations"
	"github.com/apphostd/apphostd/pkg/model"
)

var update = flag.Bool("update", false, "rewrite testdata/valid/*.golden.json from the compiler's output")

// TestGoldenGraphs compiles every fixture pair testdata/valid/X.hcl and
// X.yaml: both must compile cleanly to the same graph, whose JSON
// (model.MarshalGraphJSON) must equal X.golden.json. -update rewrites the
// goldens.
func TestGoldenGraphs(t *testing.T) {
	hclFiles, err := filepath.Glob("testdata/valid/*.hcl")
	if err != nil || len(hclFiles) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	covered := map[string]bool{}
	for _, hclPath := range hclFiles {
		base := strings.TrimSuffix(hclPath, ".hcl")
		t.Run(filepath.Base(base), func(t *testing.T) {
			gh := compileClean(t, hclPath)
			gy := compileClean(t, base+".yaml")
			jh, err := model.MarshalGraphJSON(gh)
			if err != nil {
				t.Fatal(err)
			}
			jy, err := model.MarshalGraphJSON(gy)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(jh, jy) {
				t.Errorf("HCL and YAML compile to different graphs:\n%s", lineDiff(string(jh), string(jy)))
			}
			for _, r := range gh.Resources {
				covered[r.Kind] = true
			}
			golden := base + ".golden.json"
			if *update {
				if err := os.WriteFile(golden, jh, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("read golden (run go test -run TestGoldenGraphs -update): %v", err)
			}
			if !bytes.Equal(jh, want) {
				t.Errorf("graph differs from %s (rerun with -update if intended):\n%s", golden, lineDiff(string(want), string(jh)))
			}
		})
	}
	for _, k := range []string{"postgres", "postgres_database", "redis", "rabbitmq", "kafka", "mysql", "mysql_database", "mongodb", "mongodb_database", "nats"} {
		if !covered[k] {
			t.Errorf("no golden fixture expands kind %s", k)
		}
	}
}

// TestInvalidFixtures compiles testdata/invalid/*: each `# ERROR: text`
// line must carry an error whose summary contains text, and every error
// must be on a marked line.
func TestInvalidFixtures(t *testing.T) {
	files, _ := filepath.Glob("testdata/invalid/*.hcl")
	yamls, _ := filepath.Glob("testdata/invalid/*.yaml")
	files = append(files, yamls...)
	if len(files) == 0 {
		t.Fatal("no invalid fixtures")
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			g, src, diags := model.LoadFile(path)
			if g != nil || !diags.HasErrors() {
				t.Fatal("compiled without errors")
			}
			var rendered bytes.Buffer
			_ = model.WriteDiagnostics(&rendered, path, src, diags, false)
			markers := errorMarkers(src)
			if len(markers) == 0 {
				t.Fatal("fixture has no # ERROR: marker")
			}
			for line, want := range markers {
				if !hasDiag(diags, line, want) {
					t.Errorf("line %d: no error whose summary contains %q; got:\n%s", line, want, rendered.String())
				}
			}
			for _, d := range diags.Errs() {
				hd := d.(*hcl.Diagnostic)
				if hd.Subject == nil {
					t.Errorf("error without a range: %s", hd.Error())
					continue
				}
				if _, ok := markers[hd.Subject.Start.Line]; !ok {
					t.Errorf("unexpected error on line %d: %s", hd.Subject.Start.Line, hd.Error())
				}
			}
		})
	}
}

func compileClean(t *testing.T, path string) *model.Graph {
	t.Helper()
	g, src, diags := model.LoadFile(path)
	if len(diags) > 0 {
		var buf bytes.Buffer
		_ = model.WriteDiagnostics(&buf, path, src, diags, false)
		t.Fatalf("%s: unexpected diagnostics:\n%s", path, buf.String())
	}
	return g
}

func errorMarkers(src []byte) map[int]string {
	out := map[int]string{}
	sc := bufio.NewScanner(bytes.NewReader(src))
	for line := 1; sc.Scan(); line++ {
		if _, want, ok := strings.Cut(sc.Text(), "# ERROR:"); ok {
			out[line] = strings.TrimSpace(want)
		}
	}
	return out
}

func hasDiag(diags hcl.Diagnostics, line int, want string) bool {
	for _, d := range diags {
		if d.Severity == hcl.DiagError && d.Subject != nil && d.Subject.Start.Line == line && strings.Contains(d.Summary, want) {
			return true
		}
	}
	return false
}

func lineDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	var out []string
	for i := 0; (i < len(al) || i < len(bl)) && len(out) < 8; i++ {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y {
			out = append(out, fmt.Sprintf("line %d:\n  - %s\n  + %s", i+1, x, y))
		}
	}
	return strings.Join(out, "\n")
}
