package reconcile

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apphostd/apphostd/pkg/model"
	"github.com/apphostd/apphostd/pkg/runtime"
	"github.com/apphostd/apphostd/pkg/status"
)

func TestSelectionProfilesRequestedAndBlocked(t *testing.T) {
	h := newHarness(t)
	no := false
	d := desired(res{name: "api"}, res{name: "debug"}, res{name: "tool", autostart: &no}, res{name: "needy", waitFor: []string{"debug"}})
	d.Graph.Resources["debug"].Profiles = []string{"debug"}
	d.Selection = Selection{
		Enabled:   map[string]bool{"api": true, "needy": true, "tool": true},
		Requested: map[string]bool{"tool": true},
		Blocked:   map[string]string{"needy": `needy needs debug (wait_for), which is only in profile "debug"`},
	}
	h.r.SetDesired(d)
	h.waitState("api", status.Running)
	// Requested wins over autostart = false.
	h.waitState("tool", status.Running)
	s := h.wait("debug", "not started with a reason", func(s status.Resource) bool {
		return s.State == status.NotStarted && strings.Contains(s.Reason, `profile "debug"`)
	})
	if s.Autostart || len(s.Profiles) != 1 {
		t.Errorf("debug status: autostart %v profiles %v; want false and [debug]", s.Autostart, s.Profiles)
	}
	h.wait("needy", "blocked", func(s status.Resource) bool {
		return s.State == status.Waiting && strings.Contains(s.Reason, "only in profile")
	})
	if h.drv.startCount("debug") != 0 || h.drv.startCount("needy") != 0 {
		t.Fatal("a resource left out by the selection started")
	}
	// Starting it explicitly works whatever the selection.
	if err := h.r.StartResource("debug"); err != nil {
		t.Fatal(err)
	}
	h.waitState("debug", status.Running)
}

func TestEnsureStartedDoesNotRerunFinishedJob(t *testing.T) {
	h := newHarness(t)
	no := false
	h.r.SetDesired(desired(res{name: "migrate"}, res{name: "db", autostart: &no}))
	h.waitState("migrate", status.Running)
	h.drv.crash("migrate", 0)
	h.waitState("migrate", status.Finished)
	if err := h.r.EnsureStarted("migrate"); err != nil {
		t.Fatal(err)
	}
	if err := h.r.EnsureStarted("db"); err != nil {
		t.Fatal(err)
	}
	h.waitState("db", status.Running)
	time.Sleep(50 * time.Millisecond)
	if n := h.drv.startCount("migrate"); n != 1 {
		t.Fatalf("migrate started %d times; EnsureStarted must not re-run a finished job", n)
	}
	// A stopped dependency is started again.
	if err := h.r.StopResource("db"); err != nil {
		t.Fatal(err)
	}
	h.wait("db", "stopped", func(s status.Resource) bool { return s.State == status.Exited })
	if err := h.r.EnsureStarted("db"); err != nil {
		t.Fatal(err)
	}
	h.wait("db", "running again", func(s status.Resource) bool { return s.State == status.Running && h.drv.startCount("db") == 2 })
}

// depHarness runs db (always restarted, with a health check) and api
// (wait_for db) with the given policy, both Running and Healthy.
func depHarness(t *testing.T, policy string) *harness {
	h := newHarness(t)
	d := desired(res{name: "db", health: true, restart: model.RestartAlways}, res{name: "api", waitFor: []string{"db"}})
	d.Graph.Resources["api"].OnDependencyRestart = policy
	h.r.SetDesired(d)
	h.waitState("db", status.Running)
	h.probe.set(t, "db", status.Healthy)
	h.waitState("api", status.Running)
	return h
}

func TestDependencyRestartPolicyRestart(t *testing.T) {
	h := depHarness(t, model.DepRestartRestart)
	api := h.drv.pid("api")
	h.drv.crash("db", 1)
	s := h.wait("api", "degraded", func(s status.Resource) bool {
		return s.State == status.Running && strings.Contains(s.Reason, "dependency db restarting; api restarts when it is ready")
	})
	if h.drv.pid("api") != api {
		t.Fatalf("api restarted before db was ready again: %+v", s)
	}
	h.wait("db", "running again", func(s status.Resource) bool { return s.State == status.Running && h.drv.startCount("db") == 2 })
	h.probe.set(t, "db", status.Healthy)
	h.wait("api", "restarted", func(s status.Resource) bool {
		return s.State == status.Running && h.drv.pid("api") != api && h.drv.pid("api") != 0 && s.Reason == ""
	})
	time.Sleep(50 * time.Millisecond)
	if n := h.drv.startCount("api"); n != 2 {
		t.Fatalf("api started %d times, want 2 (one restart)", n)
	}
	// Unhealthy, then healthy again, restarts it once more.
	h.probe.set(t, "db", status.Unhealthy)
	h.wait("api", "degraded", func(s status.Resource) bool { return strings.Contains(s.Reason, "dependency db unhealthy") })
	h.probe.set(t, "db", status.Healthy)
	h.wait("api", "restarted after unhealthy", func(s status.Resource) bool {
		return s.State == status.Running && h.drv.startCount("api") == 3
	})
}

