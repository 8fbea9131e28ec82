package reconcile

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/apphostd/apphostd/pkg/discovery"
	"github.com/apphostd/apphostd/pkg/model"
	"github.com/apphostd/apphostd/pkg/runtime"
	"github.com/apphostd/apphostd/pkg/status"
)

// res describes a test resource.
type res struct {
	name       string
	waitFor    []string
	completion []string
	restart    string
	health     bool
	autostart  *bool
	hash       string
	replicas   int
	fail, wait string
}

func desired(rs ...res) *Desired {
	g := &model.Graph{Resources: map[string]*model.Resource{}}
	out := &discovery.Result{Resources: map[string]*discovery.Resolved{}}
	for _, r := range rs {
		mr := &model.Resource{Name: r.name, Kind: model.KindExecutable, BaseKind: model.KindExecutable, Autostart: true, Replicas: 1,
			Restart: model.RestartPolicy{Policy: r.restart, BackoffInitial: 20 * time.Millisecond, BackoffMax: 160 * time.Millisecond}}
		if r.autostart != nil {
			mr.Autostart = *r.autostart
		}
		if r.replicas > 0 {
			mr.Replicas = r.replicas
		}
		for _, w := range r.waitFor {
			mr.WaitFor = append(mr.WaitFor, model.Ref{Name: w})
			mr.DependsOn = append(mr.DependsOn, w)
		}
		for _, w := range r.completion {
			mr.WaitForCompletion = append(mr.WaitForCompletion, model.Ref{Name: w})
			mr.DependsOn = append(mr.DependsOn, w)
		}
		if r.health {
			mr.Health = &model.HealthCheck{TCP: &model.TCPProbe{}}
		}
		g.Resources[r.name] = mr
		g.Order = append(g.Order, r.name)
		dr := &discovery.Resolved{Name: r.name, Kind: mr.Kind, BaseKind: mr.BaseKind, Fail: r.fail, Wait: r.wait}
		if r.wait == "" {
			for i := 0; i < mr.Replicas; i++ {
				id := r.name
				if mr.Replicas > 1 {
					id = fmt.Sprintf("%s-%d", r.name, i)
				}
				dr.Instances = append(dr.Instances, discovery.Instance{Spec: runtime.Spec{ID: id, Resource: r.name, Replica: i}, Hash: r.hash + "h"})
			}
		}
		out.Resources[r.name] = dr
	}
	return &Desired{Graph: g, Resolved: out}
}

// fakeProbes lets a test decide health per instance.
type fakeProbes struct {
	mu     sync.Mutex
	report map[string]func(status.Health, string)
}

type stopper struct{}

func (stopper) Stop() {}

func (p *fakeProbes) factory(_ *model.Resource, _ *discovery.Resolved, _ int, id string, on func(status.Health, string)) Prober {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.report[id] = on
	return stopper{}
}

func (p *fakeProbes) set(t *testing.T, id string, h status.Health) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		p.mu.Lock()
		f := p.report[id]
		p.mu.Unlock()
		if f != nil {
			f(h, "")
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("no prober for %s", id)
}

type harness struct {
	t     *testing.T
	r     *Reconciler
	drv   *fakeDriver
	store *status.Store
	probe *fakeProbes
}

func newHarness(t *testing.T) *harness {
	h := &harness{t: t, drv: newFakeDriver(), store: status.NewStore(), probe: &fakeProbes{report: map[string]func(status.Health, string){}}}
	h.r = New(Options{Drivers: map[string]runtime.Driver{model.KindExecutable: h.drv}, Store: h.store, NewProber: h.probe.factory,
		StopGrace: time.Second, BackoffReset: time.Hour})
	h.r.Run()
	t.Cleanup(h.r.Close)
	return h
}

// waitState waits for a resource to satisfy pred, failing with its last
// status.
func (h *harness) wait(name string, what string, pred func(status.Resource) bool) status.Resource {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := h.r.WaitFor(ctx, name, pred)
	if err != nil {
		h.t.Fatalf("%s never became %s: last status %+v", name, what, s)
	}
	return s
}

func (h *harness) waitState(name string, want status.State) status.Resource {
	h.t.Helper()
	return h.wait(name, string(want), func(s status.Resource) bool { return s.State == want })
}

