package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/joho/godotenv"
	"go.yaml.in/yaml/v3"

	"github.com/apphostd/apphostd/pkg/runtime/process"
)

// ciServices is two probed servers, api waiting for db: what a test suite
// needs up before it runs.
const ciServices = `
executable "db" {
  command = "SERVER"
  endpoint "http" { env = "PORT" }
  env = { MESSAGE = "db" }
  health {
    http { path = "/healthz" }
  }
}
executable "api" {
  command = "SERVER"
  endpoint "http" { env = "PORT" }
  env = { MESSAGE = "api" }
  references = [executable.db]
  wait_for   = [executable.db]
  health {
    http { path = "/healthz" }
  }
}
`

// runResult is one finished apphostd invocation with separate streams.
type runResult struct {
	stdout, stderr string
	code           int
	elapsed        time.Duration
}

// command builds an apphostd invocation in the project, as CI runs it.
func (p *project) command(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = p.dir
	cmd.Env = append(os.Environ(), "CI=true", "GITHUB_ACTIONS=", "APPHOSTD_BIN="+bin)
	return cmd
}

// exec runs apphostd with separate stdout and stderr.
func (p *project) exec(args ...string) runResult {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := p.command(ctx, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	err := cmd.Run()
	r := runResult{stdout: out.String(), stderr: errb.String(), elapsed: time.Since(start)}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		p.t.Fatalf("run %v: %v", args, err)
	}
	return r
}

// runJSON is the part of run's --json summary the tests read.
type runJSON struct {
	OK              bool     `json:"ok"`
	ExitCode        int      `json:"exit_code"`
	Phase           string   `json:"phase"`
	CommandExitCode *int     `json:"command_exit_code"`
	Signal          string   `json:"signal"`
	TornDown        bool     `json:"torn_down"`
	Attached        bool     `json:"attached"`
	Pending         []string `json:"pending"`
	Failed          []string `json:"failed"`
	BringupSeconds  float64  `json:"bringup_seconds"`
	Resources       []struct {
		Name              string   `json:"name"`
		State             string   `json:"state"`
		ReadyAfterSeconds *float64 `json:"ready_after_seconds"`
		PIDs              []int    `json:"pids"`
		Log               []string `json:"log"`
	} `json:"resources"`
}

// summary parses run --json: the last line of stdout.
func (r runResult) summary(t *testing.T) runJSON {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	var s runJSON
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &s); err != nil {
		t.Fatalf("run --json: last stdout line is not the summary: %v\nstdout: %s\nstderr: %s", err, r.stdout, r.stderr)
	}
	return s
}

func (s runJSON) pids() []int {
	var out []int
	for _, r := range s.Resources {
		out = append(out, r.PIDs...)
	}
	return out
}

// assertProjectGone checks that nothing of the project runs: no daemon
// answers, no socket, the daemon's PID and every recorded group are gone.
func (p *project) assertProjectGone(daemonPID int, pgids []int) {
	p.t.Helper()
	if _, err := os.Stat(filepath.Join(p.dir, ".apphost", "apphostd.sock")); !os.IsNotExist(err) {
		p.t.Errorf("socket still there: %v", err)
	}
	if daemonPID > 0 && alive(daemonPID) {
		p.t.Errorf("daemon %d still alive", daemonPID)
	}
	assertNoGroups(p.t, pgids)
	if out, code := p.run("ps"); code != 3 {
		p.t.Errorf("ps after teardown: exit %d, want 3 (no daemon)\n%s", code, out)
	}
}

func readPID(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("pid in %s: %v", path, err)
	}
	return pid
}

func needCurl(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("curl"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("curl is not installed (apt-get install curl)")
		}
		t.Skip("curl is not installed")
	}
}

