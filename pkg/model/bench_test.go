package model_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/apphostd/apphostd/pkg/model"
)

// genProject writes n executables, each with two endpoints, a health
// check, env referring to the previous few services and a parameter, and
// wait_for on its predecessor: the shape of a large real project.
func genProject(n int) []byte {
	var b strings.Builder
	b.WriteString("parameter \"token\" {\n  secret = true\n  generate {}\n}\n\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "executable \"svc-%d\" {\n", i)
		fmt.Fprintf(&b, "  command = \"./bin/svc\"\n  args    = [\"--name\", \"svc-%d\", \"--port\", executable.svc-%d.endpoint.http.target_port]\n", i, i)
		b.WriteString("  dir     = \"services\"\n")
		b.WriteString("  endpoint \"http\" {\n    env = \"PORT\"\n  }\n")
		b.WriteString("  endpoint \"metrics\" {\n    scheme = \"tcp\"\n  }\n")
		b.WriteString("  env = {\n    TOKEN = parameter.token.value\n")
		for k := 1; k <= 3 && i-k >= 0; k++ {
			fmt.Fprintf(&b, "    PEER_%d = executable.svc-%d.endpoint.http.url\n", k, i-k)
		}
		b.WriteString("  }\n")
		if i > 0 {
			fmt.Fprintf(&b, "  wait_for = [executable.svc-%d]\n", i-1)
		}
		b.WriteString("  restart = \"on-failure\"\n")
		b.WriteString("  health {\n    http {\n      path = \"/healthz\"\n    }\n    interval = \"2s\"\n  }\n")
		b.WriteString("}\n\n")
	}
	return []byte(b.String())
}

func BenchmarkCompile(b *testing.B) {
	for _, n := range []int{100, 1000, 5000} {
		src := genProject(n)
		b.Run(fmt.Sprintf("resources=%d", n), func(b *testing.B) {
			b.SetBytes(int64(len(src)))
			b.ReportAllocs()
			for b.Loop() {
				g, diags := model.Compile("apphost.hcl", src)
				if diags.HasErrors() || len(g.Resources) != n+1 {
					b.Fatalf("compile: %v", diags)
				}
			}
		})
	}
}

func TestGeneratedProjectCompiles(t *testing.T) {
	g := mustCompile(t, "apphost.hcl", string(genProject(50)))
	if len(g.Order) != 51 || g.Order[0] != "svc-0" && g.Order[0] != "token" {
		t.Errorf("Order = %v", g.Order[:3])
	}
}