func TestStartsInDependencyOrderAfterHealthy(t *testing.T) {
	h := newHarness(t)
	h.r.SetDesired(desired(res{name: "db", health: true}, res{name: "api", waitFor: []string{"db"}}))
	s := h.waitState("api", status.Waiting)
	if !slices.Contains(s.WaitingOn, "db") {
		t.Fatalf("api waiting on %v, want db", s.WaitingOn)
	}
	h.waitState("db", status.Running)
	if h.drv.startCount("api") != 0 {
		t.Fatal("api started before db was healthy")
	}
	h.probe.set(t, "db", status.Healthy)
	h.waitState("api", status.Running)
	if got := h.drv.calls(); !slices.Equal(got[:2], []string{"start:db", "start:api"}) {
		t.Fatalf("calls = %v", got)
	}
}

func TestCompletionGate(t *testing.T) {
	h := newHarness(t)
	h.r.SetDesired(desired(res{name: "migrate"}, res{name: "api", completion: []string{"migrate"}}))
	h.waitState("migrate", status.Running)
	h.drv.crash("migrate", 1)
	s := h.waitState("migrate", status.Exited)
	if s.ExitCode == nil || *s.ExitCode != 1 {
		t.Fatalf("exit code = %v", s.ExitCode)
	}
	a := h.wait("api", "waiting with reason", func(s status.Resource) bool {
		return s.State == status.Waiting && s.Reason == "waiting for migrate: it exited with code 1"
	})
	if h.drv.startCount("api") != 0 {
		t.Fatalf("api started after failed completion: %+v", a)
	}
	// A fixed migrate (new spec) completes and releases api.
	h.r.SetDesired(desired(res{name: "migrate", hash: "v2"}, res{name: "api", completion: []string{"migrate"}}))
	h.waitState("migrate", status.Running)
	h.drv.crash("migrate", 0)
	h.waitState("migrate", status.Finished)
	h.waitState("api", status.Running)
}

func TestCrashLoopBackoffGrows(t *testing.T) {
	h := newHarness(t)
	h.r.SetDesired(desired(res{name: "flaky", restart: model.RestartOnFailure}))
	var starts []time.Time
	for i := 0; i < 5; i++ {
		h.wait("flaky", "running", func(s status.Resource) bool {
			return s.State == status.Running && len(s.Instances) == 1 && s.Instances[0].Restarts == i
		})
		starts = append(starts, time.Now())
		h.drv.crash("flaky", 2)
	}
	s := h.wait("flaky", "backoff", func(s status.Resource) bool { return s.State == status.BackOff })
	if s.Restarts < 4 {
		t.Fatalf("restarts = %d", s.Restarts)
	}
	// Gaps grow: 20ms, 40ms, 80ms, 160ms (capped); compare first and last.
	first, last := starts[1].Sub(starts[0]), starts[4].Sub(starts[3])
	if last <= first {
		t.Fatalf("backoff did not grow: first gap %v, last gap %v", first, last)
	}
}

func TestRestartPolicyNever(t *testing.T) {
	h := newHarness(t)
	h.r.SetDesired(desired(res{name: "job"}))
	h.waitState("job", status.Running)
	h.drv.crash("job", 0)
	h.waitState("job", status.Finished)
	time.Sleep(50 * time.Millisecond)
	if n := h.drv.startCount("job"); n != 1 {
		t.Fatalf("job started %d times, want 1", n)
	}
}

