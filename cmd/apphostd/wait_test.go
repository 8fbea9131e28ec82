package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/apphostd/apphostd/pkg/status"
)

// waitBackend is the CLI fake with resources in the states wait cares
// about; tests move them along through its store.
func waitBackend(t *testing.T) (*cliBackend, string) {
	t.Helper()
	b := newCLIBackend()
	b.store.Update("migrate", func(r *status.Resource) {
		code := 0
		r.Kind, r.State, r.ExitCode = "executable", status.Finished, &code
	})
	b.store.Update("late", func(r *status.Resource) {
		r.Kind, r.State, r.Health = "executable", status.Starting, status.HealthUnknown
	})
	return b, startDaemonAPI(t, b)
}

func TestWaitExitCodes(t *testing.T) {
	_, file := waitBackend(t)
	cases := []struct {
		args   []string
		code   int
		stderr []string
	}{
		{args: []string{"wait", "api"}, stderr: []string{"ok   api", "all 1 resources ready"}},
		{args: []string{"wait", "--for", "completed", "migrate"}, stderr: []string{"all 1 resources completed"}},
		{args: []string{"wait", "--for", "running", "api", "slow"}, stderr: []string{"all 2 resources running"}},
		{args: []string{"wait", "broken"}, code: exitUnhealthy, stderr: []string{"FAIL broken", "broken: Exited", "last 3 log lines", "zzz"}},
		{args: []string{"wait", "late", "--timeout", "200ms"}, code: exitTimeout, stderr: []string{"late: Starting", "not ready: late"}},
		{args: []string{"wait", "--for", "completed", "api", "--timeout", "200ms"}, code: exitTimeout, stderr: []string{"not completed: api"}},
		{args: []string{"wait", "nope"}, code: exitError, stderr: []string{`no resource named "nope"`}},
		{args: []string{"wait", "--for", "soon", "api"}, code: exitUsage},
		{args: []string{"wait", "--output", "xml", "api"}, code: exitUsage},
		// The fake's resources are not autostart: nothing to wait for.
		{args: []string{"wait"}, stderr: []string{"no autostart resources"}},
	}
	for _, c := range cases {
		out, errs, code := runCLI(t, append([]string{"--file", file}, c.args...)...)
		if code != c.code {
			t.Errorf("%v: exit %d, want %d\nstdout: %s\nstderr: %s", c.args, code, c.code, out, errs)
			continue
		}
		for _, s := range c.stderr {
			if !strings.Contains(errs, s) {
				t.Errorf("%v: stderr lacks %q:\n%s", c.args, s, errs)
			}
		}
	}
}

func TestWaitNoDaemon(t *testing.T) {
	dir := t.TempDir()
	_, errs, code := runCLI(t, "--file", dir+"/apphost.hcl", "wait", "api")
	if code != exitNoDaemon {
		t.Fatalf("wait without a daemon: exit %d, want %d: %s", code, exitNoDaemon, errs)
	}
}

// A resource that becomes ready while wait follows the event stream ends
// the wait; --json reports its time to ready from the command's start.
func TestWaitFollowsEventsAndSummarizes(t *testing.T) {
	b, file := waitBackend(t)
	go func() {
		time.Sleep(150 * time.Millisecond)
		b.store.Update("late", func(r *status.Resource) { r.State = status.Running })
		time.Sleep(50 * time.Millisecond)
		b.store.Update("late", func(r *status.Resource) {
			r.Health, r.StartedAt, r.ReadyAt = status.Healthy, time.Now().Add(-10*time.Millisecond), time.Now()
		})
	}()
	out, errs, code := runCLI(t, "--file", file, "wait", "late", "--json", "--output", "github", "--timeout", "20s")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	for _, want := range []string{"::group::apphostd wait: waiting for 1 resources", "..   late             Starting", "ok   late             Running (Healthy)", "::endgroup::"} {
		if !strings.Contains(errs, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errs)
		}
	}
	if strings.Contains(errs, "::error") {
		t.Errorf("annotation for a success:\n%s", errs)
	}
	var s bringupSummary
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatalf("--json: %v\n%s", err, out)
	}
	var late *readySummary
	for i := range s.Resources {
		if s.Resources[i].Name == "late" {
			late = &s.Resources[i]
		}
	}
	if !s.OK || late == nil || !late.Waited || late.ReadyAfterSeconds == nil || *late.ReadyAfterSeconds < 0.1 || late.ReadySeconds == nil {
		t.Fatalf("summary: %+v late=%+v", s, late)
	}
}

func TestWaitGitHubAnnotatesFailure(t *testing.T) {
	_, file := waitBackend(t)
	out, errs, code := runCLI(t, "--file", file, "wait", "broken", "--output", "github", "--json")
	if code != exitUnhealthy {
		t.Fatalf("exit %d, want %d\n%s", code, exitUnhealthy, errs)
	}
	group, endgroup, annotation := strings.Index(errs, "::group::"), strings.Index(errs, "::endgroup::"), strings.Index(errs, "::error title=apphostd%3A broken failed::broken: Exited%0A")
	if group < 0 || endgroup < group || annotation < endgroup {
		t.Fatalf("want group, endgroup, then the annotation:\n%s", errs)
	}
	var s bringupSummary
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatalf("--json: %v\n%s", err, out)
	}
	if s.OK || len(s.Failed) != 1 || s.Failed[0] != "broken" || !strings.Contains(s.Error, "broken is Exited") {
		t.Fatalf("summary: %+v", s)
	}
}
