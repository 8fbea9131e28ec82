package integrations_test

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/apphostd/apphostd/pkg/discovery"
	"github.com/apphostd/apphostd/pkg/model"
)

// fakePorts hands out ports from 20000 up; the contract under test is the
// integrations' expressions, not port allocation.
type fakePorts struct {
	next int
	keys map[string]int
}

func (f *fakePorts) Allocate(key string) (int, error) {
	if p, ok := f.keys[key]; ok {
		return p, nil
	}
	f.next++
	f.keys[key] = 20000 + f.next
	return f.keys[key], nil
}

func (f *fakePorts) Reserve(key string, port int) error {
	f.keys[key] = port
	return nil
}

// resolve compiles src and resolves it the way the daemon does, with real
// secret generation in a temporary secrets file.
func resolve(t *testing.T, src string, env map[string]string) (*model.Graph, *discovery.Result) {
	t.Helper()
	g, diags := model.Compile("apphost.hcl", []byte(src))
	if diags.HasErrors() {
		t.Fatalf("compile: %s", diags.Error())
	}
	dir := t.TempDir()
	secrets, err := discovery.LoadSecrets(filepath.Join(dir, "secrets.json"))
	if err != nil {
		t.Fatal(err)
	}
	res := discovery.Resolve(discovery.Input{
		Graph: g, ProjectDir: dir, ProjectID: "test", VolumeDir: filepath.Join(dir, ".apphost", "volumes"),
		LogDir: filepath.Join(dir, ".apphost", "logs"), Ports: &fakePorts{keys: map[string]int{}}, Secrets: secrets,
		LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok },
		BaseEnv:   []string{"PATH=/usr/bin:/bin"},
	})
	return g, res
}

func envOf(t *testing.T, res *discovery.Result, name string) map[string]string {
	t.Helper()
	rr := res.Resources[name]
	if rr == nil {
		t.Fatalf("no resource %s", name)
	}
	if rr.Wait != "" || rr.Fail != "" {
		t.Fatalf("%s: wait %q fail %q", name, rr.Wait, rr.Fail)
	}
	return rr.Env
}

// TestEveryKindResolves: with generated passwords, every integration's
// server and databases resolve (nothing Waiting), and a host consumer that
// references them gets every attribute the kind exposes, free of unknowns.
func TestEveryKindResolves(t *testing.T) {
	src := `
postgres "pg" {
  database "pgdb" {}
}
postgres "pgx" {
  runtime = "executable"
  database "pgxdb" {}
}
redis "rd" {}
redis "rdx" {
  runtime = "executable"
}
rabbitmq "mq" {
  management = true
}
kafka "kf" {}
mysql "my" {
  database "mydb" {}
}
mongodb "mg" {
  database "mgdb" {}
}
nats "nt" {}
executable "consumer" {
  command    = "./c"
  references = [postgres.pg, postgres_database.pgdb, postgres.pgx, postgres_database.pgxdb, redis.rd, redis.rdx,
                rabbitmq.mq, kafka.kf, mysql.my, mysql_database.mydb, mongodb.mg, mongodb_database.mgdb, nats.nt]
}
`
	g, res := resolve(t, src, nil)
	for _, name := range g.Order {
		if rr := res.Resources[name]; rr.Wait != "" || rr.Fail != "" {
			t.Errorf("%s: wait %q fail %q", name, rr.Wait, rr.Fail)
		}
	}
	env := envOf(t, res, "consumer")
	for _, ref := range g.Resources["consumer"].References {
		r := g.Resources[ref.Name]
		prefix := discovery.EnvPrefix(ref.Name)
		cs := env["ConnectionStrings__"+ref.Name]
		if cs == "" || strings.Contains(cs, "127.0.0.1:0") {
			t.Errorf("%s: ConnectionStrings__%s = %q", r.Kind, ref.Name, cs)
		}
		if env[prefix+"_HOST"] != "127.0.0.1" || env[prefix+"_PORT"] == "" {
			t.Errorf("%s: %s_HOST=%q %s_PORT=%q", r.Kind, prefix, env[prefix+"_HOST"], prefix, env[prefix+"_PORT"])
		}
		if _, hasPW := r.Attributes["password"]; hasPW {
			pw := env[prefix+"_PASSWORD"]
			if len(pw) != 22 || !strings.Contains(cs, pw) {
				t.Errorf("%s: password %q not in connection string %q", r.Kind, pw, cs)
			}
			masked := res.Mask(cs)
			if strings.Contains(masked, pw) || !strings.Contains(masked, "********") {
				t.Errorf("%s: Mask(%q) = %q", r.Kind, cs, masked)
			}
		}
	}
	// Passwords are secret parameters, one per server, and stable: a
	// second resolution with the same secrets file would reuse them (the
	// Secrets type's contract); here they must at least all differ.
	seen := map[string]string{}
	for _, name := range g.Order {
		if r := g.Resources[name]; r.BaseKind == model.KindParameter {
			v := res.Resources[name].Value
			if prev, dup := seen[v]; dup {
				t.Errorf("%s and %s got the same generated password", prev, name)
			}
			seen[v] = name
		}
	}
	if len(seen) != 8 {
		t.Errorf("%d password parameters, want 8 (one per server; kafka has none)", len(seen))
	}
}

