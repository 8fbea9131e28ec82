package e2e

// Reliability tests (issue 7): each test tries to break one guarantee that
// docs/reliability.md lists, with real processes, the real daemon binary
// and real signals. Helpers shared by chaos_test.go and secrets_test.go
// live at the top of this file.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/apphostd/apphostd/pkg/api"
	"github.com/apphostd/apphostd/pkg/daemon"
	"github.com/apphostd/apphostd/pkg/status"
)

// ---- helpers ----------------------------------------------------------

// runWith runs binary (bin if empty) in the project with extra environment
// and returns combined output and exit code.
func (p *project) runWith(binary string, env []string, args ...string) (string, int) {
	p.t.Helper()
	if binary == "" {
		binary = bin
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Dir = p.dir
	cmd.Env = append(append(os.Environ(), "CI=true"), env...)
	var b bytes.Buffer
	cmd.Stdout, cmd.Stderr = &b, &b
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		p.t.Fatalf("run %v: %v", args, err)
	}
	return b.String(), code
}

func (p *project) mustRunWith(binary string, env []string, args ...string) string {
	p.t.Helper()
	out, code := p.runWith(binary, env, args...)
	if code != 0 {
		p.t.Fatalf("apphostd %s: exit %d\n%s", strings.Join(args, " "), code, out)
	}
	return out
}

func (p *project) stateDir() string { return filepath.Join(p.dir, ".apphost") }
func (p *project) socket() string   { return filepath.Join(p.stateDir(), "apphostd.sock") }

// client returns an API client of the project's daemon.
func (p *project) client() *api.Client {
	c := api.Dial(p.socket())
	p.t.Cleanup(c.Close)
	return c
}

// daemonPID asks the running daemon for its PID (GET /v1/info) and checks
// that .apphost/lock names the same process.
func (p *project) daemonPID() int {
	p.t.Helper()
	var info api.Info
	if code := p.api("GET", "/v1/info", &info); code != http.StatusOK || info.PID <= 0 {
		p.t.Fatalf("GET /v1/info: %d %+v", code, info)
	}
	b, err := os.ReadFile(filepath.Join(p.stateDir(), "lock"))
	if err != nil {
		p.t.Fatal(err)
	}
	if lockPID, _ := strconv.Atoi(strings.TrimSpace(string(b))); lockPID != info.PID {
		p.t.Fatalf(".apphost/lock names pid %d, /v1/info says %d", lockPID, info.PID)
	}
	return info.PID
}

// killDaemon SIGKILLs the daemon and waits until it is gone.
func (p *project) killDaemon() int {
	p.t.Helper()
	pid := p.daemonPID()
	kill(p.t, pid, syscall.SIGKILL)
	waitDead(p.t, pid, 10*time.Second)
	return pid
}

// stateRecord mirrors one instance of .apphost/state.json.
type stateRecord struct {
	ID        string `json:"id"`
	Resource  string `json:"resource"`
	PID       int    `json:"pid"`
	StartTime uint64 `json:"start_time"`
}

// readStateFile parses .apphost/state.json strictly; raw is the whole
// document so a test can edit and write it back.
func (p *project) readStateFile() (recs []stateRecord, raw map[string]any, err error) {
	b, err := os.ReadFile(filepath.Join(p.stateDir(), "state.json"))
	if err != nil {
		return nil, nil, err
	}
	var st struct {
		Instances []stateRecord `json:"instances"`
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, nil, fmt.Errorf("state.json: %w (%d bytes)", err, len(b))
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, nil, err
	}
	return st.Instances, raw, nil
}

// waitStateHas waits until state.json records exactly these resource→PID
// pairs, so a daemon killed afterwards has everything persisted.
func (p *project) waitStateHas(want map[string]int) {
	p.t.Helper()
	p.eventually("state.json records the running instances", 10*time.Second, func() bool {
		recs, _, err := p.readStateFile()
		if err != nil {
			return false
		}
		got := map[string]int{}
		for _, r := range recs {
			got[r.Resource] = r.PID
		}
		for n, pid := range want {
			if got[n] != pid {
				return false
			}
		}
		return true
	})
}

// waitUnlocked waits until no process holds the project lock: the killed
// daemon has fully exited (its group leader turns zombie before threads
// blocked in the kernel have let go of its files).
func (p *project) waitUnlocked() {
	p.t.Helper()
	p.eventually("the project lock released", 10*time.Second, func() bool {
		return daemon.LockHolder(filepath.Join(p.stateDir(), "lock")) == 0
	})
}

func waitDead(t *testing.T, pid int, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for alive(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("pid %d still alive after %v", pid, timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// procInfo is what the tests read of one process from /proc.
type procInfo struct {
	PID, PPID, PGID int
	State           byte
	Start           uint64
	Env             map[string]string
}

func readProc(pid int) (procInfo, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procInfo{}, false
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procInfo{}, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 {
		return procInfo{}, false
	}
	pi := procInfo{PID: pid, State: f[0][0]}
	pi.PPID, _ = strconv.Atoi(f[1])
	pi.PGID, _ = strconv.Atoi(f[2])
	pi.Start, _ = strconv.ParseUint(f[19], 10, 64)
	return pi, true
}

func readEnviron(pid int) map[string]string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
	if err != nil {
		return nil
	}
	env := map[string]string{}
	for _, kv := range bytes.Split(b, []byte{0}) {
		if k, v, ok := strings.Cut(string(kv), "="); ok {
			env[k] = v
		}
	}
	return env
}

// markedProcs scans /proc for live (non-zombie) processes whose
// environment has key=val: the processes of one test, however they were
// started (resources, their children, grandchildren that escaped).
func markedProcs(key, val string) []procInfo {
	ents, _ := os.ReadDir("/proc")
	var out []procInfo
	needle := []byte(key + "=" + val + "\x00")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
		if err != nil || !bytes.Contains(append(b, 0), needle) {
			continue
		}
		pi, ok := readProc(pid)
		if !ok || pi.State == 'Z' || pi.State == 'X' {
			continue
		}
		pi.Env = readEnviron(pid)
		out = append(out, pi)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].PID < out[j].PID })
	return out
}

// leadersByService groups marked process-group leaders (one per running
// instance: the driver starts each in its own group) by OTEL_SERVICE_NAME.
func leadersByService(procs []procInfo) map[string][]int {
	out := map[string][]int{}
	for _, pi := range procs {
		if pi.PID == pi.PGID {
			n := pi.Env["OTEL_SERVICE_NAME"]
			out[n] = append(out[n], pi.PID)
		}
	}
	return out
}

// assertNoMarked fails if any process carrying key=val is alive, after
// giving them a moment to finish exiting.
func assertNoMarked(t *testing.T, key, val string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		left := markedProcs(key, val)
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			var s []string
			for _, pi := range left {
				cmd, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pi.PID))
				s = append(s, fmt.Sprintf("pid %d pgid %d %q", pi.PID, pi.PGID, bytes.ReplaceAll(cmd, []byte{0}, []byte{' '})))
			}
			t.Fatalf("processes left behind:\n  %s", strings.Join(s, "\n  "))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// vmStatus returns a /proc/PID/status field in KiB (VmRSS, VmHWM).
func vmStatus(pid int, field string) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return -1
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && k == field {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	return -1
}

func token(t *testing.T) string {
	return fmt.Sprintf("%s-%d-%d", strings.ReplaceAll(t.Name(), "/", "_"), os.Getpid(), time.Now().UnixNano())
}

var tickRE = regexp.MustCompile(`tick (\d+)`)

