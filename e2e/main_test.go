// Package e2e drives the built apphostd binary against real processes in
// temporary project directories.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/apphostd/apphostd/pkg/runtime/process"
	"github.com/apphostd/apphostd/pkg/status"
)

var (
	bin    string // the apphostd binary
	server string // the test workload
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "apphostd-e2e-bin")
	if err != nil {
		panic(err)
	}
	bin = filepath.Join(dir, "apphostd")
	server = filepath.Join(dir, "server")
	for _, b := range [][2]string{{bin, "../cmd/apphostd"}, {server, "./testdata/server"}} {
		cmd := exec.Command("go", "build", "-o", b[0], b[1])
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "build:", err)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// project is a temporary project directory with a running daemon, torn
// down (and checked for leftovers) at the end of the test.
type project struct {
	t   *testing.T
	dir string
}

func newProject(t *testing.T, hcl string) *project {
	t.Helper()
	p := &project{t: t, dir: t.TempDir()}
	p.write(hcl)
	t.Cleanup(func() {
		// Always leave nothing behind, even when the test failed.
		out, code := p.run("down", "--timeout", "30s")
		if code != 0 && !strings.Contains(out, "no apphostd") {
			t.Errorf("down in cleanup: exit %d: %s", code, out)
		}
	})
	return p
}

// write replaces apphost.hcl atomically, as editors save.
func (p *project) write(hcl string) {
	p.t.Helper()
	hcl = strings.ReplaceAll(hcl, "SERVER", server)
	tmp := filepath.Join(p.dir, ".apphost.hcl.tmp")
	if err := os.WriteFile(tmp, []byte(hcl), 0o644); err != nil {
		p.t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(p.dir, "apphost.hcl")); err != nil {
		p.t.Fatal(err)
	}
}

// run runs apphostd in the project and returns combined output and exit code.
func (p *project) run(args ...string) (string, int) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = p.dir
	cmd.Env = append(os.Environ(), "CI=true")
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

func (p *project) mustRun(args ...string) string {
	p.t.Helper()
	out, code := p.run(args...)
	if code != 0 {
		p.t.Fatalf("apphostd %s: exit %d\n%s", strings.Join(args, " "), code, out)
	}
	return out
}

// ps returns the resources by name.
func (p *project) ps() map[string]status.Resource {
	p.t.Helper()
	out := p.mustRun("ps", "--json")
	var rs []status.Resource
	if err := json.Unmarshal([]byte(out), &rs); err != nil {
		p.t.Fatalf("ps --json: %v\n%s", err, out)
	}
	m := map[string]status.Resource{}
	for _, r := range rs {
		m[r.Name] = r
	}
	return m
}

func (p *project) pid(name string) int {
	r := p.ps()[name]
	if len(r.Instances) == 0 {
		return 0
	}
	return r.Instances[0].PID
}

// eventually polls cond until it holds or the timeout passes.
func (p *project) eventually(what string, timeout time.Duration, cond func() bool) {
	p.t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			out, _ := p.run("ps")
			p.t.Fatalf("timed out waiting for %s\n%s", what, out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// api calls the daemon's HTTP API over its socket.
func (p *project) api(method, path string, v any) int {
	p.t.Helper()
	sock := filepath.Join(p.dir, ".apphost", "apphostd.sock")
	c := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	}}, Timeout: 10 * time.Second}
	req, _ := http.NewRequest(method, "http://apphostd"+path, nil)
	resp, err := c.Do(req)
	if err != nil {
		p.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	if v != nil {
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			p.t.Fatalf("%s %s: decode: %v", method, path, err)
		}
	}
	return resp.StatusCode
}

// alive reports whether pid is a live process (not a zombie).
func alive(pid int) bool {
	if pid <= 0 {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i > 0 && len(s) > i+2 && s[i+2] != 'Z'
}

// assertNoGroups fails if any process remains in the given process groups.
func assertNoGroups(t *testing.T, pgids []int) {
	t.Helper()
	for _, g := range pgids {
		members, err := process.GroupMembers(g)
		if err != nil {
			t.Fatalf("scan /proc: %v", err)
		}
		var live []int
		for _, m := range members {
			if alive(m) {
				live = append(live, m)
			}
		}
		if len(live) > 0 {
			t.Errorf("process group %d still has %v", g, live)
		}
	}
}

func kill(t *testing.T, pid int, sig syscall.Signal) {
	t.Helper()
	if err := syscall.Kill(pid, sig); err != nil {
		t.Fatalf("kill %d: %v", pid, err)
	}
}