func TestRunCurlsAPIAndLeavesNothing(t *testing.T) {
	needCurl(t)
	p := newProject(t, ciServices)
	// The command also records the daemon's PID, to check it is gone after.
	r := p.exec("run", "--json", "--", "sh", "-c", `curl -fsS "$API_HTTP/healthz" && cp .apphost/lock daemon.pid && echo "db=$DB_HTTP svc=$services__api__http__0"`)
	if r.code != 0 {
		t.Fatalf("run: exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	if !strings.HasPrefix(r.stdout, "ok\n") || !strings.Contains(r.stdout, "db=http://127.0.0.1:") || !strings.Contains(r.stdout, "svc=http://127.0.0.1:") {
		t.Fatalf("CMD's output did not pass through with the consumer env:\n%s", r.stdout)
	}
	s := r.summary(t)
	if !s.OK || s.ExitCode != 0 || s.CommandExitCode == nil || *s.CommandExitCode != 0 || !s.TornDown || s.Phase != "done" {
		t.Fatalf("summary: %+v", s)
	}
	for _, res := range s.Resources {
		if res.ReadyAfterSeconds == nil || len(res.PIDs) != 1 {
			t.Errorf("%s: want a time to ready and one pid: %+v", res.Name, res)
		}
	}
	// Plain timestamped progress on stderr: CI is set, so no colour.
	if strings.Contains(r.stderr, "\x1b[") || !strings.Contains(r.stderr, "ok   api") || !strings.Contains(r.stderr, "is down") {
		t.Errorf("stderr:\n%s", r.stderr)
	}
	p.assertProjectGone(readPID(t, filepath.Join(p.dir, "daemon.pid")), s.pids())
}

func TestRunPassesCommandExitCode(t *testing.T) {
	p := newProject(t, ciServices)
	r := p.exec("run", "--json", "--", "sh", "-c", "echo failing; exit 7")
	if r.code != 7 {
		t.Fatalf("run of a failing CMD: exit %d, want 7\n%s", r.code, r.stderr)
	}
	s := r.summary(t)
	if s.OK || s.CommandExitCode == nil || *s.CommandExitCode != 7 || s.Phase != "command" || !s.TornDown {
		t.Fatalf("summary: %+v", s)
	}
	assertNoGroups(t, s.pids())

	r = p.exec("run", "--", "./no-such-command")
	if r.code != 127 {
		t.Fatalf("run of a missing CMD: exit %d, want 127\n%s", r.code, r.stderr)
	}
	// Flags after CMD are CMD's, and -- is optional.
	r = p.exec("run", "sh", "-c", `test "$1" = -v`, "sh", "-v")
	if r.code != 0 {
		t.Fatalf("CMD's own flag: exit %d\n%s", r.code, r.stderr)
	}
}

func TestRunBringUpFailure(t *testing.T) {
	t.Run("never healthy", func(t *testing.T) {
		p := newProject(t, ciServices+`
executable "sick" {
  command = "SERVER"
  endpoint "http" { env = "PORT" }
  env = { UNHEALTHY = "1", MESSAGE = "sick and tired" }
  health {
    http { path = "/healthz" }
  }
}
`)
		const timeout = 3 * time.Second
		r := p.exec("run", "--timeout", timeout.String(), "--json", "--", "touch", "ran")
		if r.code != 4 {
			t.Fatalf("run with a never-healthy resource: exit %d, want 4\n%s", r.code, r.stderr)
		}
		// Within its timeout, plus teardown; far from the 5m default.
		if r.elapsed > timeout+30*time.Second {
			t.Errorf("run took %s with --timeout %s", r.elapsed, timeout)
		}
		for _, want := range []string{"sick: Running", "last 1 log lines", "server starting: sick and tired", "not ready: sick"} {
			if !strings.Contains(r.stderr, want) {
				t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
			}
		}
		if _, err := os.Stat(filepath.Join(p.dir, "ran")); err == nil {
			t.Error("CMD ran although bring-up failed")
		}
		s := r.summary(t)
		if s.Phase != "bring-up" || len(s.Pending) != 1 || s.Pending[0] != "sick" || !s.TornDown {
			t.Fatalf("summary: %+v", s)
		}
		p.assertProjectGone(0, s.pids())
	})
	t.Run("exits at start", func(t *testing.T) {
		p := newProject(t, `
executable "crash" {
  command = "SERVER"
  env = { EXIT_AT_START = "1" }
}
`+ciServices)
		r := p.exec("run", "--output", "github", "--", "touch", "ran")
		if r.code != 5 {
			t.Fatalf("run with a crashing resource: exit %d, want 5\n%s", r.code, r.stderr)
		}
		for _, want := range []string{"crash: Exited (3)", "exiting at start as asked", "::error title=apphostd%3A crash failed::", "::endgroup::"} {
			if !strings.Contains(r.stderr, want) {
				t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
			}
		}
		if out, code := p.run("ps"); code != 3 {
			t.Errorf("ps after a failed run: exit %d\n%s", code, out)
		}
	})
}

func TestRunSIGTERMTearsDown(t *testing.T) {
	p := newProject(t, ciServices)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := p.command(ctx, "run", "--json", "--", "sh", "-c", `echo $$ > cmd.pid; cp .apphost/lock daemon.pid; echo started; sleep 1000`)
	var out, errb bytes.Buffer
	cmd.Stderr = &errb
	pr, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		out.WriteString(sc.Text() + "\n")
		if sc.Text() == "started" {
			break
		}
	}
	if !strings.Contains(out.String(), "started") {
		cmd.Wait()
		t.Fatalf("CMD never started:\n%s", errb.String())
	}
	kill(t, cmd.Process.Pid, syscall.SIGTERM)
	for sc.Scan() {
		out.WriteString(sc.Text() + "\n")
	}
	err = cmd.Wait()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	}
	if code != 143 {
		t.Fatalf("run after SIGTERM: exit %d, want 143\n%s", code, errb.String())
	}
	s := runResult{stdout: out.String()}.summary(t)
	if s.Signal != "SIGTERM" || !s.TornDown {
		t.Fatalf("summary: %+v", s)
	}
	cmdPID := readPID(t, filepath.Join(p.dir, "cmd.pid"))
	// CMD's own group (sh and its sleep) got the signal too.
	p.assertProjectGone(readPID(t, filepath.Join(p.dir, "daemon.pid")), append(s.pids(), cmdPID))
}