// ticks returns the tick numbers in text, in order.
func ticks(text string) []int {
	var out []int
	for _, m := range tickRE.FindAllStringSubmatch(text, -1) {
		n, _ := strconv.Atoi(m[1])
		out = append(out, n)
	}
	return out
}

func endpointsOf(r status.Resource) string {
	b, _ := json.Marshal(r.Endpoints)
	return string(b)
}

// ---- 1. daemon crash and adoption -----------------------------------

const adoptionProject = `
executable "db" {
  command = "SERVER"
  endpoint "http" { env = "PORT" }
  env = { MARK = "TOKEN" }
  health {
    http { path = "/healthz" }
    interval = "200ms"
  }
}
executable "api" {
  command    = "SERVER"
  endpoint "http" { env = "PORT" }
  env        = { MARK = "TOKEN" }
  references = [executable.db]
  wait_for   = [executable.db]
  health {
    http { path = "/healthz" }
    interval = "200ms"
  }
}
executable "ticker" {
  command = "sh"
  args    = ["-c", "i=0; while :; do i=$((i+1)); echo tick $i; sleep 0.05; done"]
  env     = { MARK = "TOKEN" }
}
executable "reused" {
  command = "SERVER"
  endpoint "http" { env = "PORT" }
  env = { MARK = "TOKEN" }
}
`

const doomedResource = `
executable "doomed" {
  command = "SERVER"
  endpoint "http" { env = "PORT" }
  env = { MARK = "TOKEN" }
}
`

// TestKill9DaemonAdoptsEverything kills the daemon with SIGKILL and checks
// that its processes keep running and that the next `up -d` adopts them:
// same PIDs, no duplicates, same ports, logs continue without a gap,
// health is probed again. It also checks the two refusals: a recorded PID
// now held by another process (PID reuse) is not adopted and not
// signalled, and a resource removed from the file while no daemon ran is
// stopped.
func TestKill9DaemonAdoptsEverything(t *testing.T) {
	tok := token(t)
	cfg := strings.ReplaceAll(adoptionProject, "TOKEN", tok)
	p := newProject(t, cfg+strings.ReplaceAll(doomedResource, "TOKEN", tok))
	p.mustRun("up", "--wait", "--timeout", "60s")
	before := p.ps()
	pids := map[string]int{}
	for n, r := range before {
		pids[n] = r.Instances[0].PID
	}
	p.waitStateHas(pids)
	daemon1 := p.killDaemon()

	// Everything survives the daemon.
	for n, pid := range pids {
		if !alive(pid) {
			t.Fatalf("%s (pid %d) died with the daemon", n, pid)
		}
	}
	// The socket file is left behind by the dead daemon and, once the
	// last of its threads has exited, refuses.
	p.waitUnlocked()
	if _, err := net.Dial("unix", p.socket()); err == nil {
		t.Fatal("a dead daemon's socket still accepts")
	}
	logPath := filepath.Join(p.stateDir(), "logs", "ticker.log")
	b, _ := os.ReadFile(logPath)
	ticksAtKill := ticks(string(b))
	if len(ticksAtKill) == 0 {
		t.Fatalf("ticker wrote nothing: %q", b)
	}

	// PID reuse: "reused" dies and its PID now names an unrelated
	// process. The record keeps the dead instance's start time, exactly
	// what a recycled PID looks like.
	kill(t, pids["reused"], syscall.SIGKILL)
	waitDead(t, pids["reused"], 5*time.Second)
	stranger := exec.Command("sleep", "300")
	stranger.Env = []string{"MARK=" + tok + "-stranger"}
	if err := stranger.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = stranger.Process.Kill(); _ = stranger.Wait() }()
	recs, raw, err := p.readStateFile()
	if err != nil {
		t.Fatal(err)
	}
	strangerInfo, _ := readProc(stranger.Process.Pid)
	for i, r := range recs {
		if r.Resource == "reused" {
			inst := raw["instances"].([]any)[i].(map[string]any)
			inst["pid"] = stranger.Process.Pid
			if r.StartTime == strangerInfo.Start {
				t.Fatal("the stranger has the recorded start time; cannot simulate reuse")
			}
		}
	}
	edited, _ := json.Marshal(raw)
	if err := os.WriteFile(filepath.Join(p.stateDir(), "state.json"), edited, 0o600); err != nil {
		t.Fatal(err)
	}
	// "doomed" leaves the project while no daemon runs.
	p.write(cfg)

	p.mustRun("up", "-d")
	daemon2 := p.daemonPID()
	if daemon2 == daemon1 {
		t.Fatal("same daemon PID after restart")
	}
	p.eventually("db and api healthy again, reused replaced", 30*time.Second, func() bool {
		rs := p.ps()
		return rs["db"].Ready() && rs["api"].Ready() && rs["ticker"].State == status.Running &&
			rs["reused"].State == status.Running && len(rs["reused"].Instances) == 1 &&
			rs["reused"].Instances[0].PID != pids["reused"] && rs["reused"].Instances[0].PID != stranger.Process.Pid
	})
	after := p.ps()
	for _, n := range []string{"db", "api", "ticker"} {
		if got := after[n].Instances[0].PID; got != pids[n] {
			t.Errorf("%s: pid %d after restart, want the adopted %d", n, got, pids[n])
		}
		if endpointsOf(after[n]) != endpointsOf(before[n]) {
			t.Errorf("%s: endpoints changed across the restart:\n before %s\n after  %s", n, endpointsOf(before[n]), endpointsOf(after[n]))
		}
		if after[n].Restarts != before[n].Restarts {
			t.Errorf("%s: restarts %d → %d", n, before[n].Restarts, after[n].Restarts)
		}
	}
	// The stranger was neither adopted nor signalled.
	if si, ok := readProc(stranger.Process.Pid); !ok || si.State == 'Z' || si.State == 'T' {
		t.Fatalf("the process holding the reused PID was disturbed: %+v %v", si, ok)
	}
	// The removed resource was stopped.
	if _, ok := after["doomed"]; ok {
		t.Errorf("doomed still listed: %+v", after["doomed"])
	}
	waitDead(t, pids["doomed"], 15*time.Second)

	// Exactly one process per instance.
	leaders := leadersByService(markedProcs("MARK", tok))
	for n, l := range leaders {
		if len(l) != 1 {
			t.Errorf("%s has %d instance processes: %v", n, len(l), l)
		}
	}
	if len(leaders) != 4 {
		t.Errorf("instance processes by resource: %v, want db, api, ticker, reused", leaders)
	}
	// Logs continue: a line written after the restart shows in `logs`, and
	// nothing written while no daemon ran is missing.
	b, _ = os.ReadFile(logPath)
	atRestart := ticks(string(b))
	last := atRestart[len(atRestart)-1]
	var shown []int
	p.eventually("a tick written after the restart in `apphostd logs`", 15*time.Second, func() bool {
		shown = ticks(p.mustRun("logs", "--tail", "all", "ticker"))
		return len(shown) > 0 && shown[len(shown)-1] > last
	})
	// Everything written after the kill is after the offset the old daemon
	// recorded, so it must all be there (earlier lines may be too, if the
	// recorded offset was older).
	from := ticksAtKill[len(ticksAtKill)-1] + 1
	seen := map[int]bool{}
	for _, n := range shown {
		seen[n] = true
	}
	for n := from; n <= shown[len(shown)-1]; n++ {
		if !seen[n] {
			t.Fatalf("tick %d (written after the kill) is missing from `apphostd logs`", n)
		}
	}
	// The new daemon persists the adopted instances.
	pids["reused"] = after["reused"].Instances[0].PID
	delete(pids, "doomed")
	p.waitStateHas(pids)

	p.mustRun("down")
	assertNoMarked(t, "MARK", tok)
}

