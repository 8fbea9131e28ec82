package model_test

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apphostd/apphostd/pkg/model"
)

var update = flag.Bool("update", false, "rewrite testdata/config/valid/*.golden.json from the compiler's output")

const configDir = "../../testdata/config"

// TestValidFixtures compiles every valid fixture pair (X.hcl and X.yaml):
// both must compile without diagnostics to the same graph JSON, which must
// equal X.golden.json, and the same SpecHashes.
func TestValidFixtures(t *testing.T) {
	hclFiles, err := filepath.Glob(filepath.Join(configDir, "valid", "*.hcl"))
	if err != nil || len(hclFiles) == 0 {
		t.Fatalf("no valid fixtures: %v", err)
	}
	yamlFiles, _ := filepath.Glob(filepath.Join(configDir, "valid", "*.yaml"))
	if len(yamlFiles) != len(hclFiles) {
		t.Errorf("%d .hcl fixtures but %d .yaml fixtures; every fixture comes as a pair", len(hclFiles), len(yamlFiles))
	}
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
			for name, r := range gh.Resources {
				if ry := gy.Resources[name]; ry == nil || ry.SpecHash != r.SpecHash {
					t.Errorf("%s: SpecHash differs between HCL and YAML", name)
				}
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
				t.Fatalf("read golden (run go test -run TestValidFixtures -update): %v", err)
			}
			if !bytes.Equal(jh, want) {
				t.Errorf("graph differs from %s (rerun with -update if intended):\n%s", golden, lineDiff(string(want), string(jh)))
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
	if g == nil {
		t.Fatalf("%s: nil graph without diagnostics", path)
	}
	return g
}

// lineDiff shows the first differing lines of two texts.
func lineDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	var out []string
	for i := 0; i < len(al) || i < len(bl); i++ {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y {
			out = append(out, fmt.Sprintf("line %d", i+1)+":\n  - "+x+"\n  + "+y)
			if len(out) >= 8 {
				break
			}
		}
	}
	return strings.Join(out, "\n")
}
