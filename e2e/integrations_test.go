package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/apphostd/apphostd/pkg/status"
)

// requireServers fails (under CI=true) or skips the test when the local
// PostgreSQL and Redis binaries the executable-mode integrations run are
// missing. ./scripts/install-integration-deps.sh installs them.
func requireServers(t *testing.T) {
	t.Helper()
	var missing []string
	for _, b := range []string{"redis-server", "redis-cli", "psql"} {
		if _, err := exec.LookPath(b); err != nil {
			missing = append(missing, b)
		}
	}
	_, errInit := exec.LookPath("initdb")
	_, errPG := exec.LookPath("postgres")
	if errInit != nil || errPG != nil {
		debian, _ := filepath.Glob("/usr/lib/postgresql/*/bin/postgres")
		if len(debian) == 0 {
			missing = append(missing, "postgres/initdb")
		}
	}
	if len(missing) == 0 {
		return
	}
	msg := fmt.Sprintf("missing %s: run ./scripts/install-integration-deps.sh as root", strings.Join(missing, ", "))
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// searchable lets the unprivileged user a root daemon runs PostgreSQL as
// reach the project: t.TempDir and its parent are 0700, and
// docs/integrations.md asks for searchable parents.
func searchable(t *testing.T, dir string) {
	t.Helper()
	if os.Geteuid() != 0 {
		return
	}
	for _, d := range []string{dir, filepath.Dir(dir)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

const integrationsProject = `
postgres "db" {
  runtime = "executable"
  database "appdata" {}
}

redis "cache" {
  runtime = "executable"
}

executable "app" {
  command    = "/bin/sh"
  args       = ["-c", "psql \"$ConnectionStrings__appdata\" -c 'select 1' && redis-cli --no-auth-warning -u \"$CACHE_URI\" ping"]
  references = [postgres_database.appdata, redis.cache]
  wait_for   = [postgres_database.appdata, redis.cache]
}
`

// TestIntegrationsExecutableMode runs the end-to-end case: local
// PostgreSQL (with a database) and Redis, and a consumer that connects to
// both with the injected connection string and URI, with real clients.
// Then: secrets never show in ps, describe, graph, API, logs or the
// daemon's log; a down/up keeps the generated passwords and the data.
func TestIntegrationsExecutableMode(t *testing.T) {
	requireServers(t)
	p := newProject(t, integrationsProject)
	searchable(t, p.dir)
	p.mustRun("up", "--wait", "--timeout", "120s")
	p.eventually("app finished", 60*time.Second, func() bool { return p.ps()["app"].State == status.Finished })
	rs := p.ps()
	for _, n := range []string{"db", "appdata", "cache"} {
		if r := rs[n]; r.State != status.Running || r.Health != status.Healthy {
			t.Fatalf("%s: %s/%s (%s)", n, r.State, r.Health, r.Reason)
		}
	}
	logs := p.mustRun("logs", "--tail", "50", "app")
	if !strings.Contains(logs, "(1 row)") || !strings.Contains(logs, "PONG") {
		t.Fatalf("app did not reach both servers:\n%s", logs)
	}

	// The consumer's environment, the Aspire way.
	var env map[string]string
	if code := p.api("GET", "/v1/env?resource=appdata&resource=cache&resource=db", &env); code != 200 {
		t.Fatalf("GET /v1/env: %d", code)
	}
	secrets := readSecrets(t, p)
	pgPW, redisPW := secrets["db-password"], secrets["cache-password"]
	if len(pgPW) != 22 || len(redisPW) != 22 {
		t.Fatalf("generated passwords: %q, %q", pgPW, redisPW)
	}
	dbPort := rs["db"].Endpoints[0].Port
	cachePort := rs["cache"].Endpoints[0].Port
	for k, want := range map[string]string{
		"ConnectionStrings__appdata": fmt.Sprintf("postgresql://postgres:%s@127.0.0.1:%d/appdata", pgPW, dbPort),
		"APPDATA_HOST":               "127.0.0.1",
		"APPDATA_PORT":               fmt.Sprint(dbPort),
		"APPDATA_USERNAME":           "postgres",
		"APPDATA_PASSWORD":           pgPW,
		"APPDATA_DATABASE":           "appdata",
		"ConnectionStrings__db":      fmt.Sprintf("postgresql://postgres:%s@127.0.0.1:%d", pgPW, dbPort),
		"DB_TCP":                     fmt.Sprintf("tcp://127.0.0.1:%d", dbPort),
		"CACHE_URI":                  fmt.Sprintf("redis://default:%s@127.0.0.1:%d", redisPW, cachePort),
		"ConnectionStrings__cache":   fmt.Sprintf("redis://default:%s@127.0.0.1:%d", redisPW, cachePort),
		"CACHE_PASSWORD":             redisPW,
	} {
		if env[k] != want {
			t.Errorf("env %s = %q, want %q", k, env[k], want)
		}
	}

	// PostgreSQL refuses root: a root daemon runs it as another user.
	if os.Geteuid() == 0 {
		if uid := procUID(t, rs["db"].Instances[0].PID); uid == "0" {
			t.Errorf("postgres runs as root")
		}
	}
	// Passwords are on no command line.
	for _, n := range []string{"db", "cache"} {
		cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", rs[n].Instances[0].PID))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(cmdline), pgPW) || strings.Contains(string(cmdline), redisPW) {
			t.Errorf("%s's command line holds a password: %q", n, cmdline)
		}
	}
	assertMasked(t, p, pgPW, redisPW)

	// Data written now must be there after a restart of everything.
	psql(t, env["ConnectionStrings__appdata"], "CREATE TABLE kept (v text); INSERT INTO kept VALUES ('row-1')")
	redisCLI(t, env["CACHE_URI"], "SET", "kept", "value-1")
	oldPIDs := []int{rs["db"].Instances[0].PID, rs["cache"].Instances[0].PID}
	p.mustRun("down")
	for _, pid := range oldPIDs {
		if alive(pid) {
			t.Fatalf("server pid %d survived down", pid)
		}
	}
	p.mustRun("up", "--wait", "--timeout", "120s")
	after := readSecrets(t, p)
	if after["db-password"] != pgPW || after["cache-password"] != redisPW {
		t.Fatalf("passwords changed across restart")
	}
	var env2 map[string]string
	p.api("GET", "/v1/env?resource=appdata&resource=cache", &env2)
	if got := psql(t, env2["ConnectionStrings__appdata"], "SELECT v FROM kept"); got != "row-1" {
		t.Fatalf("row after restart: %q", got)
	}
	if got := redisCLI(t, env2["CACHE_URI"], "GET", "kept"); got != "value-1" {
		t.Fatalf("redis key after restart: %q", got)
	}
}

// TestIntegrationWaitsForPassword: a postgres whose password comes from a
// parameter without a value is not started, and its consumer waits with a
// reason naming the parameter; giving the parameter a value through
// .apphost/parameters and reloading lets both start.
func TestIntegrationWaitsForPassword(t *testing.T) {
	requireServers(t)
	p := newProject(t, `
parameter "pg" {
  env    = "APPHOSTD_E2E_UNSET_PG_PASSWORD"
  secret = true
}

postgres "db" {
  runtime  = "executable"
  password = parameter.pg.value
}

executable "app" {
  command    = "sleep"
  args       = ["300"]
  references = [postgres.db]
}
`)
	searchable(t, p.dir)
	p.mustRun("up", "-d")
	p.eventually("db and app waiting", 20*time.Second, func() bool {
		rs := p.ps()
		return rs["db"].State == status.Waiting && rs["app"].State == status.Waiting
	})
	rs := p.ps()
	for _, n := range []string{"db", "app"} {
		if !strings.Contains(rs[n].Reason, `"pg"`) || !strings.Contains(rs[n].Reason, "APPHOSTD_E2E_UNSET_PG_PASSWORD") {
			t.Errorf("%s waits with reason %q; want it to name parameter pg and its variable", n, rs[n].Reason)
		}
	}
	if err := os.WriteFile(filepath.Join(p.dir, ".apphost", "parameters"), []byte("pg=from-the-file-1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p.mustRun("reload")
	p.eventually("db healthy and app running", 60*time.Second, func() bool {
		rs := p.ps()
		return rs["db"].Ready() && rs["app"].State == status.Running
	})
	var env map[string]string
	p.api("GET", "/v1/env?resource=db", &env)
	if got := psql(t, env["ConnectionStrings__db"], "SELECT current_user"); got != "postgres" {
		t.Fatalf("connect with the parameter's password: %q", got)
	}
	assertMasked(t, p, "from-the-file-1")
}

// TestPostgresRunsAsProjectOwner: a root daemon runs PostgreSQL as the
// owner of the project directory when that is not root, and the data
// belongs to that user.
func TestPostgresRunsAsProjectOwner(t *testing.T) {
	requireServers(t)
	if os.Geteuid() != 0 {
		t.Skip("needs root: checks which user a root daemon runs PostgreSQL as")
	}
	p := newProject(t, `
postgres "db" {
  runtime = "executable"
}
`)
	searchable(t, p.dir)
	const nobody = 65534
	if err := os.Chown(p.dir, nobody, nobody); err != nil {
		t.Fatal(err)
	}
	p.mustRun("up", "--wait", "--timeout", "120s")
	db := p.ps()["db"]
	if uid := procUID(t, db.Instances[0].PID); uid != fmt.Sprint(nobody) {
		t.Fatalf("postgres runs as uid %s, want the project owner %d", uid, nobody)
	}
	fi, err := os.Stat(filepath.Join(p.dir, ".apphost", "volumes", "db-data", "pgdata", "PG_VERSION"))
	if err != nil {
		t.Fatal(err)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); !ok || st.Uid != nobody {
		t.Fatalf("PG_VERSION owner: %+v", fi.Sys())
	}
	var env map[string]string
	p.api("GET", "/v1/env?resource=db", &env)
	if got := psql(t, env["ConnectionStrings__db"], "SELECT 1"); got != "1" {
		t.Fatalf("select 1: %q", got)
	}
}

// TestIntegrationsNonRootDaemon: a daemon that is not root runs both
// servers as itself (no user switch), in a project it owns.
func TestIntegrationsNonRootDaemon(t *testing.T) {
	requireServers(t)
	if os.Geteuid() != 0 {
		t.Skip("needs root to start the daemon as another user")
	}
	p := newProject(t, `
postgres "db" {
  runtime = "executable"
}
redis "cache" {
  runtime = "executable"
}
`)
	searchable(t, p.dir)
	const nobody = 65534
	if err := os.Chown(p.dir, nobody, nobody); err != nil {
		t.Fatal(err)
	}
	// The test binary's directory is private to root; nobody needs a copy.
	binDir := t.TempDir()
	searchable(t, binDir)
	userBin := filepath.Join(binDir, "apphostd")
	b, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(userBin, b, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--", userBin, "up", "--wait", "--timeout", "120s")
	cmd.Dir = p.dir
	cmd.Env = append(os.Environ(), "HOME="+p.dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("up as nobody: %v\n%s", err, out)
	}
	rs := p.ps()
	for _, n := range []string{"db", "cache"} {
		if !rs[n].Ready() {
			t.Fatalf("%s: %s/%s %s", n, rs[n].State, rs[n].Health, rs[n].Reason)
		}
		if uid := procUID(t, rs[n].Instances[0].PID); uid != fmt.Sprint(nobody) {
			t.Errorf("%s runs as uid %s, want %d (the daemon's)", n, uid, nobody)
		}
	}
	var env map[string]string
	p.api("GET", "/v1/env?resource=db&resource=cache", &env)
	if got := psql(t, env["ConnectionStrings__db"], "SELECT 1"); got != "1" {
		t.Fatalf("select 1: %q", got)
	}
	if got := redisCLI(t, env["CACHE_URI"], "PING"); got != "PONG" {
		t.Fatalf("PING: %q", got)
	}
}

// TestAddIntegration: `apphostd add` appends blocks that compile, to HCL
// and YAML projects, and refuses a name that is taken.
func TestAddIntegration(t *testing.T) {
	for _, file := range []string{"apphost.hcl", "apphost.yaml"} {
		t.Run(file, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, file)
			if err := os.WriteFile(path, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			run := func(args ...string) (string, int) {
				cmd := exec.Command(bin, args...)
				cmd.Dir = dir
				out, err := cmd.CombinedOutput()
				code := 0
				if ee, ok := err.(*exec.ExitError); ok {
					code = ee.ExitCode()
				} else if err != nil {
					t.Fatal(err)
				}
				return string(out), code
			}
			for _, args := range [][]string{
				{"add", "postgres", "db", "--runtime", "executable", "--database", "appdata"},
				{"add", "redis", "cache"},
				{"add", "kafka", "events"},
				{"add", "mysql", "sql", "--database", "shop", "--database", "crm"},
			} {
				if out, code := run(args...); code != 0 {
					t.Fatalf("%v: exit %d: %s", args, code, out)
				}
			}
			out, code := run("add", "redis", "db")
			if code == 0 || !strings.Contains(out, `"db"`) || !strings.Contains(out, "already") {
				t.Fatalf("duplicate name: exit %d: %s", code, out)
			}
			out, code = run("validate")
			if code != 0 || !strings.Contains(out, "ok") {
				t.Fatalf("validate after add: exit %d: %s", code, out)
			}
			var g struct {
				Resources []struct{ Name, Kind string } `json:"resources"`
			}
			out, _ = run("graph", "--format", "json")
			if err := json.Unmarshal([]byte(out), &g); err != nil {
				t.Fatalf("graph: %v\n%s", err, out)
			}
			kinds := map[string]string{}
			for _, r := range g.Resources {
				kinds[r.Name] = r.Kind
			}
			for name, kind := range map[string]string{"db": "postgres", "appdata": "postgres_database", "cache": "redis", "events": "kafka", "sql": "mysql", "shop": "mysql_database", "crm": "mysql_database"} {
				if kinds[name] != kind {
					t.Errorf("%s: kind %q, want %q", name, kinds[name], kind)
				}
			}
		})
	}
}

func readSecrets(t *testing.T, p *project) map[string]string {
	t.Helper()
	path := filepath.Join(p.dir, ".apphost", "secrets.json")
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("secrets.json mode %v, want 0600", fi.Mode().Perm())
	}
	b, _ := os.ReadFile(path)
	var m map[string]string
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("secrets.json: %v", err)
	}
	return m
}

// assertMasked checks that no secret appears in anything the daemon shows.
func assertMasked(t *testing.T, p *project, secrets ...string) {
	t.Helper()
	var api []status.Resource
	p.api("GET", "/v1/resources", &api)
	apiJSON, _ := json.Marshal(api)
	views := map[string]string{
		"ps":             p.mustRun("ps", "--json"),
		"graph":          p.mustRun("graph", "--format", "json"),
		"logs":           p.mustRun("logs", "--tail", "all"),
		"GET /resources": string(apiJSON),
	}
	for name := range p.ps() {
		views["describe "+name] = p.mustRun("describe", name)
	}
	if b, err := os.ReadFile(filepath.Join(p.dir, ".apphost", "daemon.log")); err == nil {
		views["daemon.log"] = string(b)
	}
	for view, text := range views {
		for _, s := range secrets {
			if strings.Contains(text, s) {
				t.Errorf("%s shows a secret value", view)
			}
		}
	}
	if d := views["describe db"]; d != "" && !strings.Contains(d, "********") {
		t.Errorf("describe db shows no masked value:\n%s", d)
	}
}

func psql(t *testing.T, conn, sql string) string {
	t.Helper()
	out, err := exec.Command("psql", conn, "-v", "ON_ERROR_STOP=1", "-qAtc", sql).CombinedOutput()
	if err != nil {
		t.Fatalf("psql %q: %v\n%s", sql, err, out)
	}
	return strings.TrimSpace(string(out))
}

func redisCLI(t *testing.T, uri string, args ...string) string {
	t.Helper()
	out, err := exec.Command("redis-cli", append([]string{"--no-auth-warning", "-u", uri}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("redis-cli %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// procUID returns the real UID of a process from /proc/PID/status.
func procUID(t *testing.T, pid int) string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "Uid:"); ok {
			if f := strings.Fields(rest); len(f) > 0 {
				return f[0]
			}
		}
	}
	t.Fatalf("no Uid in /proc/%d/status", pid)
	return ""
}
