package model_test

import (
	"strings"
	"testing"

	"github.com/apphostd/apphostd/pkg/model"
)

const hashBase = `
container "cache" {
  image = "redis:7"
  endpoint "tcp" {
    scheme      = "tcp"
    target_port = 6379
  }
}

executable "api" {
  command = "go"
  args    = ["run", "."]
  endpoint "http" {
    env = "PORT"
  }
  env = {
    A = "1"
    B = container.cache.endpoint.tcp.host_port
  }
  labels = {
    x = "1"
    y = "2"
  }
  references = [container.cache]
}
`

func specHashOf(t *testing.T, filename, src, name string) string {
	t.Helper()
	g := mustCompile(t, filename, src)
	return g.Resources[name].SpecHash
}

func TestSpecHashStable(t *testing.T) {
	base := specHashOf(t, "apphost.hcl", hashBase, "api")
	if len(base) != 64 {
		t.Fatalf("SpecHash %q is not a sha256 hex digest", base)
	}
	// Reformatted and reordered; a heredoc for command (which adds a
	// trailing newline, so the comparison base has one too).
	reformatted := `
# comments and layout do not matter
executable "api" {
  labels = { y = "2", x = "1" }
  env = {
    B = "${container.cache.endpoint.tcp.host_port}"
    A = "1"
  }
  references = ["container.cache"]
  endpoint "http" { env = "PORT" }
  args = [
    "run",
    ".",
  ]
  command = <<EOT
go
EOT
  # not launch-relevant:
  wait_for  = [container.cache]
  replicas  = 2
  restart   = "always"
  autostart = false
  health {
    http {}
  }
}
container "cache" {
  endpoint "tcp" {
    target_port = 6379
    scheme      = "tcp"
  }
  image = "redis:7"
}
`
	heredocBase := `
container "cache" {
  image = "redis:7"
  endpoint "tcp" {
    scheme      = "tcp"
    target_port = 6379
  }
}
executable "api" {
  command = "go\n"
  args    = ["run", "."]
  endpoint "http" {
    env = "PORT"
  }
  env = {
    A = "1"
    B = container.cache.endpoint.tcp.host_port
  }
  labels = {
    x = "1"
    y = "2"
  }
  references = [container.cache]
}
`
	if got, want := specHashOf(t, "apphost.hcl", reformatted, "api"), specHashOf(t, "apphost.hcl", heredocBase, "api"); got != want {
		t.Errorf("reformatted file changed SpecHash")
	}
	yamlMirror := `
container:
  cache:
    image: redis:7
    endpoint:
      tcp: { scheme: tcp, target_port: 6379 }
executable:
  api:
    command: go
    args: [run, .]
    endpoint:
      http: { env: PORT }
    env:
      B: ${container.cache.endpoint.tcp.host_port}
      A: "1"
    labels: { y: "2", x: "1" }
    references: [container.cache]
`
	if got := specHashOf(t, "apphost.yaml", yamlMirror, "api"); got != base {
		t.Errorf("YAML mirror has a different SpecHash")
	}
	// Compiling twice gives the same digest (no map-order dependence).
	for i := 0; i < 5; i++ {
		if specHashOf(t, "apphost.hcl", hashBase, "api") != base {
			t.Fatal("SpecHash differs between compilations")
		}
	}
}

func TestSpecHashChanges(t *testing.T) {
	base := specHashOf(t, "apphost.hcl", hashBase, "api")
	edits := map[string][2]string{
		"command":     {`command = "go"`, `command = "go1"`},
		"args":        {`args    = ["run", "."]`, `args    = ["run", "./x"]`},
		"env value":   {`A = "1"`, `A = "2"`},
		"env name":    {`A = "1"`, `C = "1"`},
		"env ref":     {`B = container.cache.endpoint.tcp.host_port`, `B = container.cache.endpoint.tcp.url`},
		"endpoint":    {`env = "PORT"`, `env = "HTTP_PORT"`},
		"labels":      {`y = "2"`, `y = "3"`},
		"references":  {`references = [container.cache]`, `references = []`},
		"fixed port":  {"env = \"PORT\"\n", "env = \"PORT\"\n    port = 8080\n"},
		"proxy":       {"env = \"PORT\"\n", "env = \"PORT\"\n    proxy = true\n"},
		"add env var": {`A = "1"`, "A = \"1\"\n    Z = \"\""},
	}
	for name, e := range edits {
		src := replaceOnce(t, hashBase, e[0], e[1])
		if specHashOf(t, "apphost.hcl", src, "api") == base {
			t.Errorf("%s: SpecHash unchanged", name)
		}
	}
	// The cache's own change does not change api's digest (resolved values
	// are ResolvedSpec.Hash's business).
	src := replaceOnce(t, hashBase, `target_port = 6379`, `target_port = 6380`)
	if specHashOf(t, "apphost.hcl", src, "api") != base {
		t.Error("api SpecHash changed with the cache's declaration")
	}
	if specHashOf(t, "apphost.hcl", src, "cache") == specHashOf(t, "apphost.hcl", hashBase, "cache") {
		t.Error("cache SpecHash unchanged after its target_port changed")
	}
}

func replaceOnce(t *testing.T, s, old, new string) string {
	t.Helper()
	i := strings.Index(s, old)
	if i < 0 {
		t.Fatalf("%q not in source", old)
	}
	return s[:i] + new + s[i+len(old):]
}

func TestResolvedSpecHashSortsMaps(t *testing.T) {
	a := &model.ResolvedSpec{Command: "x", Env: map[string]string{"A": "1", "B": "2", "C": "3"}}
	b := &model.ResolvedSpec{Command: "x", Env: map[string]string{"C": "3", "B": "2", "A": "1"}}
	if a.Hash() != b.Hash() {
		t.Error("Hash depends on map insertion order")
	}
	b.Env["C"] = "4"
	if a.Hash() == b.Hash() {
		t.Error("Hash ignores an env change")
	}
}
