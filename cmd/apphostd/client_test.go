package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apphostd/apphostd/pkg/api"
	"github.com/apphostd/apphostd/pkg/project"
	"github.com/apphostd/apphostd/pkg/status"
	"go.uber.org/zap"
)

// cliBackend is a minimal api.Backend for driving the thin clients end to
// end over a real socket.
type cliBackend struct {
	store *status.Store
	mu    sync.Mutex
	calls []string
}

func newCLIBackend() *cliBackend {
	b := &cliBackend{store: status.NewStore()}
	b.store.Update("api", func(r *status.Resource) {
		r.Kind, r.State, r.Health = "executable", status.Running, status.Healthy
		r.Instances = []status.Instance{{ID: "api-0", State: status.Running, PID: 4242}}
		r.Endpoints = []status.Endpoint{{Name: "http", URL: "http://127.0.0.1:5000", Port: 5000}}
	})
	b.store.Update("slow", func(r *status.Resource) { r.Kind, r.State = "executable", status.Running })
	b.store.Update("broken", func(r *status.Resource) { r.Kind, r.State = "executable", status.Exited })
	b.store.Update("crashy", func(r *status.Resource) { r.Kind, r.State = "executable", status.Exited })
	b.store.SetConfig(status.ConfigStatus{File: "apphost.hcl", Generation: 1, OK: true})
	return b
}

func (b *cliBackend) Store() *status.Store { return b.store }
func (b *cliBackend) Describe(name string) (status.Resource, error) {
	r, ok := b.store.Get(name)
	if !ok {
		return r, fmt.Errorf("%w: no resource named %q", api.ErrNotFound, name)
	}
	return r, nil
}
func (b *cliBackend) Logs(ctx context.Context, q api.LogQuery, emit func(api.LogLine) error) error {
	lines := []api.LogLine{{Resource: "api", Text: "one"}, {Resource: "api", Text: "two"}, {Resource: "slow", Text: "zzz"}}
	if q.Tail >= 0 && q.Tail < len(lines) {
		lines = lines[len(lines)-q.Tail:]
	}
	for _, l := range lines {
		if err := emit(l); err != nil {
			return err
		}
	}
	return nil
}
func (b *cliBackend) act(ctx context.Context, verb, name string) error {
	b.mu.Lock()
	b.calls = append(b.calls, verb+" "+name)
	b.mu.Unlock()
	switch name {
	case "slow":
		<-ctx.Done()
		return ctx.Err()
	case "broken":
		b.store.Update(name, func(r *status.Resource) {
			code := 3
			r.State, r.ExitCode, r.LastError = status.FailedToStart, &code, "exec: no such file"
		})
		return nil
	}
	if name == "crashy" {
		return fmt.Errorf("%w: crashy is Exited: exit status 2", api.ErrResourceFailed)
	}
	_, err := b.Describe(name)
	return err
}
func (b *cliBackend) Start(ctx context.Context, n string) error    { return b.act(ctx, "start", n) }
func (b *cliBackend) Stop(ctx context.Context, n string) error     { return b.act(ctx, "stop", n) }
func (b *cliBackend) Restart(ctx context.Context, n string) error  { return b.act(ctx, "restart", n) }
func (b *cliBackend) Rerun(ctx context.Context, n string) error    { return b.act(ctx, "rerun", n) }
func (b *cliBackend) Up(context.Context, []string, []string) error { return nil }
func (b *cliBackend) Reload(ctx context.Context) (status.ConfigStatus, error) {
	return status.ConfigStatus{File: "apphost.hcl", OK: false, Rendered: "Error: Unsupported argument\n\n  on apphost.hcl line 3:\n"}, nil
}
func (b *cliBackend) Graph(string) ([]byte, string, error)    { return []byte("{}"), "", nil }
func (b *cliBackend) Env([]string) (map[string]string, error) { return map[string]string{}, nil }
func (b *cliBackend) Shutdown()                               {}
func (b *cliBackend) Info() api.Info {
	return api.Info{Version: "9.9.9", PID: 777, Project: "/x", StartedAt: time.Now().Add(-time.Hour)}
}

// startDaemonAPI serves b for a project in a temp dir and returns its -f path.
func startDaemonAPI(t *testing.T, b api.Backend) string {
	t.Helper()
	dir := t.TempDir()
	file := filepath.Join(dir, "apphost.hcl")
	if err := os.WriteFile(file, []byte("# test\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p := project.Project{Dir: dir, File: file}
	if err := p.EnsureStateDir(); err != nil {
		t.Fatal(err)
	}
	ln, err := api.Listen(p.Socket())
	if err != nil {
		t.Fatal(err)
	}
	srv := api.NewServer(b, zap.NewNop())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		<-done
	})
	return file
}

