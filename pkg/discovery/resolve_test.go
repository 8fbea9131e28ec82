package discovery

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apphostd/apphostd/pkg/model"
)

// seqPorts hands out 30000, 30001... and honours fixed ports unless told
// they are taken.
type seqPorts struct {
	next  int
	byKey map[string]int
	taken map[int]bool
}

func newSeqPorts() *seqPorts {
	return &seqPorts{next: 30000, byKey: map[string]int{}, taken: map[int]bool{}}
}

func (p *seqPorts) Allocate(key string) (int, error) {
	if v, ok := p.byKey[key]; ok {
		return v, nil
	}
	p.next++
	p.byKey[key] = p.next
	return p.next, nil
}

func (p *seqPorts) Reserve(key string, port int) error {
	if p.taken[port] {
		return fmt.Errorf("port %d is in use", port)
	}
	p.byKey[key] = port
	return nil
}

// projectDir is fixed so that resolutions in one test compare equal.
const projectDir = "/srv/project"

func resolve(t *testing.T, src string, ports Ports, env map[string]string) *Result {
	t.Helper()
	g, diags := model.Compile("apphost.hcl", []byte(src))
	if diags.HasErrors() {
		t.Fatalf("compile: %v", diags)
	}
	dir := t.TempDir()
	sdir := dir
	sec, err := LoadSecrets(filepath.Join(sdir, "secrets.json"))
	if err != nil {
		t.Fatal(err)
	}
	return Resolve(Input{Graph: g, ProjectDir: projectDir, ProjectID: "p", VolumeDir: filepath.Join(projectDir, ".apphost", "volumes"), Ports: ports, Secrets: sec,
		LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }, BaseEnv: []string{"PATH=/usr/bin", "HOME=/root"}})
}

func envOf(t *testing.T, r *Resolved, rep int) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, kv := range r.Instances[rep].Spec.Env {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return m
}

const app = `
parameter "greeting" { default = "hello" }
executable "db" {
  command = "db"
  endpoint "http" { env = "PORT" }
}
executable "my-api" {
  command  = "api"
  args     = ["--db", executable.db.endpoint.http.url]
  replicas = 2
  endpoint "http" { env = "PORT" }
  env = { GREETING = "${parameter.greeting.value}, world" }
  references = [executable.db, parameter.greeting]
}
executable "web" {
  command    = "web"
  references = [executable.my-api]
}
`

func TestAspireEnvConventions(t *testing.T) {
	res := resolve(t, app, newSeqPorts(), nil)
	db, api, web := res.Resources["db"], res.Resources["my-api"], res.Resources["web"]
	if db.Wait != "" || api.Wait != "" || web.Wait != "" {
		t.Fatalf("unexpected waits: %q %q %q", db.Wait, api.Wait, web.Wait)
	}
	dbURL := db.Endpoints[0].URL
	e := envOf(t, api, 0)
	want := map[string]string{
		"DB_HTTP":               dbURL,
		"services__db__http__0": dbURL,
		"GREETING":              "hello, world",
		"GREETING_":             "",
		"OTEL_SERVICE_NAME":     "my-api",
		"PORT":                  fmt.Sprint(api.Endpoints[0].Port),
		"PATH":                  "/usr/bin",
	}
	delete(want, "GREETING_")
	for k, v := range want {
		if e[k] != v {
			t.Errorf("my-api env %s = %q, want %q", k, e[k], v)
		}
	}
	if got := api.Instances[0].Spec.Args; len(got) != 2 || got[1] != dbURL {
		t.Errorf("args = %v, want db url evaluated late", got)
	}
	// Replicas get distinct ports; consumers see every replica.
	if api.Endpoints[0].Port == api.Endpoints[1].Port {
		t.Fatalf("replicas share port %d", api.Endpoints[0].Port)
	}
	if envOf(t, api, 1)["PORT"] != fmt.Sprint(api.Endpoints[1].Port) {
		t.Errorf("replica 1 PORT = %s", envOf(t, api, 1)["PORT"])
	}
	we := envOf(t, web, 0)
	if we["MY_API_HTTP"] != api.Endpoints[0].URL || we["services__my-api__http__1"] != api.Endpoints[1].URL {
		t.Errorf("web env: MY_API_HTTP=%q services__my-api__http__1=%q", we["MY_API_HTTP"], we["services__my-api__http__1"])
	}
	if _, ok := we["DB_HTTP"]; ok {
		t.Error("web got DB_HTTP without referencing db")
	}
	// Inherited variables are not in the hash: same declared env, same hash.
	res2 := resolve(t, app, newSeqPorts(), nil)
	if res2.Resources["web"].Instances[0].Hash != web.Instances[0].Hash {
		t.Error("hash changed between identical resolutions")
	}
}

func TestHashChangesOnlyForAffectedConsumers(t *testing.T) {
	ports := newSeqPorts()
	a := resolve(t, app, ports, nil)
	b := resolve(t, strings.Replace(app, `default = "hello"`, `default = "hi"`, 1), ports, nil)
	if a.Resources["my-api"].Instances[0].Hash == b.Resources["my-api"].Instances[0].Hash {
		t.Error("my-api's injected value changed but its hash did not")
	}
	if a.Resources["web"].Instances[0].Hash != b.Resources["web"].Instances[0].Hash {
		t.Error("web's hash changed though nothing injected into it changed")
	}
	if a.Resources["db"].Instances[0].Hash != b.Resources["db"].Instances[0].Hash {
		t.Error("db's hash changed")
	}
}

