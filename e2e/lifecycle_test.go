package e2e

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/apphostd/apphostd/pkg/api"
	"github.com/apphostd/apphostd/pkg/status"
)

// Lifecycle guarantees (docs/daemon.md): subsets and profiles, commands
// that confirm, dependency restart policies, no orphans with cgroups,
// run-once jobs and socket activation, against the built binary and real
// processes.

var (
	sockServerOnce sync.Once
	sockServerPath string
	sockServerErr  error
)

// sockServer builds e2e/testdata/sockserver once.
func sockServer(t *testing.T) string {
	t.Helper()
	sockServerOnce.Do(func() {
		sockServerPath = filepath.Join(filepath.Dir(bin), "sockserver")
		out, err := exec.Command("go", "build", "-o", sockServerPath, "./testdata/sockserver").CombinedOutput()
		if err != nil {
			sockServerErr = fmt.Errorf("build sockserver: %v\n%s", err, out)
		}
	})
	if sockServerErr != nil {
		t.Fatal(sockServerErr)
	}
	return sockServerPath
}

// started reports whether a resource has ever had a process.
func startedEver(r status.Resource) bool {
	return !r.StartedAt.IsZero() || len(r.Instances) > 0
}

const chainProject = `
executable "db" {
  command = "SERVER"
  endpoint "http" { env = "PORT" }
  health {
    http { path = "/healthz" }
  }
}
executable "migrate" {
  command  = "sh"
  args     = ["-c", "echo migrated"]
  wait_for = [executable.db]
}
executable "api" {
  command             = "SERVER"
  endpoint "http" { env = "PORT" }
  env                 = { DB_URL = executable.db.endpoint.http.url }
  wait_for_completion = [executable.migrate]
  health {
    http { path = "/healthz" }
  }
}
executable "web" {
  command    = "SERVER"
  endpoint "http" { env = "PORT" }
  references = [executable.api]
  wait_for   = [executable.api]
}
executable "worker" {
  command = "SERVER"
  endpoint "http" { env = "PORT" }
}
executable "profiler" {
  command  = "SERVER"
  endpoint "http" { env = "PORT" }
  profiles = ["debug"]
}
`

func TestUpSubsetStartsTheChainOnlyAndProfilesStayDown(t *testing.T) {
	p := newProject(t, chainProject)
	p.mustRun("up", "--wait", "--timeout", "60s", "api")
	rs := p.ps()
	if !rs["api"].Ready() || !rs["db"].Ready() || rs["migrate"].State != status.Finished {
		t.Fatalf("api chain: api %s, db %s, migrate %s", rs["api"].State, rs["db"].State, rs["migrate"].State)
	}
	for _, n := range []string{"web", "worker", "profiler"} {
		if startedEver(rs[n]) || rs[n].State != status.NotStarted {
			t.Errorf("%s ran after `up api`: %s %+v", n, rs[n].State, rs[n].Instances)
		}
	}
	// Across a reload the selection holds: an edit adds nothing to it.
	p.write(chainProject + "\n# edited\n")
	time.Sleep(500 * time.Millisecond)
	if r := p.ps()["worker"]; startedEver(r) {
		t.Fatal("a reload started a resource outside the selection")
	}
	// `up web` against the running daemon adds web (api already runs).
	apiPID := p.pid("api")
	p.mustRun("up", "--wait", "--timeout", "60s", "web")
	rs = p.ps()
	if !rs["web"].Ready() || p.pid("api") != apiPID || startedEver(rs["worker"]) {
		t.Fatalf("up web: web %s, api pid %d→%d, worker %s", rs["web"].State, apiPID, p.pid("api"), rs["worker"].State)
	}
	// A plain up widens to the whole project, except the profile.
	p.mustRun("up", "--wait", "--timeout", "60s")
	rs = p.ps()
	if !rs["worker"].Ready() {
		t.Fatalf("plain up: worker %s", rs["worker"].State)
	}
	if r := rs["profiler"]; startedEver(r) || !strings.Contains(r.Reason, `profile "debug"`) {
		t.Fatalf("profiler: %s %q; want down, naming its profile", r.State, r.Reason)
	}
	out := p.mustRun("describe", "profiler")
	if !strings.Contains(out, "Profiles:") || !strings.Contains(out, "debug") {
		t.Errorf("describe does not show profiles:\n%s", out)
	}
	// --profile brings it up.
	p.mustRun("up", "--wait", "--timeout", "60s", "--profile", "debug")
	if r := p.ps()["profiler"]; !r.Ready() {
		t.Fatalf("up --profile debug: profiler %s %q", r.State, r.Reason)
	}
}