// runCLI runs the real root command and returns stdout, stderr and the exit
// code main would use.
func runCLI(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	root := newRootCmd()
	var out, errb bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errb)
	root.SetArgs(args)
	err := root.ExecuteContext(context.Background())
	code := exitOK
	if err != nil {
		code = exitError
		var ce *exitCodeError
		if errors.As(err, &ce) {
			code = ce.code
		}
		errb.WriteString(err.Error())
	}
	return out.String(), errb.String(), code
}

func TestThinClientsAgainstDaemon(t *testing.T) {
	b := newCLIBackend()
	file := startDaemonAPI(t, b)
	cases := []struct {
		args     []string
		code     int
		stdout   []string
		stderr   []string
		noStdout []string
	}{
		{args: []string{"ps"}, stdout: []string{"NAME", "api", "4242", "http://127.0.0.1:5000"}},
		{args: []string{"describe", "api"}, stdout: []string{"Name:", "api", "Running"}},
		{args: []string{"describe", "nope"}, code: exitError, stderr: []string{`no resource named "nope"`}},
		{args: []string{"describe"}, code: exitUsage},
		{args: []string{"ps", "--bogus"}, code: exitUsage},
		{args: []string{"start", "api", "--timeout", "5s"}, stdout: []string{"api: Running, Healthy"}},
		{args: []string{"stop", "slow", "--timeout", "100ms"}, code: exitTimeout, stderr: []string{"stop slow", "timeout"}},
		{args: []string{"start", "broken"}, code: exitUnhealthy, stdout: []string{"broken: FailedToStart (3)"}, stderr: []string{"exec: no such file"}},
		{args: []string{"restart", "nope"}, code: exitError, stderr: []string{"not"}},
		{args: []string{"restart", "crashy"}, code: exitUnhealthy, stderr: []string{"crashy is Exited: exit status 2"}},
		{args: []string{"reload"}, code: exitError, stderr: []string{"Unsupported argument", "running graph is unchanged"}},
		{args: []string{"logs", "--tail", "1"}, stdout: []string{"slow   | zzz"}, noStdout: []string{"one", "\x1b["}},
		{args: []string{"logs", "--tail", "x"}, code: exitUsage},
		{args: []string{"logs", "-f", "apphost.hcl"}, code: exitUsage, stderr: []string{"--file"}},
		{args: []string{"version"}, stdout: []string{"apphostd dev", "daemon   9.9.9 (pid 777, up 1h)"}},
	}
	for _, c := range cases {
		args := append([]string{"--file", file}, c.args...)
		out, errs, code := runCLI(t, args...)
		if code != c.code {
			t.Errorf("%v: exit %d, want %d\nstdout: %s\nstderr: %s", c.args, code, c.code, out, errs)
			continue
		}
		for _, s := range c.stdout {
			if !strings.Contains(out, s) {
				t.Errorf("%v: stdout lacks %q:\n%s", c.args, s, out)
			}
		}
		for _, s := range c.noStdout {
			if strings.Contains(out, s) {
				t.Errorf("%v: stdout has %q:\n%s", c.args, s, out)
			}
		}
		for _, s := range c.stderr {
			if !strings.Contains(errs, s) {
				t.Errorf("%v: stderr lacks %q:\n%s", c.args, s, errs)
			}
		}
	}

	// -f after the command selects the file (logs aside, where it follows).
	out, _, code := runCLI(t, "ps", "-f", file, "--json")
	var rs []status.Resource
	if code != 0 || json.Unmarshal([]byte(out), &rs) != nil || len(rs) != 4 || rs[0].Name != "api" {
		t.Fatalf("ps --json: exit %d, %q", code, out)
	}
}

func TestNoDaemonExitCode(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "apphost.hcl")
	os.WriteFile(file, []byte("# test\n"), 0o644)
	for _, args := range [][]string{{"ps"}, {"logs"}, {"describe", "x"}, {"stop", "x"}, {"reload"}} {
		_, errs, code := runCLI(t, append([]string{"--file", file}, args...)...)
		if code != exitNoDaemon {
			t.Errorf("%v without a daemon: exit %d, want %d (%s)", args, code, exitNoDaemon, errs)
		}
		if !strings.Contains(errs, "no apphostd is running for "+dir) || !strings.Contains(errs, "apphostd up") {
			t.Errorf("%v without a daemon: message %q", args, errs)
		}
	}
	// version still works, without the daemon line.
	out, _, code := runCLI(t, "-f", file, "version")
	if code != 0 || !strings.HasPrefix(out, "apphostd ") || strings.Contains(out, "daemon") {
		t.Errorf("version without a daemon: exit %d, %q", code, out)
	}
}

func TestNoProjectHere(t *testing.T) {
	t.Chdir(t.TempDir())
	_, errs, code := runCLI(t, "ps")
	if code != exitNoDaemon || !strings.Contains(errs, "no apphost.hcl") {
		t.Fatalf("ps outside a project: exit %d, %q", code, errs)
	}
}