func TestDependencyRestartPolicyWait(t *testing.T) {
	h := depHarness(t, model.DepRestartWait)
	api := h.drv.pid("api")
	h.drv.crash("db", 1)
	h.wait("api", "degraded", func(s status.Resource) bool {
		return s.State == status.Running && s.Reason == "dependency db restarting"
	})
	h.wait("db", "running again", func(s status.Resource) bool { return s.State == status.Running && h.drv.startCount("db") == 2 })
	h.probe.set(t, "db", status.Healthy)
	h.wait("api", "cleared", func(s status.Resource) bool { return s.State == status.Running && s.Reason == "" })
	if h.drv.pid("api") != api || h.drv.startCount("api") != 1 {
		t.Fatal("wait policy stopped or restarted the dependent")
	}
	s, _ := h.store.Get("api")
	if s.OnDependencyRestart != model.DepRestartWait {
		t.Errorf("status shows policy %q", s.OnDependencyRestart)
	}
}

func TestDependencyRestartPolicyIgnore(t *testing.T) {
	h := depHarness(t, model.DepRestartIgnore)
	api := h.drv.pid("api")
	h.drv.crash("db", 1)
	h.wait("db", "running again", func(s status.Resource) bool { return s.State == status.Running && h.drv.startCount("db") == 2 })
	s, _ := h.store.Get("api")
	if s.Reason != "" {
		t.Errorf("ignore policy shows reason %q", s.Reason)
	}
	h.probe.set(t, "db", status.Healthy)
	time.Sleep(50 * time.Millisecond)
	if h.drv.pid("api") != api || h.drv.startCount("api") != 1 {
		t.Fatal("ignore policy restarted the dependent")
	}
}

// memOnce is an in-memory OnceStore.
type memOnce struct {
	mu sync.Mutex
	m  map[string]string
}

func (o *memOnce) Get(n string) string { o.mu.Lock(); defer o.mu.Unlock(); return o.m[n] }
func (o *memOnce) Put(n, k string)     { o.mu.Lock(); defer o.mu.Unlock(); o.m[n] = k }

func onceHarness(t *testing.T, store *memOnce) *harness {
	h := &harness{t: t, drv: newFakeDriver(), store: status.NewStore(), probe: &fakeProbes{report: map[string]func(status.Health, string){}}}
	h.r = New(Options{Drivers: map[string]runtime.Driver{model.KindExecutable: h.drv}, Store: h.store, NewProber: h.probe.factory,
		StopGrace: time.Second, BackoffReset: time.Hour, Once: store})
	h.r.Run()
	t.Cleanup(h.r.Close)
	return h
}

func onceDesired(key string) *Desired {
	d := desired(res{name: "migrate"}, res{name: "api", completion: []string{"migrate"}})
	d.Graph.Resources["migrate"].Run = model.RunOnce
	d.OnceKeys = map[string]string{"migrate": key}
	return d
}

func TestRunOnceSkipsUnchangedAndRerunsOnNewKey(t *testing.T) {
	store := &memOnce{m: map[string]string{}}
	h := onceHarness(t, store)
	h.r.SetDesired(onceDesired("k1"))
	h.waitState("migrate", status.Running)
	h.drv.crash("migrate", 0)
	h.waitState("api", status.Running)
	h.wait("migrate", "recorded", func(status.Resource) bool { return store.Get("migrate") == "k1" })

	// A new daemon (fresh reconciler, same store): skipped, dependents go.
	h2 := onceHarness(t, store)
	h2.r.SetDesired(onceDesired("k1"))
	s := h2.waitState("migrate", status.Finished)
	if !strings.Contains(s.Reason, `run = "once"`) || s.Run != model.RunOnce {
		t.Errorf("skipped job: reason %q run %q", s.Reason, s.Run)
	}
	h2.waitState("api", status.Running)
	if n := h2.drv.startCount("migrate"); n != 0 {
		t.Fatalf("an unchanged run-once job ran %d times", n)
	}
	// An explicit start of a done job is a no-op; the identity changing
	// (an input file edited) runs it again.
	if err := h2.r.StartResource("migrate"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	if n := h2.drv.startCount("migrate"); n != 0 {
		t.Fatalf("start of a done run-once job ran it (%d)", n)
	}
	h2.r.SetDesired(onceDesired("k2"))
	h2.wait("migrate", "running again", func(s status.Resource) bool { return s.State == status.Running })
	// A failed run is not recorded.
	h2.drv.crash("migrate", 3)
	h2.waitState("migrate", status.Exited)
	time.Sleep(20 * time.Millisecond)
	if got := store.Get("migrate"); got != "k1" {
		t.Fatalf("store = %q after a failed run, want k1 kept", got)
	}
}