func TestProfileGatedDependencyIsAnErrorNamingBoth(t *testing.T) {
	p := newProject(t, `
executable "collector" {
  command  = "SERVER"
  endpoint "http" { env = "PORT" }
  profiles = ["metrics"]
}
executable "reporter" {
  command  = "SERVER"
  endpoint "http" { env = "PORT" }
  wait_for = [executable.collector]
}
`)
	out, code := p.run("up", "-d")
	if code != 1 || !strings.Contains(out, "reporter needs collector (wait_for)") || !strings.Contains(out, `profile "metrics"`) {
		t.Fatalf("up with a resource needing a profiled one: exit %d\n%s", code, out)
	}
	if _, code := p.run("ps"); code != 3 {
		t.Fatalf("a daemon was started anyway (ps exit %d)", code)
	}
	// Naming only the profiled one is fine; start of the other then works.
	p.mustRun("up", "--wait", "--timeout", "60s", "--profile", "metrics", "collector")
	p.mustRun("start", "reporter", "--timeout", "30s")
	if r := p.ps()["reporter"]; !r.Ready() {
		t.Fatalf("reporter %s", r.State)
	}
}

func TestStartOfResourceNeedingStoppedProfiledOneFails(t *testing.T) {
	p := newProject(t, `
executable "base" {
  command = "SERVER"
  endpoint "http" { env = "PORT" }
}
executable "collector" {
  command  = "SERVER"
  endpoint "http" { env = "PORT" }
  profiles = ["metrics"]
}
executable "reporter" {
  command  = "SERVER"
  endpoint "http" { env = "PORT" }
  profiles = ["report"]
  wait_for = [executable.collector]
}
`)
	p.mustRun("up", "--wait", "--timeout", "60s")
	out, code := p.run("start", "reporter", "--timeout", "10s")
	if code != 1 || !strings.Contains(out, "reporter needs collector (wait_for)") || !strings.Contains(out, `profile "metrics"`) {
		t.Fatalf("start reporter: exit %d\n%s", code, out)
	}
	if r := p.ps()["reporter"]; startedEver(r) {
		t.Fatal("reporter started")
	}
}

// slowServer is a server that takes a moment to come up, so a restart
// has a visible window for a second command to arrive in.
const slowServer = `
executable "api" {
  command = "sh"
  args    = ["-c", "sleep 0.4; exec SERVER"]
  endpoint "http" { env = "PORT" }
  health {
    http { path = "/healthz" }
  }
}
`

// starts counts the server's start lines in its log.
func starts(t *testing.T, p *project, id string) int {
	t.Helper()
	b, _ := os.ReadFile(filepath.Join(p.dir, ".apphost", "logs", id+".log"))
	return strings.Count(string(b), "server starting")
}

func TestRestartConfirmsHealthyAndConcurrentRestartsCoalesce(t *testing.T) {
	p := newProject(t, slowServer)
	p.mustRun("up", "--wait", "--timeout", "60s")
	old := p.pid("api")
	out := p.mustRun("restart", "api", "--timeout", "30s")
	// Returned only once the new instance is healthy: the very next look
	// shows a new PID, Running and Healthy.
	r := p.ps()["api"]
	if r.Instances[0].PID == old || r.State != status.Running || r.Health != status.Healthy || !strings.Contains(out, "api: Running, Healthy") {
		t.Fatalf("after restart returned: pid %d (old %d), %s/%s, output %q", r.Instances[0].PID, old, r.State, r.Health, out)
	}
	if alive(old) {
		t.Errorf("old pid %d still alive after restart returned", old)
	}
	if n := starts(t, p, "api"); n != 2 {
		t.Fatalf("%d starts after one restart, want 2", n)
	}

	// Two concurrent restarts: the second arrives while the first is in
	// flight and joins it (docs/daemon.md): one restart, both confirmed.
	var wg sync.WaitGroup
	codes := make([]int, 2)
	outs := make([]string, 2)
	for i := range codes {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			if i == 1 {
				time.Sleep(100 * time.Millisecond) // well inside the first one's 400ms+ start
			}
			outs[i], codes[i] = p.run("restart", "api", "--timeout", "30s")
		}(i)
	}
	wg.Wait()
	for i := range codes {
		if codes[i] != 0 || !strings.Contains(outs[i], "api: Running, Healthy") {
			t.Fatalf("restart %d: exit %d\n%s", i, codes[i], outs[i])
		}
	}
	if n := starts(t, p, "api"); n != 3 {
		t.Fatalf("%d starts after two concurrent restarts, want 3 (they coalesce into one)", n)
	}

	// A stop and a start sent together run one after the other.
	var stopOut, startOut string
	var stopCode, startCode int
	wg.Add(2)
	go func() { defer wg.Done(); stopOut, stopCode = p.run("stop", "api", "--timeout", "30s") }()
	go func() {
		defer wg.Done()
		time.Sleep(50 * time.Millisecond)
		startOut, startCode = p.run("start", "api", "--timeout", "30s")
	}()
	wg.Wait()
	if stopCode != 0 || startCode != 0 || !strings.Contains(startOut, "api: Running, Healthy") {
		t.Fatalf("stop+start: %d %q / %d %q", stopCode, stopOut, startCode, startOut)
	}
	if r := p.ps()["api"]; !r.Ready() {
		t.Fatalf("after stop then start: %s", r.State)
	}
}