// Two projects in two directories run side by side: different ports, and
// one's teardown leaves the other running.
func TestRunTwoProjectsConcurrently(t *testing.T) {
	needCurl(t)
	a, b := newProject(t, ciServices), newProject(t, ciServices)
	// Release both commands even if the test fails half way, so neither
	// `run` waits forever (cleanups run last-in first-out: before down).
	t.Cleanup(func() {
		for _, p := range []*project{a, b} {
			os.WriteFile(filepath.Join(p.dir, "release"), nil, 0o644)
		}
	})
	// Each CMD checks its api, reports its URL, waits to be released, then
	// checks its api again.
	// daemon.pid is written before url, which the test waits for.
	script := `curl -fsS "$API_HTTP/healthz" >/dev/null && cp .apphost/lock daemon.pid && echo "$API_HTTP" > url &&
while [ ! -f release ]; do sleep 0.05; done; curl -fsS "$API_HTTP/healthz"`
	var wg sync.WaitGroup
	results := map[*project]runResult{}
	var mu sync.Mutex
	for _, p := range []*project{a, b} {
		wg.Add(1)
		go func(p *project) {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			cmd := p.command(ctx, "run", "--json", "--", "sh", "-c", script)
			var out, errb bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &errb
			err := cmd.Run()
			r := runResult{stdout: out.String(), stderr: errb.String()}
			if ee, ok := err.(*exec.ExitError); ok {
				r.code = ee.ExitCode()
			}
			mu.Lock()
			results[p] = r
			mu.Unlock()
		}(p)
	}
	urls := map[*project]string{}
	for _, p := range []*project{a, b} {
		p.eventually("both projects up", time.Minute, func() bool {
			u, err := os.ReadFile(filepath.Join(p.dir, "url"))
			urls[p] = strings.TrimSpace(string(u))
			return err == nil && urls[p] != ""
		})
	}
	if urls[a] == urls[b] {
		t.Fatalf("both projects' api at %s", urls[a])
	}
	if readPID(t, filepath.Join(a.dir, "daemon.pid")) == readPID(t, filepath.Join(b.dir, "daemon.pid")) {
		t.Fatal("one daemon for two projects")
	}
	// Release a; once it is down, b's CMD checks its api again.
	os.WriteFile(filepath.Join(a.dir, "release"), nil, 0o644)
	a.eventually("a torn down", time.Minute, func() bool {
		mu.Lock()
		defer mu.Unlock()
		_, ok := results[a]
		return ok
	})
	os.WriteFile(filepath.Join(b.dir, "release"), nil, 0o644)
	wg.Wait()
	for name, p := range map[string]*project{"a": a, "b": b} {
		r := results[p]
		if r.code != 0 {
			t.Errorf("project %s: exit %d\n%s", name, r.code, r.stderr)
			continue
		}
		s := r.summary(t)
		p.assertProjectGone(readPID(t, filepath.Join(p.dir, "daemon.pid")), s.pids())
	}
}

