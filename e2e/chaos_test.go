package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/apphostd/apphostd/pkg/api"
	"github.com/apphostd/apphostd/pkg/status"
)

// raceBin is apphostd built with the race detector, so the daemon itself
// (not only this test process) is checked for races under chaos; it is
// built once, next to bin, and removed with it.
var (
	raceOnce sync.Once
	raceBin  string
	raceErr  error
)

func raceDaemon(t *testing.T) string {
	t.Helper()
	raceOnce.Do(func() {
		out := filepath.Join(filepath.Dir(bin), "apphostd-race")
		cmd := exec.Command("go", "build", "-race", "-o", out, "../cmd/apphostd")
		if b, err := cmd.CombinedOutput(); err != nil {
			raceErr = fmt.Errorf("go build -race: %v\n%s", err, b)
			return
		}
		raceBin = out
	})
	if raceErr != nil {
		t.Fatal(raceErr)
	}
	return raceBin
}

// raceEnv makes a race in the daemon fatal at once (exit 66), so the
// chaos loop sees it as a crash; the report is in .apphost/daemon.out.
var raceEnv = []string{"GORACE=halt_on_error=1 exitcode=66"}

// checkDaemonOut fails on a race report or a panic in daemon.out (the
// detached daemon's stderr; each `up -d` truncates it).
func (p *project) checkDaemonOut() {
	p.t.Helper()
	b, _ := os.ReadFile(filepath.Join(p.stateDir(), "daemon.out"))
	for _, bad := range []string{"DATA RACE", "panic:", "fatal error:"} {
		if bytes.Contains(b, []byte(bad)) {
			p.t.Fatalf("daemon.out has %q:\n%s", bad, b)
		}
	}
}

// ---- the chaos loop ---------------------------------------------------

const chaosDefaultIterations = 200

// chaosConfig is the desired graph of one moment of the chaos test.
type chaosConfig struct {
	tok    string
	rev    map[string]int  // per resource, in its env as REV
	extras map[string]bool // optional resources present
}

var chaosCore = []string{"db", "api", "writer"}
var chaosExtras = []string{"extra1", "extra2", "extra3"}

func (c *chaosConfig) names() []string {
	out := append([]string(nil), chaosCore...)
	for _, e := range chaosExtras {
		if c.extras[e] {
			out = append(out, e)
		}
	}
	return out
}

func (c *chaosConfig) clone() *chaosConfig {
	n := &chaosConfig{tok: c.tok, rev: map[string]int{}, extras: map[string]bool{}}
	for k, v := range c.rev {
		n.rev[k] = v
	}
	for k, v := range c.extras {
		n.extras[k] = v
	}
	return n
}

func (c *chaosConfig) hcl() string {
	var b strings.Builder
	common := func(name string) string {
		return fmt.Sprintf(`  env     = { MARK = %q, REV = "%d" }
  restart = "always"
  backoff {
    initial = "20ms"
    max     = "300ms"
  }
`, c.tok, c.rev[name])
	}
	b.WriteString("volume \"data\" {}\n")
	fmt.Fprintf(&b, `executable "db" {
  command = "SERVER"
  endpoint "http" { env = "PORT" }
%s  health {
    http { path = "/healthz" }
    interval = "500ms"
  }
}
executable "api" {
  command    = "SERVER"
  endpoint "http" { env = "PORT" }
  references = [executable.db]
  wait_for   = [executable.db]
%s  health {
    http { path = "/healthz" }
    interval = "500ms"
  }
}
executable "writer" {
  command = "sh"
  args    = ["-c", "while :; do echo \"rev $REV pid $PPID-$(date +%%s%%N)\" >> .apphost/volumes/data/journal; sleep 0.03; done"]
%s}
`, common("db"), common("api"), common("writer"))
	for _, e := range chaosExtras {
		if c.extras[e] {
			fmt.Fprintf(&b, `executable %q {
  command = "SERVER"
  endpoint "http" { env = "PORT" }
%s}
`, e, common(e))
		}
	}
	return b.String()
}