func TestCommandTimeoutSaysWhereTheResourceIs(t *testing.T) {
	p := newProject(t, `
executable "gate" {
  command = "sleep"
  args    = ["300"]
  autostart = false
}
executable "api" {
  command  = "SERVER"
  endpoint "http" { env = "PORT" }
  wait_for_completion = [executable.gate]
  autostart = false
}
`)
	p.mustRun("up", "-d")
	out, code := p.run("start", "api", "--timeout", "1s")
	if code != 4 || !strings.Contains(out, "not done after 1s") || !strings.Contains(out, "api is Waiting") || !strings.Contains(out, "waiting for gate") {
		t.Fatalf("start that cannot finish: exit %d, want 4 with the state and reason\n%s", code, out)
	}
}

const depPolicies = `
executable "db" {
  command = "SERVER"
  endpoint "http" { env = "PORT" }
  restart = "always"
  backoff {
    initial = "1500ms"
  }
  health {
    http { path = "/healthz" }
    interval = "200ms"
  }
}
executable "follows" {
  command               = "SERVER"
  endpoint "http" { env = "PORT" }
  wait_for              = [executable.db]
  on_dependency_restart = "restart"
}
executable "waits" {
  command               = "SERVER"
  endpoint "http" { env = "PORT" }
  wait_for              = [executable.db]
  on_dependency_restart = "wait"
}
executable "ignores" {
  command               = "SERVER"
  endpoint "http" { env = "PORT" }
  wait_for              = [executable.db]
  on_dependency_restart = "ignore"
}
`

func TestDependencyRestartPolicies(t *testing.T) {
	p := newProject(t, depPolicies)
	p.mustRun("up", "--wait", "--timeout", "60s")
	pids := map[string]int{}
	for _, n := range []string{"db", "follows", "waits", "ignores"} {
		pids[n] = p.pid(n)
	}
	kill(t, pids["db"], syscall.SIGKILL)
	// While db is down (its 1.5s backoff): nothing is stopped; "waits" and
	// "follows" say why they are degraded; "ignores" says nothing.
	p.eventually("degraded reasons", 10*time.Second, func() bool {
		rs := p.ps()
		return rs["waits"].Reason == "dependency db restarting" &&
			strings.Contains(rs["follows"].Reason, "dependency db restarting; follows restarts when it is ready")
	})
	rs := p.ps()
	for _, n := range []string{"follows", "waits", "ignores"} {
		if rs[n].State != status.Running || p.pid(n) != pids[n] {
			t.Errorf("%s was disturbed while db was down: %s pid %d (was %d)", n, rs[n].State, p.pid(n), pids[n])
		}
	}
	if rs["ignores"].Reason != "" {
		t.Errorf("ignores shows %q", rs["ignores"].Reason)
	}
	out := p.mustRun("describe", "follows")
	if !strings.Contains(out, "restart") || !strings.Contains(out, "On dep. restart") {
		t.Errorf("describe does not show the policy:\n%s", out)
	}
	// db back and healthy: "follows" restarts once, the others keep
	// their process and "waits" is no longer degraded.
	p.eventually("follows restarted", 30*time.Second, func() bool {
		r := p.ps()["follows"]
		return r.Ready() && p.pid("follows") != pids["follows"] && p.pid("follows") != 0
	})
	p.eventually("waits cleared", 10*time.Second, func() bool { return p.ps()["waits"].Reason == "" })
	if p.pid("waits") != pids["waits"] || p.pid("ignores") != pids["ignores"] {
		t.Fatalf("wait/ignore restarted: waits %d→%d ignores %d→%d", pids["waits"], p.pid("waits"), pids["ignores"], p.pid("ignores"))
	}
	time.Sleep(300 * time.Millisecond)
	if n := starts(t, p, "follows"); n != 2 {
		t.Fatalf("follows started %d times, want 2 (one restart)", n)
	}
}