// TestAdoptedProcessExitIsNoticed checks that an adopted instance (not the
// new daemon's child) is still watched: killing it after a daemon restart
// is seen and the restart policy applies.
func TestAdoptedProcessExitIsNoticed(t *testing.T) {
	tok := token(t)
	p := newProject(t, strings.ReplaceAll(`
executable "svc" {
  command = "SERVER"
  endpoint "http" { env = "PORT" }
  env     = { MARK = "TOKEN" }
  restart = "always"
  backoff { initial = "50ms" }
}
`, "TOKEN", tok))
	p.mustRun("up", "--wait", "--timeout", "60s")
	pid := p.pid("svc")
	p.waitStateHas(map[string]int{"svc": pid})
	p.killDaemon()
	p.mustRun("up", "-d")
	p.eventually("svc adopted", 10*time.Second, func() bool { return p.pid("svc") == pid })
	kill(t, pid, syscall.SIGKILL)
	p.eventually("svc restarted after its adopted process died", 20*time.Second, func() bool {
		r := p.ps()["svc"]
		return r.State == status.Running && r.Instances[0].PID != pid && r.Instances[0].PID != 0
	})
	if l := leadersByService(markedProcs("MARK", tok))["svc"]; len(l) != 1 {
		t.Fatalf("svc instance processes: %v", l)
	}
	p.mustRun("down")
	assertNoMarked(t, "MARK", tok)
}

// TestDownWithoutDaemonStopsRecordedProcesses: after kill -9 of the daemon,
// `down` alone stops everything state.json records, grandchildren
// included.
func TestDownWithoutDaemonStopsRecordedProcesses(t *testing.T) {
	tok := token(t)
	p := newProject(t, strings.ReplaceAll(`
executable "svc" {
  command = "SERVER"
  endpoint "http" { env = "PORT" }
  env = { MARK = "TOKEN" }
}
executable "tree" {
  command = "sh"
  args    = ["-c", "sleep 300 & sleep 300 & wait"]
  env     = { MARK = "TOKEN" }
}
`, "TOKEN", tok))
	p.mustRun("up", "--wait", "--timeout", "60s")
	p.waitStateHas(map[string]int{"svc": p.pid("svc"), "tree": p.pid("tree")})
	p.killDaemon()
	if n := len(markedProcs("MARK", tok)); n < 4 {
		t.Fatalf("%d marked processes after the daemon died, want svc + tree + 2 sleeps", n)
	}
	p.mustRun("down")
	assertNoMarked(t, "MARK", tok)
}

// TestLeaderDiedWhileDaemonDownLeavesNoGrandchildren: while no daemon
// runs, an instance's leader dies but its children (same process group)
// live on. The next daemon cannot adopt the instance; it must not leave
// the children running as orphans next to the replacement.
func TestLeaderDiedWhileDaemonDownLeavesNoGrandchildren(t *testing.T) {
	tok := token(t)
	p := newProject(t, strings.ReplaceAll(`
executable "tree" {
  command = "sh"
  args    = ["-c", "sleep 300 & sleep 300 & wait"]
  env     = { MARK = "TOKEN" }
}
`, "TOKEN", tok))
	p.mustRun("up", "--wait", "--timeout", "60s")
	leader := p.pid("tree")
	p.waitStateHas(map[string]int{"tree": leader})
	p.killDaemon()
	kill(t, leader, syscall.SIGKILL)
	waitDead(t, leader, 5*time.Second)
	var orphans []int
	for _, pi := range markedProcs("MARK", tok) {
		orphans = append(orphans, pi.PID)
	}
	if len(orphans) != 2 {
		t.Fatalf("want the 2 sleeps left in the dead leader's group, got %v", orphans)
	}
	p.mustRun("up", "-d")
	p.eventually("tree replaced", 20*time.Second, func() bool {
		r := p.ps()["tree"]
		return r.State == status.Running && r.Instances[0].PID != leader && r.Instances[0].PID != 0
	})
	for _, pid := range orphans {
		waitDead(t, pid, 10*time.Second)
	}
	p.mustRun("down")
	assertNoMarked(t, "MARK", tok)
}

// ---- 2. graceful shutdown --------------------------------------------

// foreground starts `apphostd up` in the foreground and returns it with
// its combined output.
func (p *project) foreground(args ...string) (*exec.Cmd, *syncBuffer) {
	p.t.Helper()
	cmd := exec.Command(bin, append([]string{"up"}, args...)...)
	cmd.Dir = p.dir
	cmd.Env = append(os.Environ(), "CI=true")
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	p.t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	return cmd, out
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(b)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waitExitCode waits for cmd to exit within timeout and returns its code.
func waitExitCode(t *testing.T, cmd *exec.Cmd, timeout time.Duration, out fmt.Stringer) (int, time.Duration) {
	t.Helper()
	start := time.Now()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return code, time.Since(start)
	case <-time.After(timeout):
		t.Fatalf("`up` did not exit within %v\n%s", timeout, out)
	}
	return 0, 0
}

// TestGracefulShutdownInReverseDependencyOrder sends SIGTERM to a
// foreground `up`: every resource is stopped, a dependency only after its
// dependents have exited, and `up` exits 0 well within the bound.
func TestGracefulShutdownInReverseDependencyOrder(t *testing.T) {
	tok := token(t)
	// Each resource records when it got SIGTERM and exits 0 a little
	// later, so an out-of-order stop shows as overlapping times.
	stopper := func(name string) string {
		return fmt.Sprintf(`["-c", "trap 'date +%%s%%N > stop-%[1]s; sleep 0.3; date +%%s%%N > exit-%[1]s; exit 0' TERM; while :; do sleep 0.05; done"]`, name)
	}
	p := newProject(t, strings.ReplaceAll(fmt.Sprintf(`
executable "db" {
  command = "sh"
  args    = %s
  env     = { MARK = "TOKEN" }
}
executable "api" {
  command  = "sh"
  args     = %s
  env      = { MARK = "TOKEN" }
  wait_for = [executable.db]
}
executable "web" {
  command  = "sh"
  args     = %s
  env      = { MARK = "TOKEN" }
  wait_for = [executable.api]
}
executable "side" {
  command  = "sh"
  args     = %s
  env      = { MARK = "TOKEN" }
  wait_for = [executable.api]
}
`, stopper("db"), stopper("api"), stopper("web"), stopper("side")), "TOKEN", tok))
	cmd, out := p.foreground("--stop-grace", "20s")
	p.eventually("all running", 30*time.Second, func() bool {
		if _, code := p.run("ps"); code != 0 {
			return false
		}
		rs := p.ps()
		for _, n := range []string{"db", "api", "web", "side"} {
			if rs[n].State != status.Running {
				return false
			}
		}
		return true
	})
	kill(t, cmd.Process.Pid, syscall.SIGTERM)
	code, took := waitExitCode(t, cmd, 60*time.Second, out)
	if code != 0 {
		t.Fatalf("up exited %d after SIGTERM\n%s", code, out)
	}
	t.Logf("orderly shutdown of 4 resources took %v", took)
	read := func(f string) int64 {
		b, err := os.ReadFile(filepath.Join(p.dir, f))
		if err != nil {
			t.Fatalf("%s: %v (the resource never got SIGTERM?)\n%s", f, err, out)
		}
		n, _ := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		return n
	}
	// web and side depend on api, api on db: a dependency gets SIGTERM
	// only after every dependent has exited.
	for _, e := range [][2]string{{"web", "api"}, {"side", "api"}, {"api", "db"}} {
		if dep, of := read("exit-"+e[0]), read("stop-"+e[1]); of < dep {
			t.Errorf("%s got SIGTERM %v before its dependent %s exited", e[1], time.Duration(dep-of), e[0])
		}
	}
	// Same depth stops in parallel: web and side both got SIGTERM before
	// either exited.
	if read("stop-side") > read("exit-web") || read("stop-web") > read("exit-side") {
		t.Error("web and side (same depth) were not stopped in parallel")
	}
	assertNoMarked(t, "MARK", tok)
}

