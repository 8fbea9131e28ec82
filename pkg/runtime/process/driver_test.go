package process

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	rt "github.com/apphostd/apphostd/pkg/runtime"
)

const testPath = "PATH=/usr/local/bin:/usr/bin:/bin"

// newDriver returns a Driver whose instances are all killed when the test ends.
func newDriver(t testing.TB) *Driver {
	t.Helper()
	d := New(nil)
	t.Cleanup(func() { stopAll(d) })
	return d
}

func stopAll(d *Driver) {
	sts, _ := d.List(context.Background())
	for _, st := range sts {
		_ = d.Stop(context.Background(), st.ID, 0)
	}
}

func shSpec(t testing.TB, id, script string, args ...string) rt.Spec {
	return rt.Spec{
		ID:      id,
		Command: "sh",
		Args:    append([]string{"-c", script, "sh"}, args...),
		Env:     []string{testPath},
		Dir:     t.TempDir(),
		LogPath: filepath.Join(t.TempDir(), "logs", id+".log"),
	}
}

func mustStart(t testing.TB, d *Driver, spec rt.Spec) rt.Status {
	t.Helper()
	st, err := d.Start(context.Background(), spec)
	if err != nil {
		t.Fatalf("Start(%s): %v", spec.ID, err)
	}
	return st
}

// waitExit returns the Exit of id, failing the test if none comes in time.
func waitExit(t testing.TB, d *Driver, id string) rt.Exit {
	t.Helper()
	ch, err := d.Wait(context.Background(), id)
	if err != nil {
		t.Fatalf("Wait(%s): %v", id, err)
	}
	select {
	case ex, ok := <-ch:
		if !ok {
			t.Fatalf("Wait(%s): channel closed without an Exit", id)
		}
		return ex
	case <-time.After(20 * time.Second):
		t.Fatalf("Wait(%s): no exit after 20s", id)
	}
	return rt.Exit{}
}

// waitMembers waits until pgid has at least n live members.
func waitMembers(t *testing.T, pgid, n int) []int {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		m, err := GroupMembers(pgid)
		if err != nil {
			t.Fatal(err)
		}
		if len(m) >= n {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("group %d has members %v, want at least %d", pgid, m, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestStartHonoursEnvArgsDirAndLogs(t *testing.T) {
	t.Setenv("APPHOSTD_LEAK", "daemon-only")
	d := newDriver(t)
	spec := shSpec(t, "env-0",
		`echo "foo=$FOO"; echo "leak=${APPHOSTD_LEAK-unset}"; echo "pwd=$(pwd)"; echo "args=$*"; echo "to-stderr" >&2`,
		"a b", "c")
	spec.Env = append(spec.Env, "FOO=bar baz")
	st := mustStart(t, d, spec)
	if st.PID <= 0 || st.StartTime == 0 || st.State != rt.StateRunning {
		t.Fatalf("Start status = %+v", st)
	}
	if ex := waitExit(t, d, spec.ID); ex.ExitCode != 0 {
		t.Fatalf("exit code %d, want 0", ex.ExitCode)
	}
	data, err := os.ReadFile(spec.LogPath)
	if err != nil {
		t.Fatal(err)
	}
	want := "foo=bar baz\nleak=unset\npwd=" + spec.Dir + "\nargs=a b c\nto-stderr\n"
	if string(data) != want {
		t.Fatalf("log =\n%s\nwant\n%s", data, want)
	}
	fi, err := os.Stat(spec.LogPath)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("log mode %v, want 0600", fi.Mode().Perm())
	}
	di, err := os.Stat(filepath.Dir(spec.LogPath))
	if err != nil {
		t.Fatal(err)
	}
	if di.Mode().Perm() != 0o700 {
		t.Errorf("log dir mode %v, want 0700", di.Mode().Perm())
	}

	// A second run appends rather than truncating.
	mustStart(t, d, spec)
	waitExit(t, d, spec.ID)
	data, _ = os.ReadFile(spec.LogPath)
	if string(data) != want+want {
		t.Fatalf("after second run log =\n%s", data)
	}
}

func TestStartExactEnvNil(t *testing.T) {
	t.Setenv("APPHOSTD_LEAK", "daemon-only")
	d := newDriver(t)
	spec := rt.Spec{ID: "noenv-0", Command: "/usr/bin/env", LogPath: filepath.Join(t.TempDir(), "env.log")}
	mustStart(t, d, spec)
	waitExit(t, d, spec.ID)
	data, err := os.ReadFile(spec.LogPath)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) != 0 {
		t.Fatalf("nil Env: child saw environment %q, want none", data)
	}
}

func TestStartProcessGroupAndStdin(t *testing.T) {
	d := newDriver(t)
	spec := shSpec(t, "pg-0", `cat; echo "stdin-eof"; cut -d' ' -f5 /proc/$$/stat`)
	st := mustStart(t, d, spec)
	waitExit(t, d, spec.ID)
	data, _ := os.ReadFile(spec.LogPath)
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) != 2 || lines[0] != "stdin-eof" {
		t.Fatalf("log = %q, want stdin-eof then the pgid", data)
	}
	if lines[1] != itoa(st.PID) {
		t.Fatalf("child pgid %s, want its own pid %d", lines[1], st.PID)
	}
}