// isolation returns the daemon's containment mode.
func isolation(t *testing.T, p *project) api.Isolation {
	t.Helper()
	var info api.Info
	p.api("GET", "/v1/info", &info)
	if info.Isolation == nil {
		t.Fatal("/v1/info has no isolation")
	}
	return *info.Isolation
}

func TestCgroupStopLeavesNoDescendants(t *testing.T) {
	p := newProject(t, `
executable "forker" {
  command = "sh"
  args    = ["-c", "setsid sh -c 'echo $$ >> pids; sleep 300 & echo $! >> pids; wait' & sleep 300 & echo $! >> pids; wait"]
}
`)
	p.mustRun("up", "-d")
	iso := isolation(t, p)
	out, _ := p.run("doctor") // exits 1 where containerd is missing; the processes line is there either way
	if !strings.Contains(out, "processes") || !strings.Contains(out, iso.Mode) {
		t.Errorf("doctor does not say the mode %q:\n%s", iso.Mode, out)
	}
	if iso.Mode == "process-groups" {
		t.Skipf("no cgroups here: %s", iso.Detail)
	}
	pidFile := filepath.Join(p.dir, "pids")
	var pids []int
	p.eventually("three descendants", 10*time.Second, func() bool {
		b, _ := os.ReadFile(pidFile)
		pids = pids[:0]
		for _, f := range strings.Fields(string(b)) {
			n, _ := strconv.Atoi(f)
			pids = append(pids, n)
		}
		return len(pids) >= 3
	})
	leader := p.pid("forker")
	p.mustRun("stop", "forker", "--timeout", "30s")
	for _, pid := range append(pids, leader) {
		if alive(pid) {
			t.Errorf("pid %d survived stop (cgroup mode %s)", pid, iso.Mode)
		}
	}
}