// TestSecondSignalForcesShutdown: a resource that ignores SIGTERM holds an
// orderly shutdown for its whole grace period; a second SIGTERM to `up`
// kills everything at once.
func TestSecondSignalForcesShutdown(t *testing.T) {
	tok := token(t)
	p := newProject(t, strings.ReplaceAll(`
executable "stubborn" {
  command = "sh"
  args    = ["-c", "trap 'echo got TERM' TERM; while :; do sleep 0.05; done"]
  env     = { MARK = "TOKEN" }
}
executable "svc" {
  command = "SERVER"
  endpoint "http" { env = "PORT" }
  env = { MARK = "TOKEN" }
}
`, "TOKEN", tok))
	cmd, out := p.foreground("--stop-grace", "5m")
	p.eventually("all running", 30*time.Second, func() bool {
		if _, code := p.run("ps"); code != 0 {
			return false
		}
		rs := p.ps()
		return rs["stubborn"].State == status.Running && rs["svc"].State == status.Running
	})
	stubborn := p.pid("stubborn")
	kill(t, cmd.Process.Pid, syscall.SIGTERM)
	p.eventually("stubborn got and ignored SIGTERM", 20*time.Second, func() bool {
		return strings.Contains(out.String(), "got TERM")
	})
	time.Sleep(500 * time.Millisecond) // past the duplicate-signal filter
	if !alive(stubborn) {
		t.Fatal("stubborn died before its grace period")
	}
	kill(t, cmd.Process.Pid, syscall.SIGTERM)
	code, took := waitExitCode(t, cmd, 30*time.Second, out)
	if code != 130 {
		t.Errorf("forced stop: exit %d, want 130\n%s", code, out)
	}
	if !strings.Contains(out.String(), "forcing stop") {
		t.Errorf("no 'forcing stop' in the output:\n%s", out)
	}
	t.Logf("second signal to exit: %v (grace was 5m)", took)
	assertNoMarked(t, "MARK", tok)
}

// ---- 3. resource faults ----------------------------------------------

// TestStopGraceKillsResourceIgnoringTERM: `apphostd stop` of a resource
// (and its child) that ignore SIGTERM ends with SIGKILL after --stop-grace.
func TestStopGraceKillsResourceIgnoringTERM(t *testing.T) {
	tok := token(t)
	p := newProject(t, strings.ReplaceAll(`
executable "stubborn" {
  command = "sh"
  args    = ["-c", "trap '' TERM; sleep 300 & while :; do sleep 0.05; done"]
  env     = { MARK = "TOKEN" }
}
`, "TOKEN", tok))
	p.mustRun("up", "-d", "--stop-grace", "1s")
	p.eventually("running", 20*time.Second, func() bool { return p.ps()["stubborn"].State == status.Running })
	start := time.Now()
	p.mustRun("stop", "stubborn")
	took := time.Since(start)
	if took < time.Second {
		t.Errorf("stop returned after %v, before the 1s grace", took)
	}
	r := p.ps()["stubborn"]
	if r.State != status.Exited || r.ExitCode == nil || *r.ExitCode != 128+int(syscall.SIGKILL) {
		t.Errorf("after stop: %s exit %v, want Exited by SIGKILL (137)", r.State, r.ExitCode)
	}
	assertNoMarked(t, "MARK", tok)
	b, _ := os.ReadFile(filepath.Join(p.stateDir(), "daemon.log"))
	if !strings.Contains(string(b), "grace elapsed, killing") {
		t.Error("daemon.log does not say the grace period elapsed")
	}
}

// TestNoGrandchildrenSurvive: processes that fork grandchildren (double
// fork, so they are reparented to init; children ignoring SIGTERM) leave
// nothing behind once stopped, and neither does a leader that forks
// background processes and exits by itself (they end with it, as in a
// container whose init exits).
func TestNoGrandchildrenSurvive(t *testing.T) {
	tok := token(t)
	p := newProject(t, strings.ReplaceAll(`
executable "forker" {
  command = "sh"
  args    = ["-c", "(sleep 301 &); (sh -c 'sleep 302 & sleep 303' &); (trap '' TERM; exec sleep 304) & exec sleep 300"]
  env     = { MARK = "TOKEN" }
}
executable "launcher" {
  command = "sh"
  args    = ["-c", "(sleep 305 &); sleep 306 & echo launched $!; exit 0"]
  env     = { MARK = "TOKEN" }
}
`, "TOKEN", tok))
	p.mustRun("up", "-d")
	service := func(name string) []procInfo {
		var out []procInfo
		for _, pi := range markedProcs("MARK", tok) {
			if pi.Env["OTEL_SERVICE_NAME"] == name {
				out = append(out, pi)
			}
		}
		return out
	}
	p.eventually("forker's tree up", 20*time.Second, func() bool { return len(service("forker")) >= 5 })
	reparented := 0
	for _, pi := range service("forker") {
		if pi.PID != pi.PGID && pi.PPID != pi.PGID {
			reparented++
		}
	}
	if reparented == 0 {
		t.Fatal("no grandchild was reparented away from its leader: the double fork did not happen")
	}
	p.eventually("launcher finished", 20*time.Second, func() bool { return p.ps()["launcher"].State == status.Finished })
	if out := p.mustRun("logs", "launcher"); !strings.Contains(out, "launched") {
		t.Fatalf("launcher did not get to fork: %q", out)
	}
	p.eventually("launcher's background processes gone with it", 10*time.Second, func() bool { return len(service("launcher")) == 0 })
	p.mustRun("stop", "forker")
	if left := service("forker"); len(left) > 0 {
		t.Fatalf("after stop, forker left %d processes: %+v", len(left), left)
	}
	p.mustRun("down")
	assertNoMarked(t, "MARK", tok)
}

// TestCrashLoopIsCappedAndDoesNotDelayOthers: a resource that exits at
// once backs off (visible as BackOff, delay capped at backoff.max) while
// resources declared alongside it and added later start and pass health
// checks.
func TestCrashLoopIsCappedAndDoesNotDelayOthers(t *testing.T) {
	tok := token(t)
	base := strings.ReplaceAll(`
executable "crasher" {
  command = "sh"
  args    = ["-c", "exit 1"]
  env     = { MARK = "TOKEN" }
  restart = "always"
  backoff {
    initial = "20ms"
    max     = "200ms"
  }
}
executable "steady" {
  command = "SERVER"
  endpoint "http" { env = "PORT" }
  env = { MARK = "TOKEN" }
  health {
    http { path = "/healthz" }
  }
}
`, "TOKEN", tok)
	p := newProject(t, base)
	p.mustRun("up", "-d")
	p.eventually("steady healthy next to a crash loop", 30*time.Second, func() bool { return p.ps()["steady"].Ready() })
	// Uncapped doubling from 20ms would need 20ms*(2^12-1) ≈ 82s for 12
	// restarts; capped at 200ms it needs about 2s.
	var sawBackOff bool
	start := time.Now()
	p.eventually("12 restarts", 40*time.Second, func() bool {
		r := p.ps()["crasher"]
		sawBackOff = sawBackOff || r.State == status.BackOff
		return r.Restarts >= 12
	})
	t.Logf("12 restarts in %v", time.Since(start))
	if !sawBackOff {
		t.Error("crash loop never showed as BackOff")
	}
	// A resource added during the crash loop starts and gets healthy.
	p.write(base + strings.ReplaceAll(`
executable "late" {
  command = "SERVER"
  endpoint "http" { env = "PORT" }
  env = { MARK = "TOKEN" }
  health {
    http { path = "/healthz" }
  }
}
`, "TOKEN", tok))
	p.eventually("late healthy during the crash loop", 30*time.Second, func() bool { return p.ps()["late"].Ready() })
	p.mustRun("down")
	assertNoMarked(t, "MARK", tok)
}