func TestEnvOutputParsesBack(t *testing.T) {
	p := newProject(t, ciServices)
	p.mustRun("up", "--wait", "--timeout", "60s")
	var want map[string]string
	if code := p.api("GET", "/v1/env", &want); code != 200 || len(want) == 0 {
		t.Fatalf("GET /v1/env: %d %v", code, want)
	}
	for _, k := range []string{"API_HTTP", "DB_HTTP", "services__api__http__0"} {
		if want[k] == "" {
			t.Fatalf("consumer env lacks %s: %v", k, want)
		}
	}
	same := func(how string, got map[string]string) {
		t.Helper()
		if len(got) != len(want) {
			t.Errorf("%s: %d variables, want %d: %v", how, len(got), len(want), got)
		}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s: %s = %q, want %q", how, k, got[k], v)
			}
		}
	}
	// dotenv, read by a dotenv library.
	r := p.exec("env")
	got, err := godotenv.Unmarshal(r.stdout)
	if r.code != 0 || err != nil {
		t.Fatalf("env: exit %d, %v\n%s", r.code, err, r.stdout)
	}
	same("env", got)
	// --export, evaluated by sh.
	sh := exec.Command("sh", "-c", `eval "$("$APPHOSTD_BIN" env --export)" && env -0`)
	sh.Dir, sh.Env = p.dir, []string{"APPHOSTD_BIN=" + bin, "PATH=/usr/bin:/bin"}
	b, err := sh.Output()
	if err != nil {
		t.Fatalf("eval env --export: %v", err)
	}
	got = map[string]string{}
	for _, kv := range strings.Split(string(b), "\x00") {
		if k, v, ok := strings.Cut(kv, "="); ok && k != "PATH" && k != "PWD" && k != "SHLVL" && k != "_" && k != "APPHOSTD_BIN" {
			got[k] = v
		}
	}
	same("env --export", got)
	// --json.
	got = map[string]string{}
	if err := json.Unmarshal([]byte(p.mustRun("env", "--json")), &got); err != nil {
		t.Fatal(err)
	}
	same("env --json", got)
	// One resource: a consumer of db only.
	got, _ = godotenv.Unmarshal(p.mustRun("env", "db"))
	if got["DB_HTTP"] != want["DB_HTTP"] || got["API_HTTP"] != "" {
		t.Errorf("env db: %v", got)
	}
	if _, code := p.run("env", "nope"); code != 1 {
		t.Errorf("env of an unknown resource: exit %d, want 1", code)
	}
}

func TestWaitExitCodesEndToEnd(t *testing.T) {
	p := newProject(t, `
executable "web" {
  command = "SERVER"
  endpoint "http" { env = "PORT" }
  health {
    http { path = "/healthz" }
  }
}
executable "sick" {
  command = "SERVER"
  endpoint "http" { env = "PORT" }
  env = { UNHEALTHY = "1" }
  health {
    http { path = "/healthz" }
  }
}
executable "job" {
  command = "sh"
  args    = ["-c", "echo migrated"]
}
executable "broken" {
  command = "sh"
  args    = ["-c", "echo cannot connect >&2; exit 2"]
}
`)
	if _, code := p.run("wait", "web"); code != 3 {
		t.Fatalf("wait before up: exit %d, want 3", code)
	}
	p.mustRun("up", "-d")
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"wait", "web"}, 0, "ok   web"},
		{[]string{"wait", "--for", "completed", "job"}, 0, "completed"},
		{[]string{"wait", "--for", "running", "sick", "web"}, 0, "running"},
		{[]string{"wait", "sick", "--timeout", "1s"}, 4, "not ready: sick"},
		{[]string{"wait", "broken"}, 5, "cannot connect"},
		{[]string{"wait", "--for", "completed", "broken"}, 5, "broken: Exited (2)"},
		{[]string{"wait", "nope"}, 1, `no resource named "nope"`},
		{[]string{"wait", "--for", "later", "web"}, 2, "--for"},
	}
	for _, c := range cases {
		out, code := p.run(c.args...)
		if code != c.code || !strings.Contains(out, c.want) {
			t.Errorf("%v: exit %d (want %d), output lacks %q?\n%s", c.args, code, c.code, c.want, out)
		}
	}
}