func TestRunOnceRunsOnceAcrossUpsAndAgainOnInputChange(t *testing.T) {
	p := newProject(t, `
executable "migrate" {
  command = "sh"
  args    = ["-c", "cat schema.sql >> runs.txt"]
  run     = "once"
  inputs  = ["schema.sql"]
}
executable "api" {
  command             = "SERVER"
  endpoint "http" { env = "PORT" }
  wait_for_completion = [executable.migrate]
}
`)
	runs := func() int {
		b, _ := os.ReadFile(filepath.Join(p.dir, "runs.txt"))
		return strings.Count(string(b), "\n")
	}
	if err := os.WriteFile(filepath.Join(p.dir, "schema.sql"), []byte("v1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		p.mustRun("up", "--wait", "--timeout", "60s")
		if r := p.ps()["migrate"]; r.State != status.Finished {
			t.Fatalf("up %d: migrate %s", i+1, r.State)
		}
		p.mustRun("down")
	}
	if n := runs(); n != 1 {
		t.Fatalf("run-once job ran %d times across three ups, want 1", n)
	}
	p.mustRun("up", "--wait", "--timeout", "60s")
	if r := p.ps()["migrate"]; !strings.Contains(r.Reason, `run = "once"`) {
		t.Errorf("skipped job's reason: %q", r.Reason)
	}
	p.mustRun("down")
	if err := os.WriteFile(filepath.Join(p.dir, "schema.sql"), []byte("v2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p.mustRun("up", "--wait", "--timeout", "60s")
	if n := runs(); n != 2 {
		t.Fatalf("after the input changed: %d runs, want 2", n)
	}
	out := p.mustRun("rerun", "migrate", "--timeout", "30s")
	if n := runs(); n != 3 || !strings.Contains(out, "migrate: Finished") {
		t.Fatalf("rerun: %d runs, output %q", n, out)
	}
}

func TestSocketActivatedServerOwnsAPortNobodyCouldTake(t *testing.T) {
	srv := sockServer(t)
	p := newProject(t, strings.ReplaceAll(`
executable "gate" {
  command = "sleep"
  args    = ["2"]
}
executable "srv" {
  command             = "SOCKSRV"
  wait_for_completion = [executable.gate]
  endpoint "http" {
    env    = "PORT"
    socket = true
  }
  health {
    http { path = "/healthz" }
  }
}
`, "SOCKSRV", srv))
	p.mustRun("up", "-d")
	// While srv waits for gate, its port is allocated and held: nothing
	// else can bind it.
	r := p.ps()["srv"]
	if r.State != status.Waiting || len(r.Endpoints) == 0 {
		t.Fatalf("srv: %s endpoints %v; want Waiting with its port allocated", r.State, r.Endpoints)
	}
	port := r.Endpoints[0].Port
	for _, addr := range []string{"127.0.0.1", "0.0.0.0", ""} {
		ln, err := net.Listen("tcp4", net.JoinHostPort(addr, strconv.Itoa(port)))
		if err == nil {
			ln.Close()
			t.Fatalf("could bind %s:%d between allocation and start", addr, port)
		}
		if !errors.Is(err, syscall.EADDRINUSE) {
			t.Fatalf("bind %s:%d: %v, want EADDRINUSE", addr, port, err)
		}
	}
	p.mustRun("wait", "srv", "--timeout", "60s")
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/healthz", port))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if want := fmt.Sprintf("ok %d http", p.pid("srv")); strings.TrimSpace(string(b)) != want {
		t.Fatalf("srv answered %q, want %q (LISTEN_PID checked strictly)", b, want)
	}
	// A restart keeps the same socket: the port never goes free.
	p.mustRun("restart", "srv", "--timeout", "30s")
	resp, err = http.Get(fmt.Sprintf("http://127.0.0.1:%d/healthz", port))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
}

func TestSocketFixedPortConflictNamesHolder(t *testing.T) {
	srv := sockServer(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	p := newProject(t, fmt.Sprintf(`
executable "srv" {
  command = "%s"
  endpoint "http" {
    port   = %d
    socket = true
  }
}
`, srv, port))
	out, code := p.run("up", "--wait", "--timeout", "30s")
	if code != 5 {
		t.Fatalf("up with the socket port taken: exit %d\n%s", code, out)
	}
	var res status.Resource
	p.api("GET", "/v1/resources/srv", &res)
	if res.State != status.FailedToStart || !strings.Contains(res.Reason, fmt.Sprintf("pid %d", os.Getpid())) {
		t.Fatalf("srv: %s %q; want FailedToStart naming pid %d", res.State, res.Reason, os.Getpid())
	}
}

func TestDownAfterDaemonCrashSweepsCgroups(t *testing.T) {
	p := newProject(t, `
executable "forker" {
  command = "sh"
  args    = ["-c", "setsid sh -c 'echo $$ >> pids; sleep 300 & echo $! >> pids; wait' & sleep 300 & echo $! >> pids; wait"]
}
`)
	p.mustRun("up", "-d")
	if iso := isolation(t, p); iso.Mode == "process-groups" {
		t.Skipf("no cgroups here: %s", iso.Detail)
	}
	var pids []int
	p.eventually("three descendants", 10*time.Second, func() bool {
		b, _ := os.ReadFile(filepath.Join(p.dir, "pids"))
		pids = pids[:0]
		for _, f := range strings.Fields(string(b)) {
			n, _ := strconv.Atoi(f)
			pids = append(pids, n)
		}
		return len(pids) >= 3
	})
	var info api.Info
	p.api("GET", "/v1/info", &info)
	leader := p.pid("forker")
	// The daemon dies, and so does the resource's leader: what it started
	// outside its process group is reachable only through its cgroup.
	kill(t, info.PID, syscall.SIGKILL)
	kill(t, leader, syscall.SIGKILL)
	p.eventually("daemon gone", 10*time.Second, func() bool { return !alive(info.PID) })
	out, code := p.run("down", "--timeout", "30s")
	if code != 0 {
		t.Fatalf("down: exit %d\n%s", code, out)
	}
	for _, pid := range pids {
		if alive(pid) {
			t.Errorf("pid %d survived down after a daemon crash", pid)
		}
	}
}

func TestOrdinaryPortReservedUntilStart(t *testing.T) {
	p := newProject(t, `
executable "gate" {
  command = "sleep"
  args    = ["2"]
}
executable "api" {
  command             = "SERVER"
  wait_for_completion = [executable.gate]
  endpoint "http" { env = "PORT" }
  health {
    http { path = "/healthz" }
  }
}
`)
	p.mustRun("up", "-d")
	r := p.ps()["api"]
	if r.State != status.Waiting || len(r.Endpoints) == 0 {
		t.Fatalf("api: %s %v; want Waiting with its port allocated", r.State, r.Endpoints)
	}
	port := r.Endpoints[0].Port
	// Reserved while api waits: nobody can bind it (not even with
	// SO_REUSEADDR, which Go sets), and nothing answers on it.
	if ln, err := net.Listen("tcp4", net.JoinHostPort("127.0.0.1", strconv.Itoa(port))); err == nil {
		ln.Close()
		t.Fatalf("could bind api's port %d while api waited", port)
	}
	if c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), time.Second); err == nil {
		c.Close()
		t.Fatal("a reserved port accepted a connection")
	}
	// Released just before exec: api binds it and becomes healthy.
	p.mustRun("wait", "api", "--timeout", "60s")
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/healthz", port))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
}