// TestLogFloodIsBounded: a resource writing ~100 MB/s for a few seconds
// neither blocks itself nor grows the daemon's memory or the log files
// without bound, and the other resources (and the API) keep working. A
// log follower that stops reading is part of the load.
func TestLogFloodIsBounded(t *testing.T) {
	tok := token(t)
	// 10 MiB of 100-byte lines per burst, ~10 bursts a second.
	p := newProject(t, strings.ReplaceAll(`
executable "flood" {
  command = "sh"
  args    = ["-c", "line=$(printf 'flood %093d' 0); while :; do yes \"$line\" | head -c 10485760; echo burst; sleep 0.1; done"]
  env     = { MARK = "TOKEN" }
}
executable "steady" {
  command = "SERVER"
  endpoint "http" { env = "PORT" }
  env = { MARK = "TOKEN" }
  health {
    http { path = "/healthz" }
    interval = "200ms"
  }
}
`, "TOKEN", tok))
	p.mustRun("up", "--wait", "--timeout", "60s")
	dpid := p.daemonPID()
	rssBefore := vmStatus(dpid, "VmRSS")
	steady := p.ps()["steady"]
	floodPID := p.pid("flood")

	// A follower that never reads: the daemon must drop lines for it, not
	// buffer them.
	stalled, err := net.Dial("unix", p.socket())
	if err != nil {
		t.Fatal(err)
	}
	defer stalled.Close()
	fmt.Fprintf(stalled, "GET /v1/logs?resource=flood&follow=true&tail=0 HTTP/1.1\r\nHost: apphostd\r\n\r\n")

	logDir := filepath.Join(p.stateDir(), "logs")
	var maxTotal, maxFile int64
	var probes, probeFails, apiCalls int
	end := time.Now().Add(5 * time.Second)
	for time.Now().Before(end) {
		resp, err := http.Get(steady.Endpoints[0].URL + "/healthz")
		probes++
		if err != nil || resp.StatusCode != http.StatusOK {
			probeFails++
		}
		if resp != nil {
			resp.Body.Close()
		}
		var rs []status.Resource
		if code := p.api("GET", "/v1/resources", &rs); code == http.StatusOK {
			apiCalls++
		}
		var total int64
		files, _ := filepath.Glob(filepath.Join(logDir, "flood.log*"))
		for _, f := range files {
			if fi, err := os.Stat(f); err == nil {
				total += fi.Size()
				maxFile = max(maxFile, fi.Size())
			}
		}
		maxTotal = max(maxTotal, total)
		time.Sleep(100 * time.Millisecond)
	}
	rssAfter, hwm := vmStatus(dpid, "VmRSS"), vmStatus(dpid, "VmHWM")
	t.Logf("daemon RSS %d KiB before, %d KiB after, peak %d KiB; flood files peak %d MiB total, %d MiB largest; %d/%d probes ok, %d API calls",
		rssBefore, rssAfter, hwm, maxTotal>>20, maxFile>>20, probes-probeFails, probes, apiCalls)
	if hwm > 150<<10 {
		t.Errorf("daemon peak RSS %d KiB, over the 150 MiB bound", hwm)
	}
	// Rotation keeps FILE + 3 copies of about 10 MiB (each at most 8×).
	files, _ := filepath.Glob(filepath.Join(logDir, "flood.log*"))
	if len(files) > 5 { // FILE, FILE.1..3, and possibly FILE.1.tmp mid-rotation
		t.Errorf("flood log files: %v", files)
	}
	if maxFile > 80<<20 || maxTotal > 4*80<<20 {
		t.Errorf("log files unbounded: largest %d MiB, total %d MiB", maxFile>>20, maxTotal>>20)
	}
	rotated, _ := os.Stat(filepath.Join(logDir, "flood.log.1"))
	if rotated == nil {
		t.Error("the flood never rotated")
	}
	if probeFails > 0 {
		t.Errorf("steady failed %d of %d health requests during the flood", probeFails, probes)
	}
	if apiCalls == 0 {
		t.Error("the API never answered during the flood")
	}
	rs := p.ps()
	if r := rs["steady"]; !r.Ready() || r.Instances[0].PID != steady.Instances[0].PID {
		t.Errorf("steady disturbed by the flood: %s/%s pid %d", r.State, r.Health, r.Instances[0].PID)
	}
	// The flood itself was never blocked or killed by its output.
	if r := rs["flood"]; r.State != status.Running || r.Instances[0].PID != floodPID || !alive(floodPID) {
		t.Errorf("flood: %s pid %d (was %d)", r.State, r.Instances[0].PID, floodPID)
	}
	if got := p.mustRun("logs", "--tail", "3", "flood"); !strings.Contains(got, "flood 000") {
		t.Errorf("recent flood output not served: %q", got)
	}
	// What was dropped for the stalled follower is counted in daemon.log.
	p.eventually("dropped lines reported in daemon.log", 15*time.Second, func() bool {
		b, _ := os.ReadFile(filepath.Join(p.stateDir(), "daemon.log"))
		return bytes.Contains(b, []byte(`"dropped_lines_total"`)) && bytes.Contains(b, []byte(`"resource":"flood"`))
	})
	if p.daemonPID() != dpid {
		t.Fatal("the daemon restarted")
	}
	p.mustRun("down")
	assertNoMarked(t, "MARK", tok)
}

// ---- 4. disk and state ------------------------------------------------

