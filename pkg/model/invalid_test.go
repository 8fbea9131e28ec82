package model_test

import (
	"bufio"
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"

	"github.com/apphostd/apphostd/pkg/model"
)

// errorMarkers returns, by line, the substrings the fixture's
// `# ERROR: <summary substring>` comments expect.
func errorMarkers(src []byte) map[int][]string {
	out := map[int][]string{}
	sc := bufio.NewScanner(bytes.NewReader(src))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for line := 1; sc.Scan(); line++ {
		if _, want, ok := strings.Cut(sc.Text(), "# ERROR:"); ok {
			out[line] = append(out[line], strings.TrimSpace(want))
		}
	}
	return out
}

// TestInvalidFixtures compiles every file in testdata/config/invalid: each
// `# ERROR:` line must get an error diagnostic there whose summary contains
// the marker's text, and every error must be on a marked line.
func TestInvalidFixtures(t *testing.T) {
	var files []string
	for _, ext := range []string{"hcl", "yaml"} {
		m, err := filepath.Glob(filepath.Join(configDir, "invalid", "*."+ext))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	if len(files) < 32 {
		t.Fatalf("only %d invalid fixtures; want at least 32", len(files))
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			g, src, diags := model.LoadFile(path)
			if g != nil || !diags.HasErrors() {
				t.Fatalf("compiled without errors")
			}
			markers := errorMarkers(src)
			if len(markers) == 0 {
				t.Fatalf("fixture has no `# ERROR:` marker")
			}
			var rendered bytes.Buffer
			_ = model.WriteDiagnostics(&rendered, path, src, diags, false)
			for line, wants := range markers {
				for _, want := range wants {
					if !hasDiag(diags, line, want) {
						t.Errorf("line %d: no error whose summary contains %q; got:\n%s", line, want, rendered.String())
					}
				}
			}
			for _, d := range diags.Errs() {
				hd := d.(*hcl.Diagnostic)
				if hd.Subject == nil {
					t.Errorf("error without a source range: %s", hd.Error())
					continue
				}
				if _, ok := markers[hd.Subject.Start.Line]; !ok {
					t.Errorf("unexpected error on unmarked line %d: %s", hd.Subject.Start.Line, hd.Error())
				}
				if hd.Subject.Filename != path {
					t.Errorf("error names file %q, want %q", hd.Subject.Filename, path)
				}
			}
		})
	}
}

func hasDiag(diags hcl.Diagnostics, line int, want string) bool {
	for _, d := range diags {
		if d.Severity == hcl.DiagError && d.Subject != nil && d.Subject.Start.Line == line && strings.Contains(d.Summary, want) {
			return true
		}
	}
	return false
}
