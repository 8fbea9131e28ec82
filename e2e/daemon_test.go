package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/apphostd/apphostd/pkg/status"
)

const threeServices = `
parameter "msg" {
  default = "v1"
}
executable "db" {
  command = "SERVER"
  endpoint "http" { env = "PORT" }
  health {
    http { path = "/healthz" }
  }
}
executable "api" {
  command = "SERVER"
  endpoint "http" { env = "PORT" }
  env = { MESSAGE = "api ${parameter.msg.value}" }
  references = [executable.db]
  wait_for   = [executable.db]
  health {
    http { path = "/healthz" }
  }
}
executable "web" {
  command = "SERVER"
  endpoint "http" { env = "PORT" }
  env = { MESSAGE = "web" }
  references = [executable.api]
  wait_for   = [executable.api]
  health {
    http { path = "/healthz" }
  }
}
`

func TestUpWaitInjectsDiscoveryAndDownLeavesNothing(t *testing.T) {
	p := newProject(t, threeServices)
	out := p.mustRun("up", "--wait", "--timeout", "60s")
	if !strings.Contains(out, "ready") {
		t.Fatalf("up --wait output lacks a ready line:\n%s", out)
	}
	rs := p.ps()
	var pgids []int
	for _, n := range []string{"db", "api", "web"} {
		r := rs[n]
		if r.State != status.Running || r.Health != status.Healthy {
			t.Fatalf("%s: %s/%s", n, r.State, r.Health)
		}
		pgids = append(pgids, r.Instances[0].PID)
	}
	// api got db's URL the Aspire way; web got api's.
	var env map[string]string
	resp, err := http.Get(rs["api"].Endpoints[0].URL + "/env")
	if err != nil {
		t.Fatal(err)
	}
	_ = json.NewDecoder(resp.Body).Decode(&env)
	resp.Body.Close()
	dbURL := rs["db"].Endpoints[0].URL
	for k, want := range map[string]string{"DB_HTTP": dbURL, "services__db__http__0": dbURL, "MESSAGE": "api v1", "OTEL_SERVICE_NAME": "api",
		"PORT": fmt.Sprint(rs["api"].Endpoints[0].Port)} {
		if env[k] != want {
			t.Errorf("api env %s = %q, want %q", k, env[k], want)
		}
	}
	// The injected URL works: web → api through services__api__http__0.
	resp, err = http.Get(rs["web"].Endpoints[0].URL + "/get?url=" + rs["api"].Endpoints[0].URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if strings.TrimSpace(string(b)) != "ok" {
		t.Fatalf("web → api: %q", b)
	}
	// A second up does not start a second daemon.
	out, code := p.run("up")
	if code == 0 || !strings.Contains(out, "already running") {
		t.Fatalf("second foreground up: exit %d: %s", code, out)
	}
	out = p.mustRun("up", "-d")
	if !strings.Contains(out, "already running") {
		t.Fatalf("second up -d: %s", out)
	}
	// Logs reach the API.
	logs := p.mustRun("logs", "--tail", "10", "api")
	if !strings.Contains(logs, "server starting: api v1") {
		t.Fatalf("logs: %s", logs)
	}
	p.mustRun("down")
	assertNoGroups(t, pgids)
	if _, code := p.run("ps"); code != 3 {
		t.Fatalf("ps after down: exit %d, want 3 (no daemon)", code)
	}
}

func TestHotReloadRestartsOnlyChanged(t *testing.T) {
	p := newProject(t, threeServices)
	p.mustRun("up", "--wait", "--timeout", "60s")
	before := map[string]int{"db": p.pid("db"), "api": p.pid("api"), "web": p.pid("web")}
	// Change only web's own env.
	p.write(strings.Replace(threeServices, `MESSAGE = "web"`, `MESSAGE = "web v2"`, 1))
	p.eventually("web restarted", 20*time.Second, func() bool {
		r := p.ps()["web"]
		return r.Ready() && len(r.Instances) == 1 && r.Instances[0].PID != before["web"]
	})
	if p.pid("db") != before["db"] || p.pid("api") != before["api"] {
		t.Fatalf("unchanged resources restarted: before %v, now db=%d api=%d", before, p.pid("db"), p.pid("api"))
	}
	// Change the parameter: api's injected value changes, so api restarts;
	// web's injected values (api's URL) do not change, so web keeps its PID.
	webPID := p.pid("web")
	apiPID := p.pid("api")
	p.write(strings.Replace(strings.Replace(threeServices, `MESSAGE = "web"`, `MESSAGE = "web v2"`, 1), `default = "v1"`, `default = "v2"`, 1))
	p.eventually("api restarted", 20*time.Second, func() bool {
		r := p.ps()["api"]
		return r.Ready() && r.Instances[0].PID != apiPID
	})
	time.Sleep(200 * time.Millisecond)
	if p.pid("web") != webPID || p.pid("db") != before["db"] {
		t.Fatal("a resource whose injected values did not change was restarted")
	}
	// Removing a resource stops it; adding one starts it.
	p.write(strings.Replace(strings.Replace(threeServices, `MESSAGE = "web"`, `MESSAGE = "web v2"`, 1), `default = "v1"`, `default = "v2"`, 1) + `
executable "extra" {
  command = "SERVER"
  endpoint "http" { env = "PORT" }
}
`)
	p.eventually("extra running", 20*time.Second, func() bool { return p.ps()["extra"].State == status.Running })
	extra := p.pid("extra")
	p.write(threeServices)
	p.eventually("extra removed", 20*time.Second, func() bool { _, ok := p.ps()["extra"]; return !ok })
	p.eventually("extra's process gone", 10*time.Second, func() bool { return !alive(extra) })
}

func TestBrokenEditKeepsRunningWithDiagnostic(t *testing.T) {
	p := newProject(t, threeServices)
	p.mustRun("up", "--wait", "--timeout", "60s")
	pids := map[string]int{"db": p.pid("db"), "api": p.pid("api"), "web": p.pid("web")}
	broken := strings.Replace(threeServices, `wait_for   = [executable.api]`, `wait_for   = [executable.nope]`, 1)
	p.write(broken)
	var cfg status.ConfigStatus
	p.eventually("config error published", 10*time.Second, func() bool {
		p.api("GET", "/v1/config", &cfg)
		return !cfg.OK
	})
	if len(cfg.Diagnostics) == 0 || cfg.Diagnostics[0].Line == 0 || cfg.Diagnostics[0].Column == 0 {
		t.Fatalf("diagnostic lacks line:col: %+v", cfg.Diagnostics)
	}
	wantLine := strings.Count(broken[:strings.Index(broken, "executable.nope")], "\n") + 1
	if cfg.Diagnostics[0].Line != wantLine {
		t.Fatalf("diagnostic at line %d, want %d", cfg.Diagnostics[0].Line, wantLine)
	}
	if !strings.Contains(cfg.Rendered, "executable.nope") {
		t.Fatalf("rendered diagnostic lacks the snippet:\n%s", cfg.Rendered)
	}
	// A syntax error too.
	p.write(threeServices + "\nexecutable \"x\" {\n")
	p.eventually("syntax error published", 10*time.Second, func() bool {
		p.api("GET", "/v1/config", &cfg)
		return !cfg.OK && strings.Contains(cfg.Rendered, "line")
	})
	for n, pid := range pids {
		if got := p.pid(n); got != pid || !alive(pid) {
			t.Fatalf("%s changed (pid %d → %d) after a broken edit", n, pid, got)
		}
	}
	out, code := p.run("reload")
	if code != 1 {
		t.Fatalf("reload of a broken file: exit %d, want 1\n%s", code, out)
	}
}

func TestCrashLoopBackoffGrowsAndKilledProcessRestarts(t *testing.T) {
	p := newProject(t, `
executable "crasher" {
  command = "sh"
  args    = ["-c", "echo crashing; exit 3"]
  restart = "on-failure"
  backoff {
    initial = "100ms"
    max     = "800ms"
  }
}
executable "steady" {
  command = "SERVER"
  endpoint "http" { env = "PORT" }
  restart = "always"
}
`)
	p.mustRun("up", "-d")
	// Restart times from the event stream: gaps grow.
	var starts []time.Time
	p.eventually("5 restarts", 30*time.Second, func() bool {
		r := p.ps()["crasher"]
		if len(starts) == 0 || r.Restarts > len(starts)-1 {
			starts = append(starts, time.Now())
		}
		return r.Restarts >= 5
	})
	r := p.ps()["crasher"]
	if r.State != status.BackOff && r.State != status.Running && r.State != status.Starting {
		t.Fatalf("crash loop state = %s, want BackOff", r.State)
	}
	if first, last := starts[1].Sub(starts[0]), starts[len(starts)-1].Sub(starts[len(starts)-2]); last <= first {
		t.Errorf("backoff did not grow: first gap %v, last gap %v", first, last)
	}
	// The crash loop did not disturb the steady one; killing it restarts it.
	steady := p.pid("steady")
	if steady == 0 {
		t.Fatal("steady not running")
	}
	kill(t, steady, syscall.SIGKILL)
	p.eventually("steady restarted", 20*time.Second, func() bool {
		r := p.ps()["steady"]
		return r.State == status.Running && r.Instances[0].PID != steady && r.Instances[0].PID != 0
	})
}

func TestCompletionFailureKeepsDependentWaiting(t *testing.T) {
	p := newProject(t, `
executable "migrate" {
  command = "sh"
  args    = ["-c", "echo migration failed >&2; exit 2"]
}
executable "app" {
  command = "SERVER"
  endpoint "http" { env = "PORT" }
  wait_for_completion = [executable.migrate]
}
executable "fine" {
  command = "SERVER"
  endpoint "http" { env = "PORT" }
}
`)
	out, code := p.run("up", "--wait", "--timeout", "30s")
	if code != 5 {
		t.Fatalf("up --wait with a failing job: exit %d, want 5\n%s", code, out)
	}
	if !strings.Contains(out, "migration failed") || !strings.Contains(out, "migrate: Exited") {
		t.Errorf("diagnosis lacks the failed job's state and last log lines:\n%s", out)
	}
	p.eventually("fine running", 10*time.Second, func() bool { return p.ps()["fine"].State == status.Running })
	rs := p.ps()
	if rs["app"].State != status.Waiting || !strings.Contains(rs["app"].Reason, "exited with code 2") {
		t.Errorf("app: %s %q, want Waiting on migrate's exit code", rs["app"].State, rs["app"].Reason)
	}
}

func TestFixedPortTakenFailsOnlyThatResource(t *testing.T) {
	ln, err := netListen()
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	taken := ln.Addr().String()
	port := taken[strings.LastIndexByte(taken, ':')+1:]
	p := newProject(t, fmt.Sprintf(`
executable "fixed" {
  command = "SERVER"
  endpoint "http" {
    env  = "PORT"
    port = %s
  }
}
executable "fine" {
  command = "SERVER"
  endpoint "http" { env = "PORT" }
}
`, port))
	out, code := p.run("up", "--wait", "--timeout", "30s")
	if code != 5 || !strings.Contains(out, port) {
		t.Fatalf("up --wait with a taken fixed port: exit %d, want 5 and the port named\n%s", code, out)
	}
	p.eventually("fine running", 10*time.Second, func() bool { return p.ps()["fine"].State == status.Running })
	if r := p.ps()["fixed"]; r.State != status.FailedToStart || !strings.Contains(r.Reason, port) {
		t.Errorf("fixed: %s %q, want FailedToStart naming port %s", r.State, r.Reason, port)
	}
}

// Ports stay the resources' across a daemon restart, even right after the
// old instances' probe connections left the ports in TIME_WAIT.
func TestPortsStableAcrossRestart(t *testing.T) {
	p := newProject(t, threeServices)
	p.mustRun("up", "--wait", "--timeout", "60s")
	before := map[string]int{}
	for n, r := range p.ps() {
		if len(r.Endpoints) > 0 {
			before[n] = r.Endpoints[0].Port
		}
	}
	p.mustRun("down")
	p.mustRun("up", "--wait", "--timeout", "60s")
	for n, r := range p.ps() {
		if len(r.Endpoints) > 0 && r.Endpoints[0].Port != before[n] {
			t.Errorf("%s: port %d before the restart, %d after", n, before[n], r.Endpoints[0].Port)
		}
	}
}