// TestCorruptStateFileIsSetAside: a truncated or garbage state.json does
// not stop the daemon; it is reported in daemon.log, kept as
// state.json.corrupt for inspection, and replaced by a valid file.
func TestCorruptStateFileIsSetAside(t *testing.T) {
	for name, content := range map[string]string{
		"truncated": `{"version":1,"daemon_pid":123,"instances":[{"id":"svc-0","resource":"svc","pid":1`,
		"garbage":   "\x00\x01not json at all\xff",
		"empty":     "",
		"wrongtype": `{"version":"one","instances":{"id":7}}`,
	} {
		t.Run(name, func(t *testing.T) {
			tok := token(t)
			p := newProject(t, strings.ReplaceAll(`
executable "svc" {
  command = "SERVER"
  endpoint "http" { env = "PORT" }
  env = { MARK = "TOKEN" }
}
`, "TOKEN", tok))
			if err := os.MkdirAll(p.stateDir(), 0o700); err != nil {
				t.Fatal(err)
			}
			stateFile := filepath.Join(p.stateDir(), "state.json")
			if err := os.WriteFile(stateFile, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			p.mustRun("up", "--wait", "--timeout", "60s")
			pid := p.pid("svc")
			set, err := os.ReadFile(stateFile + ".corrupt")
			if err != nil || string(set) != content {
				t.Errorf("state.json.corrupt = %q, %v; want the corrupt content kept", set, err)
			}
			log, _ := os.ReadFile(filepath.Join(p.stateDir(), "daemon.log"))
			if !strings.Contains(string(log), "state.json is corrupt") {
				t.Errorf("daemon.log does not report the corrupt state:\n%s", log)
			}
			p.waitStateHas(map[string]int{"svc": pid})
			p.mustRun("down")
			assertNoMarked(t, "MARK", tok)
		})
	}
}

// TestStateFileAlwaysValidDuringReloads reads state.json in a tight loop
// while 60 reloads restart a resource each: every read must be a complete,
// valid document (the writer uses write, fsync, rename).
func TestStateFileAlwaysValidDuringReloads(t *testing.T) {
	tok := token(t)
	cfg := func(rev int) string {
		return strings.ReplaceAll(fmt.Sprintf(`
executable "a" {
  command = "SERVER"
  endpoint "http" { env = "PORT" }
  env = { MARK = "TOKEN", REV = "%d" }
}
executable "b" {
  command = "SERVER"
  endpoint "http" { env = "PORT" }
  env = { MARK = "TOKEN" }
}
`, rev), "TOKEN", tok)
	}
	p := newProject(t, cfg(0))
	p.mustRun("up", "--wait", "--timeout", "60s")
	p.waitStateHas(map[string]int{"a": p.pid("a"), "b": p.pid("b")})
	stop := make(chan struct{})
	var reads, bad, missing int
	var firstBad string
	done := make(chan struct{})
	go func() {
		defer close(done)
		path := filepath.Join(p.stateDir(), "state.json")
		for {
			select {
			case <-stop:
				return
			default:
			}
			b, err := os.ReadFile(path)
			reads++
			if err != nil {
				missing++
				continue
			}
			var v struct {
				Instances []stateRecord `json:"instances"`
			}
			if err := json.Unmarshal(b, &v); err != nil {
				bad++
				if firstBad == "" {
					firstBad = fmt.Sprintf("%v: %q", err, b)
				}
			}
		}
	}()
	c := p.client()
	for rev := 1; rev <= 60; rev++ {
		p.write(cfg(rev))
		if _, err := c.Reload(context.Background()); err != nil {
			t.Fatalf("reload %d: %v", rev, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	p.eventually("a at the last revision", 30*time.Second, func() bool {
		r := p.ps()["a"]
		return r.State == status.Running && readEnviron(r.Instances[0].PID)["REV"] == "60"
	})
	close(stop)
	<-done
	t.Logf("%d reads of state.json during 60 reloads: %d invalid, %d missing", reads, bad, missing)
	if bad > 0 || missing > 0 {
		t.Fatalf("state.json was torn or missing: %d invalid, %d missing of %d reads; first: %s", bad, missing, reads, firstBad)
	}
	p.mustRun("down")
	assertNoMarked(t, "MARK", tok)
}

// ---- 5. socket security -------------------------------------------------

// TestStateDirAndSocketModes checks the modes of .apphost and of what the
// daemon writes into it, and that a stale socket left by a killed daemon
// is replaced by the next one.
func TestStateDirAndSocketModes(t *testing.T) {
	tok := token(t)
	p := newProject(t, strings.ReplaceAll(`
parameter "pw" {
  secret = true
  generate { length = 16 }
}
executable "svc" {
  command = "SERVER"
  endpoint "http" { env = "PORT" }
  env = { MARK = "TOKEN", PW = parameter.pw.value }
}
`, "TOKEN", tok))
	// A pre-existing, too-open state directory is tightened.
	if err := os.Mkdir(p.stateDir(), 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p.stateDir(), 0o777); err != nil {
		t.Fatal(err)
	}
	p.mustRun("up", "--wait", "--timeout", "60s")
	p.waitStateHas(map[string]int{"svc": p.pid("svc")})
	mode := func(rel string) os.FileMode {
		fi, err := os.Lstat(filepath.Join(p.stateDir(), rel))
		if err != nil {
			t.Fatalf("%s: %v", rel, err)
		}
		return fi.Mode()
	}
	for rel, want := range map[string]os.FileMode{
		".":             os.ModeDir | 0o700,
		"logs":          os.ModeDir | 0o700,
		"volumes":       os.ModeDir | 0o700,
		"apphostd.sock": os.ModeSocket | 0o600,
		"lock":          0o600,
		"state.json":    0o600,
		"ports.json":    0o600,
		"secrets.json":  0o600,
		"daemon.log":    0o600,
		"logs/svc.log":  0o600,
	} {
		if got := mode(rel); got != want {
			t.Errorf(".apphost/%s: mode %v, want %v", rel, got, want)
		}
	}
	// Stale socket: the killed daemon leaves the file; the next up
	// replaces it and answers on it.
	old := p.killDaemon()
	p.waitUnlocked()
	if _, err := os.Lstat(p.socket()); err != nil {
		t.Fatalf("the killed daemon's socket is gone (%v); nothing stale to test", err)
	}
	if c, err := net.Dial("unix", p.socket()); err == nil {
		c.Close()
		t.Fatal("the dead daemon's socket accepts")
	}
	p.mustRun("up", "-d")
	if pid := p.daemonPID(); pid == old {
		t.Fatal("old daemon answered")
	}
	if fi, err := os.Lstat(p.socket()); err != nil || fi.Mode() != os.ModeSocket|0o600 {
		t.Errorf("new socket: %v %v", fi, err)
	}
	p.mustRun("down")
	assertNoMarked(t, "MARK", tok)
}

// peerProbeSrc is a client that connects to a socket and reports what it
// got; the test runs it as another user.
const peerProbeSrc = `package main

import (
	"fmt"
	"io"
	"net"
	"os"
	"time"
)

func main() {
	c, err := net.Dial("unix", os.Args[1])
	if err != nil {
		fmt.Println("dial:", err)
		return
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(c, "GET /v1/env HTTP/1.1\r\nHost: apphostd\r\n\r\n")
	b, err := io.ReadAll(c)
	fmt.Printf("read %d bytes: %q err=%v\n", len(b), b, err)
}
`

// TestOtherUserIsRefused loosens the socket's and directories' modes by
// hand and connects as uid 65534: SO_PEERCRED still refuses the peer, so
// it gets no byte of an answer (and no secret from /v1/env).
func TestOtherUserIsRefused(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run a client as another uid")
	}
	tok := token(t)
	p := newProject(t, strings.ReplaceAll(`
executable "svc" {
  command = "SERVER"
  endpoint "http" { env = "PORT" }
  env = { MARK = "TOKEN" }
}
`, "TOKEN", tok))
	p.mustRun("up", "--wait", "--timeout", "60s")
	dir, err := os.MkdirTemp("", "peerprobe")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(peerProbeSrc), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module peerprobe\n\ngo 1.22\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	probe := filepath.Join(dir, "probe")
	build := exec.Command("go", "build", "-o", probe, "main.go")
	build.Dir = dir
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build probe: %v\n%s", err, out)
	}
	_ = os.Chmod(dir, 0o755)
	// Open every directory on the way and the socket itself.
	for d := p.stateDir(); d != "/" && d != "."; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm()&0o001 == 0 {
			orig := fi.Mode().Perm()
			_ = os.Chmod(d, orig|0o011)
			t.Cleanup(func() { _ = os.Chmod(d, orig) })
		}
	}
	if err := os.Chmod(p.socket(), 0o666); err != nil {
		t.Fatal(err)
	}
	run := func(uid uint32) string {
		cmd := exec.Command(probe, p.socket())
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: uid}}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("probe as uid %d: %v\n%s", uid, err, out)
		}
		return string(out)
	}
	out := run(65534)
	if !strings.HasPrefix(out, "read 0 bytes") {
		t.Fatalf("uid 65534 got an answer: %s", out)
	}
	// Control: the same probe as root (the daemon's uid) is answered.
	if out := run(0); !strings.Contains(out, "200 OK") {
		t.Fatalf("root was not answered: %s", out)
	}
	log, _ := os.ReadFile(filepath.Join(p.stateDir(), "daemon.log"))
	if !strings.Contains(string(log), `"peer_uid":65534`) {
		t.Error("daemon.log does not record the refused peer")
	}
	_ = os.Chmod(p.socket(), 0o600)
	p.mustRun("down")
	assertNoMarked(t, "MARK", tok)
}