// TestContainerViews: a containerised server's attributes are
// 127.0.0.1:published-port for host consumers and NAME:container-port for
// consumers on the bridge; its database resource reaches the server by
// name, and kafka advertises the published port it listens on.
func TestContainerViews(t *testing.T) {
	g, res := resolve(t, `
postgres "db" {
  port = 15432
  database "appdata" {}
}
kafka "events" {}
executable "host_app" {
  command    = "./app"
  references = [postgres_database.appdata, kafka.events]
}
container "bridge_app" {
  image      = "example/app:1"
  references = [postgres_database.appdata, kafka.events]
}
`, nil)
	pw := res.Resources["db-password"].Value
	hostEnv := envOf(t, res, "host_app")
	bridgeEnv := envOf(t, res, "bridge_app")
	if want := fmt.Sprintf("postgresql://postgres:%s@127.0.0.1:15432/appdata", pw); hostEnv["ConnectionStrings__appdata"] != want {
		t.Errorf("host consumer: %q, want %q", hostEnv["ConnectionStrings__appdata"], want)
	}
	if want := fmt.Sprintf("postgresql://postgres:%s@db:5432/appdata", pw); bridgeEnv["ConnectionStrings__appdata"] != want {
		t.Errorf("bridge consumer: %q, want %q", bridgeEnv["ConnectionStrings__appdata"], want)
	}
	dbJob := envOf(t, res, "appdata")
	if dbJob["PGHOST"] != "db" || dbJob["PGPORT"] != "5432" || dbJob["PGPASSWORD"] != pw || dbJob["APPHOST_DATABASE"] != "appdata" {
		t.Errorf("database job env: %v", dbJob)
	}
	inst := res.Resources["appdata"].Instances[0].Spec
	if inst.Image != "docker.io/library/postgres:17" || len(inst.Entrypoint) < 3 || inst.Entrypoint[0] != "/bin/sh" {
		t.Errorf("database job spec: image %q entrypoint %q", inst.Image, inst.Entrypoint)
	}
	if got := g.Resources["appdata"].WaitFor; len(got) != 1 || got[0].Name != "db" {
		t.Errorf("database job waits for %v, want db", got)
	}

	kf := res.Resources["events"]
	port := kf.Endpoints[0].Port
	if kf.Endpoints[0].TargetPort != port {
		t.Errorf("kafka listens on %d but is published on %d", kf.Endpoints[0].TargetPort, port)
	}
	kenv := envOf(t, res, "events")
	if want := fmt.Sprintf("PLAINTEXT://127.0.0.1:%d", port); kenv["KAFKA_ADVERTISED_LISTENERS"] != want {
		t.Errorf("advertised %q, want %q", kenv["KAFKA_ADVERTISED_LISTENERS"], want)
	}
	if want := fmt.Sprintf("127.0.0.1:%d", port); hostEnv["ConnectionStrings__events"] != want {
		t.Errorf("kafka bootstrap for host: %q, want %q", hostEnv["ConnectionStrings__events"], want)
	}
	spec := res.Resources["db"].Instances[0].Spec
	var mounts []string
	for _, m := range spec.Mounts {
		mounts = append(mounts, m.Target)
	}
	sort.Strings(mounts)
	if len(mounts) != 1 || mounts[0] != "/var/lib/postgresql/data" || !strings.HasSuffix(spec.Mounts[0].Source, filepath.Join("volumes", "db-data")) {
		t.Errorf("db mounts: %+v", spec.Mounts)
	}
}

// TestExecutableModeSpecs: executable-mode servers run /bin/sh with the
// script, the allocated port in the variable the script reads, and the
// password in the environment only, never in argv.
func TestExecutableModeSpecs(t *testing.T) {
	_, res := resolve(t, `
postgres "db" {
  runtime = "executable"
}
redis "cache" {
  runtime = "executable"
  port    = 16379
}
`, nil)
	for name, portVar := range map[string]string{"db": "PGPORT", "cache": "REDIS_PORT"} {
		rr := res.Resources[name]
		spec := rr.Instances[0].Spec
		if spec.Command != "/bin/sh" || len(spec.Args) != 3 || spec.Args[0] != "-c" {
			t.Errorf("%s: command %q args %d", name, spec.Command, len(spec.Args))
		}
		if got := rr.Env[portVar]; got != fmt.Sprint(rr.Endpoints[0].Port) {
			t.Errorf("%s: %s=%q, endpoint port %d", name, portVar, got, rr.Endpoints[0].Port)
		}
		pw := res.Resources[name+"-password"].Value
		for _, a := range append([]string{spec.Command}, spec.Args...) {
			if strings.Contains(a, pw) {
				t.Errorf("%s: the password is on the command line", name)
			}
		}
	}
	if p := res.Resources["cache"].Endpoints[0].Port; p != 16379 {
		t.Errorf("fixed redis port: %d", p)
	}
	if got := res.Resources["db"].Env["APPHOST_VOLUME"]; got != filepath.Join(".apphost", "volumes", "db-data") {
		t.Errorf("APPHOST_VOLUME = %q", got)
	}
}