func TestCommandResolution(t *testing.T) {
	d := newDriver(t)
	bin := t.TempDir()
	script := "#!/bin/sh\necho \"tool $1\"\n"
	if err := os.WriteFile(filepath.Join(bin, "mytool"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	if err := os.MkdirAll(filepath.Join(work, "scripts"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(work, "scripts", "run"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	logDir := t.TempDir()

	// Bare name found via the spec's PATH, which the daemon's PATH lacks.
	s1 := rt.Spec{ID: "path-0", Command: "mytool", Args: []string{"one"}, Env: []string{"PATH=" + bin + ":/usr/bin:/bin"}, Dir: work, LogPath: filepath.Join(logDir, "a.log")}
	mustStart(t, d, s1)
	// Relative path with a slash, relative to Dir.
	s2 := rt.Spec{ID: "rel-0", Command: "./scripts/run", Args: []string{"two"}, Env: []string{testPath}, Dir: work, LogPath: filepath.Join(logDir, "b.log")}
	mustStart(t, d, s2)
	for _, c := range []struct {
		spec rt.Spec
		want string
	}{{s1, "tool one\n"}, {s2, "tool two\n"}} {
		if ex := waitExit(t, d, c.spec.ID); ex.ExitCode != 0 {
			t.Fatalf("%s exit %d", c.spec.ID, ex.ExitCode)
		}
		if data, _ := os.ReadFile(c.spec.LogPath); string(data) != c.want {
			t.Errorf("%s log %q, want %q", c.spec.ID, data, c.want)
		}
	}

	// Without PATH in the spec, the daemon's PATH is used.
	s3 := rt.Spec{ID: "daemonpath-0", Command: "true", Dir: work, LogPath: filepath.Join(logDir, "c.log")}
	mustStart(t, d, s3)
	if ex := waitExit(t, d, s3.ID); ex.ExitCode != 0 {
		t.Fatalf("true exit %d", ex.ExitCode)
	}
}

func TestStartInvalidSpec(t *testing.T) {
	d := newDriver(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "noexec"), []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "badinterp"), []byte("#!/nonexistent/interp\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	cases := []rt.Spec{
		{ID: "missing-0", Command: "definitely-not-a-command-apphostd", Env: []string{testPath}},
		{ID: "missingabs-0", Command: "/nonexistent/bin/x"},
		{ID: "noexec-0", Command: filepath.Join(dir, "noexec")},
		{ID: "dir-0", Command: dir},
		{ID: "badinterp-0", Command: filepath.Join(dir, "badinterp")},
		{ID: "baddir-0", Command: "/bin/true", Dir: filepath.Join(dir, "nope")},
		{ID: "empty-0", Command: ""},
	}
	for _, spec := range cases {
		spec.LogPath = filepath.Join(dir, "logs", spec.ID+".log")
		_, err := d.Start(context.Background(), spec)
		if !errors.Is(err, rt.ErrInvalidSpec) {
			t.Errorf("Start(%s %q) = %v, want ErrInvalidSpec", spec.ID, spec.Command, err)
			continue
		}
		if _, err := d.Inspect(context.Background(), spec.ID); !errors.Is(err, rt.ErrNotFound) {
			t.Errorf("after failed start, Inspect(%s) = %v, want ErrNotFound", spec.ID, err)
		}
	}
}

func TestExitCodes(t *testing.T) {
	d := newDriver(t)
	for _, c := range []struct {
		script string
		want   int
	}{
		{"exit 0", 0},
		{"exit 3", 3},
		{"kill -9 $$", 128 + 9},
		{"kill -TERM $$", 128 + 15},
	} {
		id := "code-" + itoa(c.want)
		mustStart(t, d, shSpec(t, id, c.script))
		ex := waitExit(t, d, id)
		if ex.ExitCode != c.want || ex.ID != id || ex.ExitedAt.IsZero() {
			t.Errorf("%q: exit %+v, want code %d", c.script, ex, c.want)
		}
		st, err := d.Inspect(context.Background(), id)
		if err != nil || st.State != rt.StateExited || st.ExitCode != c.want {
			t.Errorf("%q: Inspect = %+v, %v", c.script, st, err)
		}
	}
}

func TestWaitDeliversToEveryWaiter(t *testing.T) {
	d := newDriver(t)
	spec := shSpec(t, "multi-0", "sleep 0.3")
	mustStart(t, d, spec)
	var chans []<-chan rt.Exit
	for range 3 {
		ch, err := d.Wait(context.Background(), spec.ID)
		if err != nil {
			t.Fatal(err)
		}
		chans = append(chans, ch)
	}
	for i, ch := range chans {
		select {
		case ex := <-ch:
			if ex.ExitCode != 0 || ex.ID != spec.ID {
				t.Errorf("waiter %d got %+v", i, ex)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("waiter %d got nothing", i)
		}
		if _, ok := <-ch; ok {
			t.Errorf("waiter %d: channel not closed after the Exit", i)
		}
	}
	// A Wait after the exit gets it at once.
	if ex := waitExit(t, d, spec.ID); ex.ExitCode != 0 {
		t.Fatalf("late waiter got %+v", ex)
	}
	if _, err := d.Wait(context.Background(), "unknown"); !errors.Is(err, rt.ErrNotFound) {
		t.Fatalf("Wait(unknown) = %v, want ErrNotFound", err)
	}
}

func TestStopTerminatesWithStopSignal(t *testing.T) {
	d := newDriver(t)
	spec := shSpec(t, "term-0", "")
	spec.Command, spec.Args = "sleep", []string{"100"}
	mustStart(t, d, spec)
	if err := d.Stop(context.Background(), spec.ID, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if ex := waitExit(t, d, spec.ID); ex.ExitCode != 128+int(syscall.SIGTERM) {
		t.Fatalf("exit %d, want %d (SIGTERM)", ex.ExitCode, 128+int(syscall.SIGTERM))
	}

	// A custom StopSignal is used instead of SIGTERM.
	spec.ID = "int-0"
	spec.StopSignal = syscall.SIGINT
	spec.Command, spec.Args = "sh", []string{"-c", "trap 'exit 42' INT; sleep 100 & wait"}
	st := mustStart(t, d, spec)
	waitMembers(t, st.PID, 2) // the trap is set once sleep runs
	if err := d.Stop(context.Background(), spec.ID, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if ex := waitExit(t, d, spec.ID); ex.ExitCode != 42 {
		t.Fatalf("exit %d, want 42 from the INT trap", ex.ExitCode)
	}
}

func TestStopKillsAfterGraceWhenTERMIgnored(t *testing.T) {
	d := newDriver(t)
	spec := shSpec(t, "stubborn-0", "trap '' TERM; echo ready; sleep 100; :")
	st := mustStart(t, d, spec)
	waitMembers(t, st.PID, 2)
	start := time.Now()
	grace := 300 * time.Millisecond
	if err := d.Stop(context.Background(), spec.ID, grace); err != nil {
		t.Fatal(err)
	}
	if elapsed := time.Since(start); elapsed < grace {
		t.Fatalf("Stop returned after %v, before the %v grace", elapsed, grace)
	}
	if ex := waitExit(t, d, spec.ID); ex.ExitCode != 128+int(syscall.SIGKILL) {
		t.Fatalf("exit %d, want %d (SIGKILL)", ex.ExitCode, 128+int(syscall.SIGKILL))
	}
	if m, _ := GroupMembers(st.PID); len(m) != 0 {
		t.Fatalf("group %d still has %v", st.PID, m)
	}
}

func TestStopKillsGrandchildren(t *testing.T) {
	d := newDriver(t)
	spec := shSpec(t, "tree-0", "sleep 100 & sleep 100 & wait")
	st := mustStart(t, d, spec)
	before := waitMembers(t, st.PID, 3)
	if err := d.Stop(context.Background(), spec.ID, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if m, err := GroupMembers(st.PID); err != nil || len(m) != 0 {
		t.Fatalf("after Stop group %d has %v (%v); before it had %v", st.PID, m, err, before)
	}
	for _, pid := range before {
		if s, err := readStat(pid); err == nil && s.State != 'Z' && s.Pgid == st.PID {
			t.Errorf("pid %d still alive in state %c", pid, s.State)
		}
	}
}

func TestStopSweepsMembersThatOutliveTheLeader(t *testing.T) {
	d := newDriver(t)
	// The leader dies of SIGTERM at once, but one grandchild ignores it:
	// only the sweep after the leader's exit can remove it.
	spec := shSpec(t, "orphan-0", "(trap '' TERM; exec sleep 100) & sleep 100 & wait")
	st := mustStart(t, d, spec)
	waitMembers(t, st.PID, 3)
	if err := d.Stop(context.Background(), spec.ID, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if ex := waitExit(t, d, spec.ID); ex.ExitCode != 128+int(syscall.SIGTERM) {
		t.Fatalf("leader exit %d, want SIGTERM's %d", ex.ExitCode, 128+int(syscall.SIGTERM))
	}
	if m, err := GroupMembers(st.PID); err != nil || len(m) != 0 {
		t.Fatalf("after Stop group %d has %v (%v)", st.PID, m, err)
	}
}

func TestStopAfterLeaderExitedSweepsGroup(t *testing.T) {
	d := newDriver(t)
	// The leader exits 0 on its own, leaving a background child in the group.
	spec := shSpec(t, "leftover-0", "sleep 100 & echo started")
	st := mustStart(t, d, spec)
	if ex := waitExit(t, d, spec.ID); ex.ExitCode != 0 {
		t.Fatalf("exit %d", ex.ExitCode)
	}
	waitMembers(t, st.PID, 1)
	if err := d.Stop(context.Background(), spec.ID, time.Second); err != nil {
		t.Fatal(err)
	}
	if m, _ := GroupMembers(st.PID); len(m) != 0 {
		t.Fatalf("group %d still has %v", st.PID, m)
	}
}

func TestIdempotentStopDeleteAndAlreadyExists(t *testing.T) {
	d := newDriver(t)
	ctx := context.Background()
	if err := d.Stop(ctx, "unknown", time.Second); err != nil {
		t.Fatalf("Stop(unknown) = %v", err)
	}
	if err := d.Delete(ctx, "unknown"); err != nil {
		t.Fatalf("Delete(unknown) = %v", err)
	}
	spec := shSpec(t, "idem-0", "")
	spec.Command, spec.Args = "sleep", []string{"100"}
	first := mustStart(t, d, spec)
	if _, err := d.Start(ctx, spec); !errors.Is(err, rt.ErrAlreadyExists) {
		t.Fatalf("second Start = %v, want ErrAlreadyExists", err)
	}
	if err := d.Delete(ctx, spec.ID); err == nil {
		t.Fatal("Delete of a running instance succeeded")
	}
	for i := range 2 {
		if err := d.Stop(ctx, spec.ID, time.Second); err != nil {
			t.Fatalf("Stop #%d = %v", i, err)
		}
	}
	list, _ := d.List(ctx)
	if len(list) != 1 || list[0].ID != spec.ID || list[0].State != rt.StateExited {
		t.Fatalf("List = %+v", list)
	}
	// An exited ID can be started again.
	second := mustStart(t, d, spec)
	if second.PID == first.PID && second.StartTime == first.StartTime {
		t.Fatal("restart reused the old instance")
	}
	if err := d.Stop(ctx, spec.ID, time.Second); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if err := d.Delete(ctx, spec.ID); err != nil {
			t.Fatalf("Delete #%d = %v", i, err)
		}
	}
	if _, err := d.Inspect(ctx, spec.ID); !errors.Is(err, rt.ErrNotFound) {
		t.Fatalf("Inspect after Delete = %v, want ErrNotFound", err)
	}
	if list, _ := d.List(ctx); len(list) != 0 {
		t.Fatalf("List after Delete = %+v", list)
	}
}

func TestAdoptAfterDriverDropped(t *testing.T) {
	for _, mode := range []string{"pidfd", "poll"} {
		t.Run(mode, func(t *testing.T) {
			d1 := New(nil)
			spec := shSpec(t, "adopt-0", "trap 'exit 0' TERM; echo hello; sleep 100 & wait")
			rec := mustStart(t, d1, spec)
			t.Cleanup(func() { _ = syscall.Kill(-rec.PID, syscall.SIGKILL) })
			waitMembers(t, rec.PID, 2)
			d1 = nil //nolint:ineffassign // the daemon that started it is gone
			runtime.GC()
			if st, err := ProcStartTime(rec.PID); err != nil || st != rec.StartTime {
				t.Fatalf("process did not survive its driver: %v %v", st, err)
			}

			d2 := New(nil)
			d2.noPidfd = mode == "poll"
			t.Cleanup(func() { stopAll(d2) })
			st, err := d2.Adopt(context.Background(), rec)
			if err != nil {
				t.Fatal(err)
			}
			if st.PID != rec.PID || st.State != rt.StateRunning {
				t.Fatalf("Adopt = %+v", st)
			}
			// Adopting the same process again is a no-op.
			if _, err := d2.Adopt(context.Background(), rec); err != nil {
				t.Fatalf("second Adopt = %v", err)
			}
			ch, err := d2.Wait(context.Background(), rec.ID)
			if err != nil {
				t.Fatal(err)
			}
			if err := d2.Stop(context.Background(), rec.ID, 10*time.Second); err != nil {
				t.Fatal(err)
			}
			select {
			case ex := <-ch:
				if ex.ExitCode != -1 {
					t.Fatalf("adopted exit code %d, want -1 (unknown)", ex.ExitCode)
				}
			case <-time.After(20 * time.Second):
				t.Fatal("no exit for adopted process")
			}
			if m, _ := GroupMembers(rec.PID); len(m) != 0 {
				t.Fatalf("group %d still has %v", rec.PID, m)
			}
			if _, err := d2.Adopt(context.Background(), rec); !errors.Is(err, rt.ErrNotFound) {
				t.Fatalf("Adopt of an exited process = %v, want ErrNotFound", err)
			}
		})
	}
}

func TestAdoptedExitIsNoticed(t *testing.T) {
	d1 := newDriver(t)
	spec := shSpec(t, "short-0", "")
	spec.Command, spec.Args = "sleep", []string{"0.5"}
	rec := mustStart(t, d1, spec)
	d2 := New(nil)
	if _, err := d2.Adopt(context.Background(), rec); err != nil {
		t.Fatal(err)
	}
	if ex := waitExit(t, d2, rec.ID); ex.ExitCode != -1 {
		t.Fatalf("exit %d, want -1", ex.ExitCode)
	}
}

func TestAdoptRejectsWrongIdentity(t *testing.T) {
	d := newDriver(t)
	spec := shSpec(t, "ident-0", "")
	spec.Command, spec.Args = "sleep", []string{"100"}
	rec := mustStart(t, d, spec)

	d2 := New(nil)
	wrong := rec
	wrong.StartTime++
	if _, err := d2.Adopt(context.Background(), wrong); !errors.Is(err, rt.ErrNotFound) {
		t.Fatalf("Adopt with wrong start time = %v, want ErrNotFound", err)
	}
	gone := rec
	gone.PID = 1 << 30 // above pid_max
	if _, err := d2.Adopt(context.Background(), gone); !errors.Is(err, rt.ErrNotFound) {
		t.Fatalf("Adopt of a missing pid = %v, want ErrNotFound", err)
	}
	if _, err := d2.Inspect(context.Background(), rec.ID); !errors.Is(err, rt.ErrNotFound) {
		t.Fatalf("rejected adoption left an instance: %v", err)
	}
}

func TestAdoptNonLeaderSignalsOnlyThatProcess(t *testing.T) {
	d := newDriver(t)
	spec := shSpec(t, "leader-0", "sleep 100 & wait; echo leader-survived")
	leader := mustStart(t, d, spec)
	members := waitMembers(t, leader.PID, 2)
	child := 0
	for _, pid := range members {
		if pid != leader.PID {
			child = pid
		}
	}
	start, err := ProcStartTime(child)
	if err != nil {
		t.Fatal(err)
	}
	d2 := New(nil)
	if _, err := d2.Adopt(context.Background(), rt.Status{ID: "child-0", PID: child, StartTime: start}); err != nil {
		t.Fatal(err)
	}
	if err := d2.Stop(context.Background(), "child-0", 10*time.Second); err != nil {
		t.Fatal(err)
	}
	// Only the sleep got SIGTERM: the leader's wait returns and it exits 0.
	if ex := waitExit(t, d, spec.ID); ex.ExitCode != 0 {
		t.Fatalf("leader exit %d, want 0: Stop of a non-leader signalled its group", ex.ExitCode)
	}
	if data, _ := os.ReadFile(spec.LogPath); string(data) != "leader-survived\n" {
		t.Fatalf("leader log %q", data)
	}
}

func BenchmarkStart(b *testing.B) {
	d := New(nil)
	logPath := filepath.Join(b.TempDir(), "true.log")
	spec := rt.Spec{ID: "bench-0", Command: "/bin/true", LogPath: logPath}
	for b.Loop() {
		if _, err := d.Start(context.Background(), spec); err != nil {
			b.Fatal(err)
		}
		ch, err := d.Wait(context.Background(), spec.ID)
		if err != nil {
			b.Fatal(err)
		}
		<-ch
	}
}

func itoa(i int) string { return strconv.Itoa(i) }