func TestReloadRestartsOnlyChanged(t *testing.T) {
	h := newHarness(t)
	h.r.SetDesired(desired(res{name: "a"}, res{name: "b"}, res{name: "c"}))
	for _, n := range []string{"a", "b", "c"} {
		h.waitState(n, status.Running)
	}
	pa, pb := h.drv.pid("a"), h.drv.pid("b")
	h.r.SetDesired(desired(res{name: "a"}, res{name: "b", hash: "new"}, res{name: "d"}))
	h.waitState("d", status.Running)
	h.wait("b", "restarted", func(s status.Resource) bool {
		return s.State == status.Running && len(s.Instances) == 1 && s.Instances[0].PID != pb && s.Instances[0].PID != 0
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for {
		if _, ok := h.store.Get("c"); !ok {
			break
		}
		if ctx.Err() != nil {
			t.Fatal("removed resource c still in the store")
		}
		time.Sleep(2 * time.Millisecond)
	}
	if h.drv.pid("a") != pa {
		t.Fatal("unchanged resource a was restarted")
	}
	if h.drv.pid("c") != 0 {
		t.Fatal("removed resource c still runs")
	}
}

func TestFailAndWaitReasons(t *testing.T) {
	h := newHarness(t)
	h.r.SetDesired(desired(res{name: "fixed", fail: "endpoint \"http\": port 80: in use"}, res{name: "p", wait: "parameter \"x\" has no value"}))
	s := h.waitState("fixed", status.FailedToStart)
	if s.Reason == "" {
		t.Fatal("no reason")
	}
	w := h.waitState("p", status.Waiting)
	if w.Reason != "parameter \"x\" has no value" {
		t.Fatalf("reason = %q", w.Reason)
	}
}

func TestInvalidSpecIsTerminal(t *testing.T) {
	h := newHarness(t)
	h.drv.failIDs["bad"] = fmt.Errorf("exec: %w", runtime.ErrInvalidSpec)
	h.r.SetDesired(desired(res{name: "bad", restart: model.RestartAlways}))
	h.waitState("bad", status.FailedToStart)
	time.Sleep(100 * time.Millisecond)
	if s, _ := h.store.Get("bad"); s.State != status.FailedToStart {
		t.Fatalf("state = %s, want terminal FailedToStart", s.State)
	}
}

func TestStopStartRestart(t *testing.T) {
	h := newHarness(t)
	off := false
	h.r.SetDesired(desired(res{name: "a"}, res{name: "manual", autostart: &off}))
	h.waitState("a", status.Running)
	h.waitState("manual", status.NotStarted)
	if err := h.r.StartResource("manual"); err != nil {
		t.Fatal(err)
	}
	h.waitState("manual", status.Running)
	if err := h.r.StopResource("a"); err != nil {
		t.Fatal(err)
	}
	h.waitState("a", status.Exited)
	if err := h.r.StartResource("a"); err != nil {
		t.Fatal(err)
	}
	h.waitState("a", status.Running)
	p := h.drv.pid("a")
	if err := h.r.RestartResource("a"); err != nil {
		t.Fatal(err)
	}
	h.wait("a", "restarted", func(s status.Resource) bool {
		return s.State == status.Running && s.Instances[0].PID != p
	})
	if err := h.r.StartResource("nope"); err == nil {
		t.Fatal("start of unknown resource succeeded")
	}
}

func TestShutdownReverseOrder(t *testing.T) {
	h := newHarness(t)
	h.r.SetDesired(desired(res{name: "db"}, res{name: "api", waitFor: []string{"db"}}, res{name: "web", waitFor: []string{"api"}}))
	h.waitState("web", status.Running)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := h.r.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	var stops []string
	for _, c := range h.drv.calls() {
		if len(c) > 5 && c[:5] == "stop:" {
			stops = append(stops, c[5:])
		}
	}
	if !slices.Equal(stops, []string{"web", "api", "db"}) {
		t.Fatalf("stop order = %v, want web, api, db", stops)
	}
}

func TestReplicasEachOwnInstance(t *testing.T) {
	h := newHarness(t)
	h.r.SetDesired(desired(res{name: "w", replicas: 3}))
	s := h.wait("w", "3 running", func(s status.Resource) bool {
		if len(s.Instances) != 3 {
			return false
		}
		for _, in := range s.Instances {
			if in.State != status.Running {
				return false
			}
		}
		return true
	})
	if s.Instances[2].ID != "w-2" {
		t.Fatalf("instances = %+v", s.Instances)
	}
	h.drv.crash("w-1", 1) // policy never: only that replica ends
	h.wait("w", "one exited", func(s status.Resource) bool { return s.State == status.Exited })
	if h.drv.pid("w-0") == 0 || h.drv.pid("w-2") == 0 {
		t.Fatal("a crash of one replica stopped the others")
	}
}

func TestAdoptKeepsMatchingInstance(t *testing.T) {
	h := newHarness(t)
	h.r.SetDesired(desired(res{name: "a"}))
	h.waitState("a", status.Running)
	recs := h.r.Records()
	if len(recs) != 1 {
		t.Fatalf("records = %+v", recs)
	}
	// A second reconciler over the same driver (a restarted daemon) adopts.
	store2 := status.NewStore()
	r2 := New(Options{Drivers: map[string]runtime.Driver{model.KindExecutable: h.drv}, Store: store2})
	adopted, lost := r2.Adopt(context.Background(), recs)
	if len(adopted) != 1 || len(lost) != 0 {
		t.Fatalf("adopted %v lost %v", adopted, lost)
	}
	r2.Run()
	defer r2.Close()
	r2.SetDesired(desired(res{name: "a"}))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := r2.WaitFor(ctx, "a", func(s status.Resource) bool { return s.State == status.Running }); err != nil {
		t.Fatal(err)
	}
	time.Sleep(30 * time.Millisecond)
	if n := h.drv.startCount("a"); n != 1 {
		t.Fatalf("adopted instance was started again (%d starts)", n)
	}
	// A record whose identity does not match is not adopted.
	bad := recs[0]
	bad.StartTime++
	if _, lost := r2.Adopt(context.Background(), []Record{bad}); len(lost) != 1 {
		t.Fatal("mismatched start time adopted")
	}
}
