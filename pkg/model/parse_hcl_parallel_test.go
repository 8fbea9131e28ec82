package model

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

func bigProject(n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "executable \"svc-%d\" {\n  command = \"./bin/svc\"\n  args    = [\"--port\", executable.svc-%d.endpoint.http.target_port]\n", i, i)
		b.WriteString("  endpoint \"http\" {\n    env = \"PORT\"\n  }\n  env = {\n    A = <<EOT\nheredoc text\nEOT\n  }\n")
		if i > 0 {
			fmt.Fprintf(&b, "  wait_for = [executable.svc-%d]\n", i-1)
		}
		b.WriteString("}\n\n")
	}
	return b.String()
}

// The parallel parse must give exactly what the sequential one gives.
func TestParallelParseMatchesSequential(t *testing.T) {
	src := []byte(bigProject(1500))
	if len(src) < parallelMinBytes {
		t.Fatalf("test project too small (%d bytes) to take the parallel path", len(src))
	}
	if _, _, ok := parseHCLParallel("apphost.hcl", src); !ok {
		t.Fatal("parallel path not taken for a well-formed file")
	}
	par, d1 := Compile("apphost.hcl", src)
	parallelParse = false
	seq, d2 := Compile("apphost.hcl", src)
	parallelParse = true
	if d1.HasErrors() || d2.HasErrors() {
		t.Fatalf("diagnostics: %v / %v", d1, d2)
	}
	j1, _ := MarshalGraphJSON(par)
	j2, _ := MarshalGraphJSON(seq)
	if !bytes.Equal(j1, j2) {
		t.Fatal("graphs differ between parallel and sequential parsing")
	}
	last := par.Resources["svc-1499"]
	if last.DeclRange.Start.Line != seq.Resources["svc-1499"].DeclRange.Start.Line || last.DeclRange.Start.Byte != seq.Resources["svc-1499"].DeclRange.Start.Byte {
		t.Fatalf("positions differ: %v vs %v", last.DeclRange, seq.Resources["svc-1499"].DeclRange)
	}
}

// A split inside a construct (here an unterminated block comment that
// swallows later blocks) must fall back to the canonical whole-file parse.
func TestParallelParseFallsBackOnDoubt(t *testing.T) {
	src := bigProject(1500)
	i := strings.Index(src, "executable \"svc-700\"")
	src = src[:i] + "/*\n}\n\n" + src[i:] // comment opened, never closed
	_, diags := Compile("apphost.hcl", []byte(src))
	if !diags.HasErrors() {
		t.Fatal("unterminated comment compiled")
	}
	parallelParse = false
	_, seqDiags := Compile("apphost.hcl", []byte(src))
	parallelParse = true
	if diags.Error() != seqDiags.Error() {
		t.Fatalf("diagnostics differ:\n%v\n---\n%v", diags, seqDiags)
	}
}