// chaosRun is the state of one chaos run: the project, what is desired,
// what was injected, and the volume file seen so far.
type chaosRun struct {
	t       *testing.T
	p       *project
	c       *api.Client
	rng     *rand.Rand
	want    *chaosConfig
	daemon  int
	faults  map[string]int
	journal struct {
		size int64
		sum  [32]byte
	}
	convergeMax time.Duration
}

// converge waits until what runs is exactly what want declares, or fails:
// every resource Running (Healthy where probed) with one process whose
// environment has its current REV, the API's PID is that process, no
// process of a resource that is not declared, no process outside the
// declared instances' process groups, and the volume journal only grew.
func (r *chaosRun) converge(what string) {
	r.t.Helper()
	start := time.Now()
	deadline := start.Add(30 * time.Second)
	var why string
	for {
		why = r.check()
		if why == "" {
			break
		}
		if time.Now().After(deadline) {
			out, _ := r.p.run("ps")
			log, _ := os.ReadFile(filepath.Join(r.p.stateDir(), "daemon.log"))
			r.t.Fatalf("%s: not converged after 30s: %s\n%s\ndaemon.log tail:\n%s", what, why, out, tail(string(log), 4000))
		}
		time.Sleep(25 * time.Millisecond)
	}
	if d := time.Since(start); d > r.convergeMax {
		r.convergeMax = d
	}
	r.checkJournal()
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

func (r *chaosRun) check() string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if !alive(r.daemon) {
		r.p.checkDaemonOut()
		b, _ := os.ReadFile(filepath.Join(r.p.stateDir(), "daemon.out"))
		r.t.Fatalf("the daemon (pid %d) died:\n%s", r.daemon, b)
	}
	rs, err := r.c.Resources(ctx)
	if err != nil {
		return "api: " + err.Error()
	}
	byName := map[string]status.Resource{}
	for _, x := range rs {
		byName[x.Name] = x
	}
	procs := markedProcs("MARK", r.want.tok)
	leaders := leadersByService(procs)
	groups := map[int]bool{}
	for _, n := range r.want.names() {
		res, ok := byName[n]
		if !ok {
			return n + " not listed"
		}
		if res.State != status.Running || (n != "writer" && !res.Ready()) || len(res.Instances) != 1 {
			return fmt.Sprintf("%s is %s/%s", n, res.State, res.Health)
		}
		l := leaders[n]
		if len(l) != 1 {
			return fmt.Sprintf("%s has %d instance processes %v", n, len(l), l)
		}
		if res.Instances[0].PID != l[0] {
			return fmt.Sprintf("%s: API pid %d, process %d", n, res.Instances[0].PID, l[0])
		}
		if got := readEnviron(l[0])["REV"]; got != strconv.Itoa(r.want.rev[n]) {
			return fmt.Sprintf("%s runs REV %s, want %d", n, got, r.want.rev[n])
		}
		groups[l[0]] = true
	}
	for n, l := range leaders {
		if !contains(r.want.names(), n) {
			return fmt.Sprintf("undeclared %s still has processes %v", n, l)
		}
	}
	if len(byName) != len(r.want.names())+1 { // + the volume
		return fmt.Sprintf("API lists %d resources, want %d", len(byName), len(r.want.names())+1)
	}
	for _, pi := range procs {
		if !groups[pi.PGID] {
			return fmt.Sprintf("pid %d (%s) is outside every instance's process group", pi.PID, pi.Env["OTEL_SERVICE_NAME"])
		}
	}
	return ""
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// checkJournal: the writer only appends, across kills and restarts of it
// and of the daemon; the file must only grow and keep what it had.
func (r *chaosRun) checkJournal() {
	r.t.Helper()
	b, err := os.ReadFile(filepath.Join(r.p.stateDir(), "volumes", "data", "journal"))
	if err != nil {
		r.t.Fatalf("volume journal: %v", err)
	}
	if int64(len(b)) < r.journal.size {
		r.t.Fatalf("volume journal shrank from %d to %d bytes", r.journal.size, len(b))
	}
	if sha256.Sum256(b[:r.journal.size]) != r.journal.sum {
		r.t.Fatalf("volume journal's first %d bytes changed", r.journal.size)
	}
	r.journal.size = int64(len(b))
	r.journal.sum = sha256.Sum256(b)
}

func (r *chaosRun) pids() map[string]int {
	out := map[string]int{}
	for n, l := range leadersByService(markedProcs("MARK", r.want.tok)) {
		if len(l) == 1 {
			out[n] = l[0]
		}
	}
	return out
}

func (r *chaosRun) upDaemon() {
	r.t.Helper()
	r.p.mustRunWith(raceDaemon(r.t), raceEnv, "up", "-d", "--stop-grace", "3s")
	r.daemon = r.p.daemonPID()
	r.c.Close()
	r.c = api.Dial(r.p.socket())
}

func (r *chaosRun) killDaemon() {
	r.t.Helper()
	r.p.checkDaemonOut()
	kill(r.t, r.daemon, syscall.SIGKILL)
	waitDead(r.t, r.daemon, 10*time.Second)
}

func (r *chaosRun) pick(names []string) string { return names[r.rng.Intn(len(names))] }

// TestChaos runs a bounded loop of random faults and edits against a real
// daemon (race-instrumented) and checks the invariants after each. The
// seed is printed; APPHOSTD_CHAOS_SEED replays a run, and
// APPHOSTD_CHAOS_ITERATIONS lowers the count for a quick local run (CI
// always runs the full count).
func TestChaos(t *testing.T) {
	iterations := chaosDefaultIterations
	if v := os.Getenv("APPHOSTD_CHAOS_ITERATIONS"); v != "" {
		if n, err := strconv.Atoi(v); err == nil && n > 0 {
			if os.Getenv("CI") == "true" && n < chaosDefaultIterations {
				t.Logf("CI=true: ignoring APPHOSTD_CHAOS_ITERATIONS=%d, running %d", n, chaosDefaultIterations)
			} else {
				iterations = n
			}
		}
	}
	seed := int64(20260107)
	if v := os.Getenv("APPHOSTD_CHAOS_SEED"); v != "" {
		seed, _ = strconv.ParseInt(v, 10, 64)
	}
	t.Logf("chaos: seed %d, %d iterations (replay with APPHOSTD_CHAOS_SEED=%d)", seed, iterations, seed)

	tok := token(t)
	want := &chaosConfig{tok: tok, rev: map[string]int{}, extras: map[string]bool{"extra1": true}}
	p := newProject(t, want.hcl())
	r := &chaosRun{t: t, p: p, c: api.Dial(p.socket()), rng: rand.New(rand.NewSource(seed)), want: want, faults: map[string]int{}}
	r.journal.sum = sha256.Sum256(nil)
	defer func() { r.c.Close() }()
	r.upDaemon()
	r.converge("bring-up")
	started := time.Now()

	edit := func(c *chaosConfig) {
		r.want = c
		p.write(c.hcl())
	}
	for i := 1; i <= iterations; i++ {
		names := r.want.names()
		var action string
		switch x := r.rng.Intn(100); {
		case x < 18: // edit one resource's environment
			n := r.pick(names)
			c := r.want.clone()
			c.rev[n]++
			edit(c)
			action = "edit env of " + n
			r.faults["edit env"]++
		case x < 30: // add or remove a resource
			e := r.pick(chaosExtras)
			c := r.want.clone()
			c.extras[e] = !c.extras[e]
			edit(c)
			action = fmt.Sprintf("toggle %s (present=%v)", e, c.extras[e])
			r.faults["add/remove resource"]++
		case x < 50: // kill -9 a resource's process
			n := r.pick(names)
			pid := r.pids()[n]
			if pid == 0 {
				t.Fatalf("iteration %d: no process for %s", i, n)
			}
			kill(t, pid, syscall.SIGKILL)
			waitDead(t, pid, 10*time.Second)
			action = fmt.Sprintf("kill -9 %s (pid %d)", n, pid)
			r.faults["kill -9 resource"]++
			r.converge(fmt.Sprintf("iteration %d: %s", i, action))
			if r.pids()[n] == pid {
				t.Fatalf("iteration %d: %s still has the killed pid", i, n)
			}
		case x < 66: // kill -9 the daemon (sometimes editing while it is dead), up -d
			// Everything the API has shown Running is in state.json (the
			// daemon records a start before it shows it), so all of it
			// must be adopted.
			before := r.pids()
			recorded := map[string]int{}
			if recs, _, err := p.readStateFile(); err == nil {
				for _, rec := range recs {
					recorded[rec.Resource] = rec.PID
				}
			}
			for n, pid := range before {
				if recorded[n] != pid {
					t.Fatalf("iteration %d: %s (pid %d) is shown Running but state.json records %d", i, n, pid, recorded[n])
				}
			}
			r.killDaemon()
			changed := ""
			if r.rng.Intn(3) == 0 {
				changed = r.pick(names)
				c := r.want.clone()
				c.rev[changed]++
				edit(c)
			}
			r.upDaemon()
			action = "kill -9 daemon, up -d"
			if changed != "" {
				action += " (edited " + changed + " while down)"
			}
			r.faults["kill -9 daemon"]++
			r.converge(fmt.Sprintf("iteration %d: %s", i, action))
			after := r.pids()
			for n, pid := range before {
				if n != changed && after[n] != pid {
					t.Fatalf("iteration %d: %s (pid %d) was not adopted: now %d", i, n, pid, after[n])
				}
			}
		case x < 74: // kill -9 the daemon mid-flight: right after an edit
			n := r.pick(names)
			c := r.want.clone()
			c.rev[n]++
			edit(c)
			time.Sleep(time.Duration(r.rng.Intn(60)) * time.Millisecond)
			r.killDaemon()
			r.upDaemon()
			action = "edit env of " + n + " then kill -9 daemon mid-reload, up -d"
			r.faults["kill -9 daemon mid-reload"]++
		case x < 94: // restart a resource through the CLI
			n := r.pick(names)
			old := r.pids()[n]
			p.mustRunWith("", nil, "restart", n, "--timeout", "30s")
			action = "restart " + n
			r.faults["restart"]++
			r.converge(fmt.Sprintf("iteration %d: %s", i, action))
			if r.pids()[n] == old {
				t.Fatalf("iteration %d: restart %s kept pid %d", i, n, old)
			}
		default: // a broken edit: the running graph must stay
			good := r.want
			p.write(good.hcl() + "\nexecutable \"broken\" {\n")
			var cfg status.ConfigStatus
			p.eventually("broken edit reported", 10*time.Second, func() bool {
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				defer cancel()
				var err error
				cfg, err = r.c.Config(ctx)
				return err == nil && !cfg.OK
			})
			r.converge(fmt.Sprintf("iteration %d: broken edit", i))
			edit(good.clone())
			action = "broken edit, then fixed"
			r.faults["broken edit"]++
		}
		r.converge(fmt.Sprintf("iteration %d: %s", i, action))
		if testing.Verbose() && i%20 == 0 {
			t.Logf("iteration %d/%d ok (%v so far)", i, iterations, time.Since(started).Round(time.Second))
		}
	}
	r.p.checkDaemonOut()
	var keys []string
	total := 0
	for k, v := range r.faults {
		keys = append(keys, fmt.Sprintf("%s=%d", k, v))
		total += v
	}
	sort.Strings(keys)
	t.Logf("chaos: %d iterations in %v, %d faults/edits injected: %s; slowest convergence %v; journal %d bytes",
		iterations, time.Since(started).Round(time.Second), total, strings.Join(keys, " "), r.convergeMax.Round(time.Millisecond), r.journal.size)

	p.mustRun("down")
	assertNoMarked(t, "MARK", tok)
	r.checkJournal()
}

// TestStatusPollingDuringReloads is BENCHMARKS.md's W4 against the
// race-instrumented daemon: /v1/resources polled every 20 ms and an event
// stream followed while the project is reloaded 200 times (an env change
// or an added/removed resource each time). No poll may fail, the daemon
// must not crash or report a race, everything converges, and after a
// kill -9 of the daemon `down` leaves no process.
func TestStatusPollingDuringReloads(t *testing.T) {
	const services = 40
	tok := token(t)
	cfg := func(rev int) string {
		var b strings.Builder
		for i := 0; i < services; i++ {
			r := 0
			if i == rev%services {
				r = rev
			}
			fmt.Fprintf(&b, `executable "s%02d" {
  command = "SERVER"
  endpoint "http" { env = "PORT" }
  env = { MARK = %q, REV = "%d" }
}
`, i, tok, r)
		}
		if rev%2 == 1 {
			fmt.Fprintf(&b, "executable \"extra\" {\n  command = \"SERVER\"\n  endpoint \"http\" { env = \"PORT\" }\n  env = { MARK = %q }\n}\n", tok)
		}
		return b.String()
	}
	p := newProject(t, cfg(0))
	p.mustRunWith(raceDaemon(t), raceEnv, "up", "--wait", "--timeout", "120s")
	dpid := p.daemonPID()
	c := p.client()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var polls, pollErrs, events atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", p.socket())
		}}, Timeout: 5 * time.Second}
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			resp, err := hc.Get("http://apphostd/v1/resources")
			polls.Add(1)
			if err == nil && resp.StatusCode != http.StatusOK {
				err = fmt.Errorf("status %d", resp.StatusCode)
			}
			if resp != nil {
				var rs []status.Resource
				if derr := jsonDecode(resp, &rs); err == nil && derr != nil {
					err = derr
				}
			}
			if err != nil {
				pollErrs.Add(1)
				firstErr.CompareAndSwap(nil, err.Error())
			}
		}
	}()
	streamErr := make(chan error, 1)
	go func() {
		defer wg.Done()
		streamErr <- c.Events(ctx, func(status.Event) error { events.Add(1); return nil })
	}()

	start := time.Now()
	for rev := 1; rev <= 200; rev++ {
		p.write(cfg(rev))
		rctx, rcancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err := c.Reload(rctx)
		rcancel()
		if err != nil {
			t.Fatalf("reload %d: %v", rev, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	reloads := time.Since(start)
	last := 200
	p.eventually("all converged to the last revision", 60*time.Second, func() bool {
		leaders := leadersByService(markedProcs("MARK", tok))
		if len(leaders) != services { // extra is gone after an even revision
			return false
		}
		for i := 0; i < services; i++ {
			l := leaders[fmt.Sprintf("s%02d", i)]
			want := "0"
			if i == last%services {
				want = strconv.Itoa(last)
			}
			if len(l) != 1 || readEnviron(l[0])["REV"] != want {
				return false
			}
		}
		return true
	})
	cancel()
	wg.Wait()
	if err := <-streamErr; err != nil && !errors.Is(err, context.Canceled) {
		t.Errorf("event stream ended: %v", err)
	}
	t.Logf("W4: 200 reloads in %v; %d polls of /v1/resources every 20ms, %d failed; %d events streamed",
		reloads.Round(time.Millisecond), polls.Load(), pollErrs.Load(), events.Load())
	if pollErrs.Load() > 0 {
		t.Errorf("%d of %d polls failed; first: %v", pollErrs.Load(), polls.Load(), firstErr.Load())
	}
	if polls.Load() < 50 {
		t.Errorf("only %d polls ran", polls.Load())
	}
	if p.daemonPID() != dpid {
		t.Fatal("the daemon restarted")
	}
	p.checkDaemonOut()
	// 0 orphans even if the daemon is killed.
	kill(t, dpid, syscall.SIGKILL)
	waitDead(t, dpid, 10*time.Second)
	p.mustRun("down")
	assertNoMarked(t, "MARK", tok)
}

func jsonDecode(resp *http.Response, v any) error {
	defer resp.Body.Close()
	return json.NewDecoder(resp.Body).Decode(v)
}
