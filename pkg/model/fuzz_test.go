package model_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/apphostd/apphostd/pkg/model"
)

// addSeeds adds every fixture with the given extension to the corpus.
func addSeeds(f *testing.F, ext string) {
	for _, dir := range []string{"valid", "invalid"} {
		files, _ := filepath.Glob(filepath.Join(configDir, dir, "*."+ext))
		for _, p := range files {
			src, err := os.ReadFile(p)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(src)
		}
	}
	if ext == "hcl" {
		f.Add([]byte(testdbHCL))
		f.Add([]byte(evalHCL))
	} else {
		f.Add([]byte(testdbYAML))
	}
}

// checkCompile asserts the compiler's contract on arbitrary input: no
// panic (Compile would turn one into an "Internal error" diagnostic, which
// counts as a failure here), a nil Graph exactly when there are errors, a
// complete Order, and late binding that never panics on missing values.
func checkCompile(t *testing.T, filename string, src []byte) {
	g, diags := model.Compile(filename, src)
	for _, d := range diags {
		if d.Summary == "Internal error" {
			t.Fatalf("internal error: %s", d.Detail)
		}
	}
	if (g == nil) != diags.HasErrors() {
		t.Fatalf("graph nil = %v but HasErrors = %v", g == nil, diags.HasErrors())
	}
	if g == nil {
		return
	}
	if len(g.Order) != len(g.Resources) {
		t.Fatalf("Order has %d names for %d resources", len(g.Order), len(g.Resources))
	}
	pos := map[string]int{}
	for i, n := range g.Order {
		pos[n] = i
	}
	for name, r := range g.Resources {
		for _, d := range r.DependsOn {
			if pos[d] >= pos[name] {
				t.Fatalf("%s comes before its dependency %s", name, d)
			}
		}
		ctx := model.EvalContext(g, nil)
		_, _ = r.Resolve(ctx)
		_, _, _ = r.EvalParameterDefault(ctx)
	}
	if _, err := model.MarshalGraphJSON(g); err != nil {
		t.Fatal(err)
	}
}

func FuzzCompileHCL(f *testing.F) {
	addSeeds(f, "hcl")
	f.Fuzz(func(t *testing.T, src []byte) {
		if quick, exact := model.NestingChecks(src); quick && !exact {
			t.Fatalf("quick nesting scan passed input the exact check rejects")
		}
		checkCompile(t, "apphost.hcl", src)
	})
}

func FuzzCompileYAML(f *testing.F) {
	addSeeds(f, "yaml")
	f.Fuzz(func(t *testing.T, src []byte) { checkCompile(t, "apphost.yaml", src) })
}