// A daemon killed with -9 leaves its processes behind; a leader killed
// too leaves its children in its group. down stops both from the records.
func TestDownSweepsWhatACrashedDaemonLeft(t *testing.T) {
	p := newProject(t, `
executable "parent" {
  command = "sh"
  args    = ["-c", "sleep 1000 & echo child $!; wait"]
}
executable "web" {
  command = "SERVER"
  endpoint "http" { env = "PORT" }
}
`)
	p.mustRun("up", "--wait", "--timeout", "60s")
	parent, web := p.pid("parent"), p.pid("web")
	p.waitRecorded(parent, web)
	daemonPID := readPID(t, filepath.Join(p.dir, ".apphost", "lock"))
	kill(t, daemonPID, syscall.SIGKILL)
	p.eventually("daemon gone", 10*time.Second, func() bool { return !alive(daemonPID) })
	kill(t, parent, syscall.SIGKILL)
	p.eventually("parent gone", 10*time.Second, func() bool { return !alive(parent) })
	assertGroupHasMembers(t, parent)
	out, code := p.run("down")
	if code != 0 {
		t.Fatalf("down after a crash: exit %d\n%s", code, out)
	}
	assertNoGroups(t, []int{parent, web})
}

// A daemon that does not stop in time: down lists what is left and exits
// 4; once the daemon can stop, down exits 0.
func TestDownListsWhatIsLeft(t *testing.T) {
	p := newProject(t, ciServices)
	p.mustRun("up", "--wait", "--timeout", "60s")
	pgids := []int{p.pid("db"), p.pid("api")}
	p.waitRecorded(pgids...)
	daemonPID := readPID(t, filepath.Join(p.dir, ".apphost", "lock"))
	kill(t, daemonPID, syscall.SIGSTOP)
	stopped := true
	defer func() {
		if stopped {
			syscall.Kill(daemonPID, syscall.SIGCONT)
		}
	}()
	out, code := p.run("down", "--timeout", "1s")
	if code != 4 {
		t.Fatalf("down with a stopped daemon: exit %d, want 4\n%s", code, out)
	}
	for _, want := range []string{fmt.Sprintf("daemon (pid %d): still running", daemonPID), fmt.Sprintf("process group %d of db", pgids[0]), fmt.Sprintf("process group %d of api", pgids[1])} {
		if !strings.Contains(out, want) {
			t.Errorf("down output lacks %q:\n%s", want, out)
		}
	}
	kill(t, daemonPID, syscall.SIGCONT)
	stopped = false
	out, code = p.run("down", "--timeout", "30s")
	if code != 0 {
		t.Fatalf("down after SIGCONT: exit %d\n%s", code, out)
	}
	p.assertProjectGone(daemonPID, pgids)
}

func assertGroupHasMembers(t *testing.T, pgid int) {
	t.Helper()
	members, err := process.GroupMembers(pgid)
	if err != nil || len(members) == 0 {
		t.Fatalf("group %d has no members left to sweep (%v): the test setup is wrong", pgid, err)
	}
}

// waitRecorded waits until .apphost/state.json lists every pid: the daemon
// writes it a moment after instances change.
func (p *project) waitRecorded(pids ...int) {
	p.t.Helper()
	p.eventually("instances recorded in state.json", 10*time.Second, func() bool {
		var st struct {
			Instances []struct {
				PID int `json:"pid"`
			} `json:"instances"`
		}
		b, err := os.ReadFile(filepath.Join(p.dir, ".apphost", "state.json"))
		if err != nil || json.Unmarshal(b, &st) != nil {
			return false
		}
		have := map[int]bool{}
		for _, in := range st.Instances {
			have[in.PID] = true
		}
		for _, pid := range pids {
			if !have[pid] {
				return false
			}
		}
		return true
	})
}

// workflow is the part of a GitHub Actions workflow the docs' example uses;
// unknown keys fail the decode, so a typo in the example fails the test.
type workflow struct {
	Name string         `yaml:"name"`
	On   map[string]any `yaml:"on"`
	Jobs map[string]struct {
		RunsOn         string `yaml:"runs-on"`
		TimeoutMinutes int    `yaml:"timeout-minutes"`
		Steps          []struct {
			Name string            `yaml:"name"`
			Uses string            `yaml:"uses"`
			Run  string            `yaml:"run"`
			If   string            `yaml:"if"`
			With map[string]string `yaml:"with"`
		} `yaml:"steps"`
	} `yaml:"jobs"`
}

