package containerd

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/apphostd/apphostd/pkg/runtime"
)

func waitExit(t *testing.T, ch <-chan runtime.Exit) runtime.Exit {
	t.Helper()
	select {
	case ex, ok := <-ch:
		if !ok {
			t.Fatal("exit channel closed without an exit")
		}
		return ex
	case <-time.After(30 * time.Second):
		t.Fatal("no exit")
	}
	return runtime.Exit{}
}

func TestVolumeSurvivesRestart(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	vol := filepath.Join(e.cd.Dir, "volumes", "data") // absent: created like docker -v
	port := freePort(t)
	s := e.spec("db-0", published(port), func(s *runtime.Spec) {
		s.Mounts = []runtime.Mount{{Source: vol, Target: "/data"}, {Source: e.cd.Dir + "/ro", Target: "/ro", ReadOnly: true}}
	})
	e.start(s)
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	if body := get(t, base+"/write?path=/data/x/row&data=kept"); body != "ok" {
		t.Fatalf("write = %q", body)
	}
	resp, err := httpClient.Get(base + "/write?path=/ro/f&data=no")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode == 200 {
		t.Error("write to a read-only mount succeeded")
	}
	if err := e.d.Stop(ctx, s.ID, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := e.d.Delete(ctx, s.ID); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(vol, "x", "row")); err != nil || string(b) != "kept" {
		t.Fatalf("host side of the volume: %q, %v", b, err)
	}
	e.start(s)
	if body := get(t, base+"/file?path=/data/x/row"); body != "kept" {
		t.Errorf("after restart /data/x/row = %q, want kept", body)
	}
}