func TestParameterSourcesAndSecrets(t *testing.T) {
	src := `
parameter "token" {
  env    = "MY_TOKEN"
  secret = true
}
parameter "pw" {
  generate { length = 16 }
}
parameter "missing" {
  env = "NOPE"
}
executable "a" {
  command = "a"
  env = { T = parameter.token.value, P = parameter.pw.value }
}
executable "b" {
  command = "b"
  env = { M = parameter.missing.value }
}
`
	res := resolve(t, src, newSeqPorts(), map[string]string{"MY_TOKEN": "s3cr3t-value"})
	a := res.Resources["a"]
	e := envOf(t, a, 0)
	if e["T"] != "s3cr3t-value" || len(e["P"]) != 16 {
		t.Fatalf("env T=%q P=%q", e["T"], e["P"])
	}
	if got := res.Mask("token is s3cr3t-value and pw " + e["P"]); strings.Contains(got, "s3cr3t") || strings.Contains(got, e["P"]) {
		t.Errorf("Mask leaked: %q", got)
	}
	if w := res.Resources["b"].Wait; !strings.Contains(w, "missing") || !strings.Contains(w, "NOPE") {
		t.Errorf("b wait reason = %q, want it to name the parameter and its variable", w)
	}
	if w := res.Resources["missing"].Wait; !strings.Contains(w, "$NOPE") {
		t.Errorf("parameter wait reason = %q", w)
	}
}

func TestGeneratedSecretPersists(t *testing.T) {
	dir := t.TempDir()
	g, diags := model.Compile("apphost.hcl", []byte("parameter \"pw\" {\n  generate {\n  }\n}\n"))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	var vals []string
	for i := 0; i < 2; i++ {
		sec, err := LoadSecrets(filepath.Join(dir, "secrets.json"))
		if err != nil {
			t.Fatal(err)
		}
		res := Resolve(Input{Graph: g, ProjectDir: dir, Ports: newSeqPorts(), Secrets: sec, LookupEnv: func(string) (string, bool) { return "", false }, BaseEnv: []string{}})
		vals = append(vals, res.Resources["pw"].Value)
	}
	if vals[0] == "" || vals[0] != vals[1] {
		t.Fatalf("generated values %q and %q, want the same non-empty value", vals[0], vals[1])
	}
}

func TestFixedPortTakenFails(t *testing.T) {
	ports := newSeqPorts()
	ports.taken[8080] = true
	res := resolve(t, `
executable "a" {
  command = "a"
  endpoint "http" {
    port = 8080
    env  = "PORT"
  }
}
executable "b" {
  command = "b"
  endpoint "http" { env = "PORT" }
}`, ports, nil)
	if f := res.Resources["a"].Fail; !strings.Contains(f, "8080") {
		t.Fatalf("a fail = %q, want the port named", f)
	}
	if res.Resources["b"].Fail != "" || len(res.Resources["b"].Instances) != 1 {
		t.Fatal("b affected by a's port conflict")
	}
}

func TestContainerSeesRewrittenAddresses(t *testing.T) {
	res := resolve(t, `
executable "api" {
  command = "api"
  endpoint "http" { env = "PORT" }
}
container "cache" {
  image = "redis"
  endpoint "tcp" {
    scheme      = "tcp"
    target_port = 6379
  }
}
container "worker" {
  image      = "worker"
  references = [executable.api, container.cache]
}
executable "local" {
  command    = "local"
  references = [container.cache]
}`, newSeqPorts(), nil)
	w := res.Resources["worker"]
	e := envOf(t, w, 0)
	api := res.Resources["api"].Endpoints[0]
	if want := fmt.Sprintf("http://%s:%d", HostAlias, api.Port); e["API_HTTP"] != want {
		t.Errorf("container's API_HTTP = %q, want %q", e["API_HTTP"], want)
	}
	if e["CACHE_TCP"] != "tcp://cache:6379" {
		t.Errorf("container's CACHE_TCP = %q, want tcp://cache:6379", e["CACHE_TCP"])
	}
	if _, ok := e["PATH"]; ok {
		t.Error("container inherited the daemon's PATH")
	}
	cache := res.Resources["cache"].Endpoints[0]
	if got := envOf(t, res.Resources["local"], 0)["CACHE_TCP"]; got != fmt.Sprintf("tcp://127.0.0.1:%d", cache.Port) {
		t.Errorf("host process's CACHE_TCP = %q", got)
	}
	if p := res.Resources["cache"].Instances[0].Spec.Ports; len(p) != 1 || p[0].ContainerPort != 6379 || p[0].HostPort != cache.Port || p[0].HostIP != "127.0.0.1" {
		t.Errorf("published ports = %+v", p)
	}
}

func TestEnvPrefix(t *testing.T) {
	for in, want := range map[string]string{"api": "API", "my-api": "MY_API", "a.b_c9": "A_B_C9"} {
		if got := EnvPrefix(in); got != want {
			t.Errorf("EnvPrefix(%q) = %q, want %q", in, got, want)
		}
	}
}
