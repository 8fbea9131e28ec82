package model_test

import (
	"strings"
	"testing"

	"github.com/apphostd/apphostd/pkg/model"
)

const evalHCL = `
parameter "greeting" {
  default = "hello"
}

parameter "shout" {
  default = upper("${parameter.greeting.value}!")
}

container "cache" {
  image = "redis:${parameter.greeting.value}"
  endpoint "tcp" {
    scheme      = "tcp"
    target_port = 6379
  }
}

executable "api" {
  command = "go"
  args    = ["run", ".", "--port", executable.api.endpoint.http.target_port]
  dir     = "svc"
  endpoint "http" {}
  env = {
    REDIS_ADDR = container.cache.endpoint.tcp.host_port
    REDIS_URL  = container.cache.endpoint.tcp.url
    GREETING   = "${parameter.greeting.value}, world"
    SHOUT      = parameter.shout.value
    JOINED     = join("/", ["a", container.cache.endpoint.tcp.scheme])
    NUM        = format("%05d", container.cache.endpoint.tcp.port)
  }
}
`

func TestResolve(t *testing.T) {
	g := mustCompile(t, "apphost.hcl", evalHCL)
	vals := model.Values{
		"greeting": {Attrs: map[string]string{"value": "hi"}},
		"cache": {Endpoints: map[string]model.EndpointValues{
			"tcp": {Scheme: "tcp", Host: "127.0.0.1", Port: 16379, TargetPort: 6379, URL: "tcp://127.0.0.1:16379"},
		}},
		"api": {Endpoints: map[string]model.EndpointValues{
			"http": {Scheme: "http", Host: "127.0.0.1", Port: 8080, TargetPort: 18080, URL: "http://127.0.0.1:8080"},
		}},
	}
	ctx := model.EvalContext(g, vals)
	v, ok, diags := g.Resources["shout"].EvalParameterDefault(ctx)
	if !ok || diags.HasErrors() || v != "HI!" {
		t.Fatalf("shout default = %q, %v, %v", v, ok, diags)
	}
	vals["shout"] = &model.ResourceValues{Attrs: map[string]string{"value": v}}
	ctx = model.EvalContext(g, vals)

	spec, diags := g.Resources["api"].Resolve(ctx)
	if diags.HasErrors() {
		t.Fatalf("resolve: %s", diags.Error())
	}
	if spec.Command != "go" || spec.Dir != "svc" || strings.Join(spec.Args, " ") != "run . --port 18080" {
		t.Errorf("spec = %+v", spec)
	}
	want := map[string]string{
		"REDIS_ADDR": "127.0.0.1:16379",
		"REDIS_URL":  "tcp://127.0.0.1:16379",
		"GREETING":   "hi, world",
		"SHOUT":      "HI!",
		"JOINED":     "a/tcp",
		"NUM":        "16379",
	}
	for k, w := range want {
		if spec.Env[k] != w {
			t.Errorf("env %s = %q, want %q", k, spec.Env[k], w)
		}
	}
	cspec, diags := g.Resources["cache"].Resolve(ctx)
	if diags.HasErrors() || cspec.Image != "redis:hi" {
		t.Errorf("cache image = %q, %v", cspec.Image, diags)
	}

	// Hash is stable and sensitive.
	again, _ := g.Resources["api"].Resolve(ctx)
	if spec.Hash() != again.Hash() {
		t.Error("Hash differs between identical resolutions")
	}
	vals["cache"].Endpoints["tcp"] = model.EndpointValues{Scheme: "tcp", Host: "127.0.0.1", Port: 16380, TargetPort: 6379, URL: "tcp://127.0.0.1:16380"}
	moved, _ := g.Resources["api"].Resolve(model.EvalContext(g, vals))
	if moved.Hash() == spec.Hash() {
		t.Error("Hash unchanged after the cache's port changed")
	}
}

func TestResolveMissingValues(t *testing.T) {
	g := mustCompile(t, "apphost.hcl", evalHCL)
	// Nothing known yet: every reference is named, nothing panics.
	spec, diags := g.Resources["api"].Resolve(model.EvalContext(g, nil))
	if spec == nil || !diags.HasErrors() {
		t.Fatalf("want diagnostics, got spec=%v diags=%v", spec, diags)
	}
	var text string
	for _, d := range diags {
		text += d.Detail + "\n"
	}
	for _, ref := range []string{
		"container.cache.endpoint.tcp.host_port",
		"parameter.greeting.value",
		"parameter.shout.value",
		"executable.api.endpoint.http.target_port",
	} {
		if !strings.Contains(text, ref) {
			t.Errorf("diagnostics do not name %s:\n%s", ref, text)
		}
	}
	for _, d := range diags {
		if d.Summary != "Value not available" {
			t.Errorf("unexpected diagnostic %q", d.Summary)
		}
		if d.Subject == nil || d.Subject.Start.Line == 0 {
			t.Errorf("diagnostic without a position: %s", d.Error())
		}
	}
	// Partially known: only the missing parameter is reported.
	vals := model.Values{"cache": {Endpoints: map[string]model.EndpointValues{
		"tcp": {Scheme: "tcp", Host: "h", Port: 1, TargetPort: 1, URL: "tcp://h:1"},
	}}}
	_, diags = g.Resources["cache"].Resolve(model.EvalContext(g, vals))
	if len(diags) != 1 || !strings.Contains(diags[0].Detail, "parameter.greeting.value") {
		t.Errorf("cache diags = %v", diags)
	}
	// A parameter without a default.
	g2 := mustCompile(t, "apphost.hcl", "parameter \"p\" {\n  env = \"P\"\n}\n")
	if _, ok, d := g2.Resources["p"].EvalParameterDefault(model.EvalContext(g2, nil)); ok || d.HasErrors() {
		t.Errorf("no default: ok=%v diags=%v", ok, d)
	}
}

func TestResolveDoesNotLeakSecrets(t *testing.T) {
	src := `
parameter "pw" {
  secret = true
}
executable "x" {
  command = "x"
  env = {
    BAD = parameter.pw.value + 1
  }
}
`
	g := mustCompile(t, "apphost.hcl", src)
	vals := model.Values{"pw": {Attrs: map[string]string{"value": "hunter2"}}}
	_, diags := g.Resources["x"].Resolve(model.EvalContext(g, vals))
	if !diags.HasErrors() {
		t.Fatal("want an evaluation error")
	}
	var buf strings.Builder
	_ = model.WriteDiagnostics(&buf, "apphost.hcl", []byte(src), diags, false)
	if strings.Contains(buf.String(), "hunter2") {
		t.Errorf("rendered diagnostics contain the secret:\n%s", buf.String())
	}
}