func TestStopEscalatesToKill(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	port := freePort(t)
	s := e.spec("stubborn-0", published(port), func(s *runtime.Spec) {
		s.Env = []string{"IGNORE_SIGNALS=1"}
		s.StopSignal = syscall.SIGTERM // overrides the image's SIGINT
	})
	e.start(s)
	get(t, "http://127.0.0.1:"+strconv.Itoa(port)+"/healthz")
	exitC, err := e.d.Wait(ctx, s.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.d.Stop(ctx, s.ID, 300*time.Millisecond); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if ex := waitExit(t, exitC); ex.ExitCode != 128+int(syscall.SIGKILL) {
		t.Errorf("exit code %d, want %d (SIGKILL)", ex.ExitCode, 128+int(syscall.SIGKILL))
	}
	if log := readFileEventually(t, s.LogPath, "signal: terminated"); !strings.Contains(log, "signal: terminated") {
		t.Errorf("log %q: the spec's SIGTERM was not sent first", log)
	}
	st, err := e.d.Inspect(ctx, s.ID)
	if err != nil || st.State != runtime.StateExited || st.ExitCode != 137 {
		t.Errorf("inspect = %+v, %v", st, err)
	}
}

func TestCrashExitCodeArgsAndEntrypoint(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	port := freePort(t)
	s := e.spec("job-0", published(port), func(s *runtime.Spec) {
		s.Args = []string{"--flag", "two words"}
		s.WorkingDir = "/tmp"
		s.User = "65534:65534"
	})
	e.start(s)
	exitC, err := e.d.Wait(ctx, s.ID)
	if err != nil {
		t.Fatal(err)
	}
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	env := get(t, base+"/env")
	if !strings.Contains(env, `"PATH":`) {
		t.Errorf("image env missing: %s", env)
	}
	// /proc/self/status shows the uid the process runs as.
	if st := get(t, base+"/file?path=/proc/self/status"); !strings.Contains(st, "Uid:\t65534") {
		t.Errorf("not running as 65534:\n%s", st)
	}
	get(t, base+"/exit?code=3")
	if ex := waitExit(t, exitC); ex.ExitCode != 3 {
		t.Errorf("exit code %d, want 3", ex.ExitCode)
	}
	if log, _ := os.ReadFile(s.LogPath); !strings.Contains(string(log), `args=["--flag" "two words"]`) {
		t.Errorf("log %q: args not passed", log)
	}
	// A second Wait after the exit gets it at once.
	ch, err := e.d.Wait(ctx, s.ID)
	if err != nil {
		t.Fatal(err)
	}
	if ex := waitExit(t, ch); ex.ExitCode != 3 {
		t.Errorf("second wait: %d", ex.ExitCode)
	}
	// Start over the exited container: the stale one is replaced.
	s.Entrypoint = []string{"/server", "entry"}
	s.Args = nil
	e.start(s)
	get(t, base+"/healthz")
	if log := readFileEventually(t, s.LogPath, `args=["entry"]`); !strings.Contains(log, `args=["entry"]`) {
		t.Errorf("entrypoint override not used; log %q", log)
	}
}

func TestAdoptAndLogsAcrossDriverRestart(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	port := freePort(t)
	s := e.spec("api-0", published(port))
	rec := e.start(s)
	get(t, "http://127.0.0.1:"+strconv.Itoa(port)+"/healthz")
	if err := e.d.Close(); err != nil {
		t.Fatal(err)
	}

	d2 := e.newDriver()
	e.d = d2 // the env's cleanup uses the live driver
	if _, err := d2.Adopt(ctx, runtime.Status{ID: s.ID, PID: rec.PID + 100000, StartTime: rec.StartTime}); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("adopt with a wrong PID: %v, want ErrNotFound", err)
	}
	if _, err := d2.Adopt(ctx, runtime.Status{ID: "nope-0"}); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("adopt unknown: %v, want ErrNotFound", err)
	}
	st, err := d2.Adopt(ctx, rec)
	if err != nil {
		t.Fatalf("adopt: %v", err)
	}
	if st.PID != rec.PID || st.StartTime != rec.StartTime || st.State != runtime.StateRunning || st.IP != rec.IP {
		t.Errorf("adopted %+v, recorded %+v", st, rec)
	}
	list, err := d2.List(ctx)
	if err != nil || len(list) != 1 || list[0].ID != s.ID || list[0].PID != rec.PID {
		t.Errorf("list = %+v, %v", list, err)
	}
	exitC, err := d2.Wait(ctx, s.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := d2.Stop(ctx, s.ID, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if ex := waitExit(t, exitC); ex.ExitCode != 0 {
		t.Errorf("exit %d", ex.ExitCode)
	}
	// Output written after the first driver closed still reached the log.
	log := readFileEventually(t, s.LogPath, "signal: interrupt")
	if !strings.Contains(log, "listening on") || !strings.Contains(log, "signal: interrupt") {
		t.Errorf("log = %q", log)
	}
}

func TestImageAndSpecErrors(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	_, err := e.d.Start(ctx, e.spec("x-0", func(s *runtime.Spec) { s.Image = "apphost.test/absent:1"; s.Pull = PullNever }))
	if !errors.Is(err, runtime.ErrInvalidSpec) || !strings.Contains(err.Error(), "never") {
		t.Errorf("missing image with pull=never: %v, want ErrInvalidSpec", err)
	}
	_, err = e.d.Start(ctx, e.spec("x-0", func(s *runtime.Spec) { s.Pull = "sometimes" }))
	if !errors.Is(err, runtime.ErrInvalidSpec) {
		t.Errorf("bad pull policy: %v", err)
	}
	_, err = e.d.Start(ctx, e.spec("x-0", func(s *runtime.Spec) { s.Entrypoint = []string{"/no/such"} }))
	if !errors.Is(err, runtime.ErrInvalidSpec) {
		t.Errorf("missing entrypoint: %v, want ErrInvalidSpec", err)
	}
	_, err = e.d.Start(ctx, e.spec("x-0", func(s *runtime.Spec) { s.Network = "overlay" }))
	if !errors.Is(err, runtime.ErrInvalidSpec) {
		t.Errorf("bad network: %v", err)
	}
	// Failed starts leave nothing behind.
	assertNothingLeftButBridge(t, e)
	if err := e.d.Stop(ctx, "never-started", time.Second); err != nil {
		t.Errorf("stop unknown: %v", err)
	}
	if err := e.d.Delete(ctx, "never-started"); err != nil {
		t.Errorf("delete unknown: %v", err)
	}
}

func assertNothingLeftButBridge(t *testing.T, e *env) {
	t.Helper()
	cs, _ := e.d.client.Containers(context.Background())
	if len(cs) != 0 {
		t.Errorf("%d containers left after failed starts", len(cs))
	}
	if ns, _ := filepath.Glob(filepath.Join(e.opts.StateDir, "netns", "*")); len(ns) > 0 {
		t.Errorf("netns left: %v", ns)
	}
	ipam, _ := filepath.Glob(filepath.Join(e.opts.StateDir, "ipam", "*", "10.*"))
	if len(ipam) > 0 {
		t.Errorf("IP reservations left: %v", ipam)
	}
}

func TestUnavailable(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dir := t.TempDir()
	// A socket path where nothing listens, and one that is a stale file.
	for _, addr := range []string{filepath.Join(dir, "none.sock"), stale(t, dir)} {
		_, err := New(ctx, Options{Address: addr, Project: "p"})
		if !errors.Is(err, runtime.ErrUnavailable) || !strings.Contains(err.Error(), addr) || !strings.Contains(err.Error(), "apt-get install containerd") {
			t.Errorf("New(%s) = %v; want ErrUnavailable naming the address and the install command", addr, err)
		}
	}
}

func stale(t *testing.T, dir string) string {
	p := filepath.Join(dir, "stale.sock")
	if err := os.WriteFile(p, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestSurvivesContainerdRestart: a container keeps running and logging
// while containerd restarts; the driver that started it still stops it,
// its Wait (whose stream broke) still delivers the exit, and a new driver
// can adopt a second container.
func TestSurvivesContainerdRestart(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	p1, p2 := freePort(t), freePort(t)
	a := e.spec("a-0", published(p1))
	b := e.spec("b-0", published(p2))
	e.start(a)
	recB := e.start(b)
	get(t, "http://127.0.0.1:"+strconv.Itoa(p1)+"/healthz")
	exitC, err := e.d.Wait(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}

	e.cd.Restart(t)

	get(t, "http://127.0.0.1:"+strconv.Itoa(p1)+"/healthz") // never went away
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := e.d.Stop(sctx, a.ID, 5*time.Second); err != nil {
		t.Fatalf("stop after daemon restart: %v", err)
	}
	if ex := waitExit(t, exitC); ex.ExitCode != 0 {
		t.Errorf("exit after restart = %d, want 0", ex.ExitCode)
	}
	if log := readFileEventually(t, a.LogPath, "signal: interrupt"); !strings.Contains(log, "signal: interrupt") {
		t.Errorf("output after the daemon restart did not reach the log: %q", log)
	}

	d2 := e.newDriver()
	st, err := d2.Adopt(ctx, recB)
	if err != nil || st.PID != recB.PID || st.State != runtime.StateRunning {
		t.Fatalf("adopt after restart: %+v, %v", st, err)
	}
}

// TestDaemonDown: with containerd gone, calls fail promptly with
// ErrUnavailable (no hang) and work again once it is back.
func TestDaemonDown(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	port := freePort(t)
	s := e.spec("a-0", published(port))
	e.start(s)
	e.cd.Stop(t)

	cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	_, err := e.d.Inspect(cctx, s.ID)
	if !errors.Is(err, runtime.ErrUnavailable) {
		t.Errorf("inspect with containerd down: %v, want ErrUnavailable", err)
	}
	if _, err := e.d.Start(cctx, e.spec("b-0")); !errors.Is(err, runtime.ErrUnavailable) || !strings.Contains(err.Error(), e.cd.Address) {
		t.Errorf("start with containerd down: %v, want ErrUnavailable naming %s", err, e.cd.Address)
	}
	if cctx.Err() != nil {
		t.Fatal("calls hung until the test's deadline")
	}
	get(t, "http://127.0.0.1:"+strconv.Itoa(port)+"/healthz") // the container does not care

	e.cd.Restart(t)
	// The client reconnects on its own (backoff capped at 1 s); poll.
	var st runtime.Status
	for deadline := time.Now().Add(15 * time.Second); ; {
		st, err = e.d.Inspect(ctx, s.ID)
		if err == nil || !errors.Is(err, runtime.ErrUnavailable) || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil || st.State != runtime.StateRunning {
		t.Errorf("inspect after restart: %+v, %v", st, err)
	}
}

func TestPullPolicy(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	var pulls []string
	var mu sync.Mutex
	e.d.opts.OnPull = func(id, image string) {
		mu.Lock()
		defer mu.Unlock()
		pulls = append(pulls, id+" "+image)
	}
	// missing: an imported image is used offline, no pull.
	st := e.start(e.spec("m-0", func(s *runtime.Spec) {
		s.Pull = PullMissing
		s.Network = "host"
		s.Env = []string{"PORT=" + itoa(freePort(t))}
	}))
	if st.State != runtime.StateRunning {
		t.Fatalf("status %+v", st)
	}
	// An absent image is pulled; the "registry" is a closed port on
	// 127.0.0.1, so the pull fails without leaving the machine.
	s := e.spec("p-0", func(s *runtime.Spec) { s.Image = "127.0.0.1:1/absent:latest"; s.Pull = PullMissing })
	if _, err := e.d.Start(ctx, s); err == nil {
		t.Fatal("start with an unpullable image succeeded")
	}
	mu.Lock()
	if len(pulls) != 1 || pulls[0] != "p-0 127.0.0.1:1/absent:latest" {
		t.Errorf("OnPull calls = %q, want one for p-0", pulls)
	}
	mu.Unlock()
	log, _ := os.ReadFile(s.LogPath)
	if !strings.Contains(string(log), "apphost: pulling 127.0.0.1:1/absent:latest") || !strings.Contains(string(log), "failed") {
		t.Errorf("pull not reported in the instance log: %q", log)
	}
}