// The documented workflow is valid YAML of the expected shape, and each
// job's run: steps pass when run locally, in order, against a copy of the
// documented Go test suite, as GitHub Actions would run them (bash -eo
// pipefail, GITHUB_ACTIONS=true, a step summary file). Only the install
// step is skipped: the binary under test is on PATH instead.
func TestCIWorkflowRunsLocally(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Fatalf("go is not on PATH: %v", err)
	}
	raw, err := os.ReadFile("../docs/examples/github-actions.yml")
	if err != nil {
		t.Fatal(err)
	}
	var wf workflow
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(&wf); err != nil {
		t.Fatalf("docs/examples/github-actions.yml: %v", err)
	}
	if wf.Name == "" || !hasKeys(wf.On, "push", "pull_request") || len(wf.Jobs) == 0 {
		t.Fatalf("workflow shape: %+v", wf)
	}
	suite := copyDir(t, "../docs/examples/go-test-suite")
	// The suite fails, not skips, without its services.
	gt := exec.Command("go", "test", "./...")
	gt.Dir = suite
	if out, err := gt.CombinedOutput(); err == nil || !strings.Contains(string(out), "apphostd run -- go test") {
		t.Fatalf("go test without apphostd: want a failure naming apphostd run, got %v\n%s", err, out)
	}
	for name, job := range wf.Jobs {
		t.Run(name, func(t *testing.T) {
			if job.RunsOn == "" || len(job.Steps) == 0 {
				t.Fatalf("job %s: runs-on %q, %d steps", name, job.RunsOn, len(job.Steps))
			}
			dir := copyDir(t, suite)
			p := &project{t: t, dir: dir}
			t.Cleanup(func() { p.run("down") })
			summary := filepath.Join(t.TempDir(), "summary.md")
			ran := 0
			for i, st := range job.Steps {
				if (st.Uses == "") == (st.Run == "") {
					t.Fatalf("step %d (%s): want exactly one of uses and run", i, st.Name)
				}
				if st.Run == "" || strings.Contains(st.Run, "go install") || strings.Contains(st.If, "failure()") {
					continue
				}
				cmd := exec.Command("bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", st.Run)
				cmd.Dir = dir
				cmd.Env = append(os.Environ(), "PATH="+filepath.Dir(bin)+":"+os.Getenv("PATH"),
					"CI=true", "GITHUB_ACTIONS=true", "GITHUB_STEP_SUMMARY="+summary)
				out, err := cmd.CombinedOutput()
				if err != nil {
					t.Fatalf("step %q: %v\n%s", st.Name, err, out)
				}
				if strings.Contains(st.Run, "apphostd run") || strings.Contains(st.Run, "up --wait") {
					if !strings.Contains(string(out), "::group::") || !strings.Contains(string(out), "::endgroup::") {
						t.Errorf("step %q: no log group under GITHUB_ACTIONS:\n%s", st.Name, out)
					}
				}
				if strings.Contains(st.Run, "go test") && !strings.Contains(string(out), "ok  \texample.com/shop") {
					t.Errorf("step %q: the suite did not pass:\n%s", st.Name, out)
				}
				ran++
			}
			if ran < 2 {
				t.Fatalf("only %d steps ran", ran)
			}
			if out, code := p.run("ps"); code != 3 {
				t.Errorf("after the job a daemon still runs: exit %d\n%s", code, out)
			}
			md, _ := os.ReadFile(summary)
			if !strings.Contains(string(md), "| api | Running | Healthy |") {
				t.Errorf("job summary lacks the resource table:\n%s", md)
			}
		})
	}
}

// copyDir copies a directory tree of regular files into a temp dir.
func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.WalkDir(src, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		if d.IsDir() {
			if d.Name() == ".apphost" || d.Name() == "bin" {
				return filepath.SkipDir
			}
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

func hasKeys(m map[string]any, keys ...string) bool {
	for _, k := range keys {
		if _, ok := m[k]; !ok {
			return false
		}
	}
	return true
}