// ---- 6. hostile input -----------------------------------------------

// rawExchange sends raw bytes on a new connection to the socket and
// returns the response (status line, a blank line, the body) or "" if the
// daemon closed the connection without one, and how long that took.
func rawExchange(t *testing.T, sock string, req []byte, deadline time.Duration) (string, time.Duration) {
	t.Helper()
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	_ = c.SetDeadline(start.Add(deadline))
	go func() { _, _ = c.Write(req) }()
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return "", time.Since(start)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return fmt.Sprintf("HTTP/%d.%d %s\r\n\r\n%s", resp.ProtoMajor, resp.ProtoMinor, resp.Status, body), time.Since(start)
}

// TestHostileRequestsGetQuick4xx throws malformed, oversized and slow
// requests at a real daemon: each gets a 4xx (JSON where the daemon, not
// net/http, answers) or a closed connection within a bound, and the daemon
// keeps serving everyone else.
func TestHostileRequestsGetQuick4xx(t *testing.T) {
	tok := token(t)
	p := newProject(t, strings.ReplaceAll(`
executable "svc" {
  command = "SERVER"
  endpoint "http" { env = "PORT" }
  env = { MARK = "TOKEN" }
}
`, "TOKEN", tok))
	p.mustRun("up", "--wait", "--timeout", "60s")
	dpid := p.daemonPID()
	sock := p.socket()
	big := strings.Repeat("x", 2<<20)
	cases := []struct {
		name   string
		req    string
		status string // expected status line prefix
		json   bool   // body must be the JSON error shape
	}{
		{"declared body over 1 MiB", "POST /v1/reload HTTP/1.1\r\nHost: a\r\nContent-Length: 2097152\r\n\r\n", "HTTP/1.1 413", true},
		{"chunked body over 1 MiB", "POST /v1/reload HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n" + fmt.Sprintf("%x\r\n%s\r\n0\r\n\r\n", len(big), big), "HTTP/1.1 413", true},
		{"headers over 64 KiB", "GET /v1/info HTTP/1.1\r\nHost: a\r\nX-Big: " + strings.Repeat("y", 100<<10) + "\r\n\r\n", "HTTP/1.1 431", false},
		{"garbage request line", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage\r\n\r\n", "HTTP/1.1 400", false},
		{"no HTTP version", "GET /v1/info\r\n\r\n", "HTTP/1.1 400", false},
		{"bad header line", "GET /v1/info HTTP/1.1\r\nHost: a\r\nno colon here\r\n\r\n", "HTTP/1.1 400", false},
		{"HTTP/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "HTTP/1.1 4", false},
		{"unknown route", "GET /v2/info HTTP/1.1\r\nHost: a\r\n\r\n", "HTTP/1.1 404", true},
		{"path traversal", "GET /v1/resources/..%2f..%2fetc%2fpasswd HTTP/1.1\r\nHost: a\r\n\r\n", "HTTP/1.1 404", true},
		{"wrong method", "DELETE /v1/info HTTP/1.1\r\nHost: a\r\n\r\n", "HTTP/1.1 405", true},
		{"bad tail", "GET /v1/logs?tail=abc HTTP/1.1\r\nHost: a\r\n\r\n", "HTTP/1.1 400", true},
		{"negative tail", "GET /v1/logs?tail=-5 HTTP/1.1\r\nHost: a\r\n\r\n", "HTTP/1.1 400", true},
		{"bad escape", "GET /v1/logs?resource=%zz HTTP/1.1\r\nHost: a\r\n\r\n", "HTTP/1.1 400", true},
		{"repeated param", "GET /v1/graph?format=dot&format=json HTTP/1.1\r\nHost: a\r\n\r\n", "HTTP/1.1 400", true},
		{"bad format", "GET /v1/graph?format=svg HTTP/1.1\r\nHost: a\r\n\r\n", "HTTP/1.1 400", true},
		{"timeout over max", "POST /v1/resources/svc/restart?timeout=10000h HTTP/1.1\r\nHost: a\r\n\r\n", "HTTP/1.1 400", true},
		{"bad timeout", "POST /v1/resources/svc/stop?timeout=soon HTTP/1.1\r\nHost: a\r\n\r\n", "HTTP/1.1 400", true},
		{"unknown resource", "POST /v1/resources/nope/start HTTP/1.1\r\nHost: a\r\n\r\n", "HTTP/1.1 404", true},
		{"huge resource name", "GET /v1/resources/" + strings.Repeat("n", 60<<10) + " HTTP/1.1\r\nHost: a\r\n\r\n", "HTTP/1.1 404", true},
		{"NUL in path", "GET /v1/resources/a\x00b HTTP/1.1\r\nHost: a\r\n\r\n", "HTTP/1.1 400", false},
		{"unknown env resource", "GET /v1/env?resource=nope HTTP/1.1\r\nHost: a\r\n\r\n", "HTTP/1.1 404", true},
	}
	tried := 0
	for _, c := range cases {
		got, took := rawExchange(t, sock, []byte(c.req), 10*time.Second)
		tried++
		if !strings.HasPrefix(got, c.status) {
			t.Errorf("%s: got %q after %v, want %s", c.name, trunc(got, 200), took, c.status)
			continue
		}
		if took > 5*time.Second {
			t.Errorf("%s: answered after %v", c.name, took)
		}
		if c.json {
			_, body, _ := strings.Cut(got, "\r\n\r\n")
			var eb struct {
				Error *struct{ Code, Message string } `json:"error"`
			}
			if err := json.Unmarshal([]byte(body), &eb); err != nil || eb.Error == nil || eb.Error.Code == "" {
				t.Errorf("%s: body is not the JSON error shape: %q", c.name, trunc(body, 200))
			}
		}
	}

	// Slow clients: headers that never end (slow loris) and a body that
	// never arrives are cut off by the read timeouts; meanwhile 40 of them
	// do not stop a normal request from being served.
	var wg sync.WaitGroup
	slow := []struct {
		name  string
		req   string
		bound time.Duration
	}{
		{"slow loris", "GET /v1/info HTTP/1.1\r\nHost: a\r\nX-Slow: ", 2*time.Second + 3*time.Second},
		{"body never sent", "POST /v1/reload HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\nonly-some", 10*time.Second + 5*time.Second},
	}
	errs := make(chan string, 100)
	for _, s := range slow {
		for i := 0; i < 20; i++ {
			wg.Add(1)
			tried++
			go func(name, req string, bound time.Duration) {
				defer wg.Done()
				got, took := rawExchange(t, sock, []byte(req), bound+10*time.Second)
				if took > bound {
					errs <- fmt.Sprintf("%s: connection held %v (bound %v), got %q", name, took, bound, trunc(got, 100))
				}
				if got != "" && !strings.HasPrefix(got, "HTTP/1.1 4") {
					errs <- fmt.Sprintf("%s: answered %q", name, trunc(got, 100))
				}
			}(s.name, s.req, s.bound)
		}
	}
	time.Sleep(300 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	if _, err := p.client().Resources(ctx); err != nil {
		t.Errorf("a normal request failed while 40 slow clients were connected: %v", err)
	}
	cancel()
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if p.daemonPID() != dpid {
		t.Fatal("the daemon restarted")
	}
	t.Logf("%d hostile requests tried against the daemon", tried)
	p.mustRun("down")
	assertNoMarked(t, "MARK", tok)
}

func trunc(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// TestEditRevertedWhileStoppingRestarts: an edit replaces an instance;
// while the old one is still stopping, the edit is undone (the file is
// back to the running instance's spec). The resource must end up running
// the reverted spec, not stay Exited because the old instance, which
// matches the file again, was stopped "by request". (Found by the W4 run.)
func TestEditRevertedWhileStoppingRestarts(t *testing.T) {
	tok := token(t)
	cfg := func(rev int) string {
		return strings.ReplaceAll(fmt.Sprintf(`
executable "slowstop" {
  command = "sh"
  args    = ["-c", "trap 'sleep 0.5; exit 0' TERM; while :; do sleep 0.05; done"]
  env     = { MARK = "TOKEN", REV = "%d" }
}
`, rev), "TOKEN", tok)
	}
	p := newProject(t, cfg(0))
	p.mustRun("up", "--wait", "--timeout", "60s")
	old := p.pid("slowstop")
	c := p.client()
	p.write(cfg(1))
	if _, err := c.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	p.eventually("the old instance stopping", 10*time.Second, func() bool { return p.ps()["slowstop"].State == status.Stopping })
	p.write(cfg(0))
	if _, err := c.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	p.eventually("slowstop running the reverted spec", 20*time.Second, func() bool {
		r := p.ps()["slowstop"]
		return r.State == status.Running && r.Instances[0].PID != old && readEnviron(r.Instances[0].PID)["REV"] == "0"
	})
	p.mustRun("down")
	assertNoMarked(t, "MARK", tok)
}

// TestFullDiskDoesNotStopResources puts .apphost on a 4 MiB tmpfs and lets
// a resource fill it: writes of output (and of state.json, daemon.log)
// fail with ENOSPC, but no resource is stopped or blocked, the daemon
// keeps answering, and stop and down still work.
func TestFullDiskDoesNotStopResources(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a small tmpfs")
	}
	tok := token(t)
	p := newProject(t, strings.ReplaceAll(`
executable "filler" {
  command = "sh"
  args    = ["-c", "while :; do echo 'filling the disk with output that has nowhere to go, again and again' || sleep 0.02; done"]
  env     = { MARK = "TOKEN" }
}
executable "ticker" {
  command = "sh"
  args    = ["-c", "i=0; while :; do i=$((i+1)); echo tick $i; echo $i > progress; sleep 0.05; done"]
  env     = { MARK = "TOKEN" }
}
executable "steady" {
  command = "SERVER"
  endpoint "http" { env = "PORT" }
  env = { MARK = "TOKEN" }
  health {
    http { path = "/healthz" }
    interval = "200ms"
  }
}
`, "TOKEN", tok))
	if err := os.Mkdir(p.stateDir(), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", p.stateDir(), "tmpfs", 0, "size=4m,mode=0700"); err != nil {
		t.Skipf("cannot mount a tmpfs here: %v", err)
	}
	// Registered after newProject's cleanup, so it runs first: detach
	// lazily, the files stay reachable for `down` through open handles.
	t.Cleanup(func() { _ = syscall.Unmount(p.stateDir(), syscall.MNT_DETACH) })
	p.mustRun("up", "--wait", "--timeout", "60s")
	dpid := p.daemonPID()
	before := p.ps()
	p.eventually("the state directory full", 30*time.Second, func() bool {
		var st syscall.Statfs_t
		return syscall.Statfs(p.stateDir(), &st) == nil && st.Bavail == 0
	})
	progress := func() int {
		b, _ := os.ReadFile(filepath.Join(p.dir, "progress"))
		n, _ := strconv.Atoi(strings.TrimSpace(string(b)))
		return n
	}
	start := progress()
	time.Sleep(2 * time.Second)
	if progress() <= start {
		t.Errorf("ticker made no progress on a full disk (%d → %d)", start, progress())
	}
	after := p.ps()
	for _, n := range []string{"filler", "ticker", "steady"} {
		if after[n].State != status.Running || after[n].Instances[0].PID != before[n].Instances[0].PID {
			t.Errorf("%s on a full disk: %s pid %d (was %d)", n, after[n].State, after[n].Instances[0].PID, before[n].Instances[0].PID)
		}
	}
	if !after["steady"].Ready() {
		t.Errorf("steady is %s/%s on a full disk", after["steady"].State, after["steady"].Health)
	}
	resp, err := http.Get(after["steady"].Endpoints[0].URL + "/healthz")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("steady does not answer on a full disk: %v", err)
	}
	if resp != nil {
		resp.Body.Close()
	}
	if p.daemonPID() != dpid {
		t.Fatal("the daemon restarted")
	}
	p.mustRun("stop", "filler")
	p.mustRun("down")
	assertNoMarked(t, "MARK", tok)
}

// TestBindMountOutsideProjectShownInDescribe: a bind mount of a path
// outside the project is allowed, but `describe` (and the API) show it as
// a warning; one inside the project is not flagged.
func TestBindMountOutsideProjectShownInDescribe(t *testing.T) {
	p := newProject(t, `
container "c" {
  image = "apphostd-e2e/absent:1"
  pull  = "never"
  mount {
    source = "/etc"
    target = "/host-etc"
  }
  mount {
    source = "../sibling"
    target = "/sibling"
  }
  mount {
    source = "./inside"
    target = "/inside"
  }
}
`)
	p.mustRun("up", "-d")
	var out string
	p.eventually("describe shows the warnings", 20*time.Second, func() bool {
		out, _ = p.run("describe", "c")
		return strings.Contains(out, "Warnings")
	})
	for _, want := range []string{"/etc → /host-etc is outside the project", "→ /sibling is outside the project"} {
		if !strings.Contains(out, want) {
			t.Errorf("describe lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "/inside is outside") {
		t.Errorf("a mount inside the project is flagged:\n%s", out)
	}
	var r status.Resource
	p.api("GET", "/v1/resources/c", &r)
	if len(r.Warnings) != 2 {
		t.Errorf("API warnings %q, want the 2 outside mounts", r.Warnings)
	}
}

// TestShutdownIsBoundedWithoutASecondSignal: with a resource that ignores
// SIGTERM and a 5-minute --stop-grace, one SIGTERM to `up` still ends
// within the daemon's shutdown bound (30 s): what is left is SIGKILLed.
func TestShutdownIsBoundedWithoutASecondSignal(t *testing.T) {
	tok := token(t)
	p := newProject(t, strings.ReplaceAll(`
executable "stubborn" {
  command = "sh"
  args    = ["-c", "trap 'echo got TERM' TERM; while :; do sleep 0.05; done"]
  env     = { MARK = "TOKEN" }
}
`, "TOKEN", tok))
	cmd, out := p.foreground("--stop-grace", "5m")
	p.eventually("running", 30*time.Second, func() bool {
		if _, code := p.run("ps"); code != 0 {
			return false
		}
		return p.ps()["stubborn"].State == status.Running
	})
	kill(t, cmd.Process.Pid, syscall.SIGTERM)
	code, took := waitExitCode(t, cmd, 60*time.Second, out)
	t.Logf("one SIGTERM, a TERM-ignoring resource, 5m grace: up exited %d after %v", code, took)
	if !strings.Contains(out.String(), "got TERM") {
		t.Errorf("the resource never got SIGTERM:\n%s", out)
	}
	assertNoMarked(t, "MARK", tok)
}
