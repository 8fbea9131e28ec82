package daemon

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/apphostd/apphostd/pkg/api"
	"github.com/apphostd/apphostd/pkg/discovery"
	"github.com/apphostd/apphostd/pkg/model"
	"github.com/apphostd/apphostd/pkg/reconcile"
	"github.com/apphostd/apphostd/pkg/runtime"
	"github.com/apphostd/apphostd/pkg/runtime/process"
	"github.com/apphostd/apphostd/pkg/status"
)

// lifecycleState is the daemon's part of the lifecycle guarantees: the
// selection `up` asked for, the run = "once" records, the per-resource
// command queue, the held sockets of socket-activated endpoints and the
// process driver (for cgroup sweeps and its isolation mode).
//
// Lock order: Daemon.mu, then mu. mu guards sel and sockets.
type lifecycleState struct {
	mu      sync.Mutex
	sel     selectionSpec
	sockets map[int]bool // ports held for socket endpoints of the current graph

	once      *onceStore
	acts      *actions
	listeners *process.Listeners
	proc      *process.Driver
}

// initLifecycle sets up the lifecycle state and returns the process
// driver: in cgroup mode when the daemon can (root, a writable cgroup
// hierarchy), sharing the socket registry with the port allocator. Called
// once, from Run, after d.ports exists.
func (d *Daemon) initLifecycle() runtime.Driver {
	lc := d.lifecycle()
	lc.once = loadOnce(filepath.Join(d.proj.StateDir(), "once.json"), d.log.Named("once"))
	go lc.once.loop(d.ctx.Done())
	lc.listeners = process.NewListeners()
	d.ports.listeners = lc.listeners
	lc.proc = process.NewWithOptions(process.Options{
		Log:        d.log,
		CgroupName: "apphostd-" + d.proj.ID(),
		Listeners:  lc.listeners,
	})
	return lc.proc
}

// lifecycle returns d's lifecycle state, creating it on first use (New
// does not, so tests that build a Daemon by hand still work).
func (d *Daemon) lifecycle() *lifecycleState {
	d.lcOnce.Do(func() {
		d.lc = &lifecycleState{acts: newActions(), sockets: map[int]bool{}}
		d.lc.sel = selectionSpec{all: len(d.opts.Select) == 0, names: union(nil, d.opts.Select), profiles: union(nil, d.opts.Profiles)}
	})
	return d.lc
}

// Isolation reports how the daemon contains executables.
func (d *Daemon) Isolation() process.Isolation {
	if lc := d.lifecycle(); lc.proc != nil {
		return lc.proc.Isolation()
	}
	return process.Isolation{Mode: process.ModeProcessGroups}
}

// sweepCgroups stops what a dead daemon left in the project's cgroups
// that nothing adopted: processes that left every process group (setsid,
// double fork) are found there and nowhere else.
func (d *Daemon) sweepCgroups(ctx context.Context, adopted []reconcile.Record) {
	lc := d.lifecycle()
	if lc.proc == nil {
		return
	}
	keep := map[string]bool{}
	for _, a := range adopted {
		keep[a.ID] = true
	}
	found, err := lc.proc.SweepCgroups(ctx, keep)
	if len(found) > 0 {
		d.log.Warn("stopped processes left in cgroups by a previous daemon", zap.Strings("instances", found))
	}
	if err != nil {
		d.log.Warn("cgroup sweep", zap.Error(err))
	}
}

// lifecycleDesired completes a desired generation: the selection, run =
// "once" identities, and warnings for what this machine cannot enforce.
// It also releases the sockets of endpoints that no longer exist.
func (d *Daemon) lifecycleDesired(g *model.Graph, res *discovery.Result) (reconcile.Selection, map[string]string) {
	lc := d.lifecycle()
	lc.mu.Lock()
	spec := lc.sel
	lc.mu.Unlock()
	sel, err := selectFor(g, spec)
	if err != nil {
		d.log.Warn("selection", zap.Error(err))
		if !errors.Is(err, ErrUnselectable) {
			// Names that are no longer in the file: keep the rest. (An
			// unselectable resource is still a valid selection: it
			// waits, with the reason.)
			var keep []string
			for _, n := range spec.names {
				if g.Resources[n] != nil {
					keep = append(keep, n)
				}
			}
			spec.names = keep
			sel, _ = selectFor(g, spec)
		}
	}
	keys, warns := onceKeys(g, res, d.proj.Dir)
	for name, w := range warns {
		if rr := res.Resources[name]; rr != nil {
			rr.Warnings = append(rr.Warnings, w)
		}
	}
	iso := d.Isolation()
	for name, r := range g.Resources {
		rr := res.Resources[name]
		if rr == nil || r.Limits == nil || r.BaseKind != model.KindExecutable {
			continue
		}
		for _, l := range limitNames(r.Limits) {
			if !contains(iso.Limits, l) {
				rr.Warnings = append(rr.Warnings, fmt.Sprintf("limit %s not enforced: %s", l, iso.Detail))
			}
		}
	}
	d.releaseSockets(res)
	d.reservePorts(g, res)
	return sel, keys
}

// reservePorts holds the ports of executables that do not run yet, from
// allocation until their instance execs (process/reserve.go), so nothing
// else takes them while they wait for their dependencies. Instances that
// run (or are starting or stopping) bind their own ports and are left
// alone. Called before the desired state is swapped in, so a start it
// leads to always releases after the reservation.
func (d *Daemon) reservePorts(g *model.Graph, res *discovery.Result) {
	lc := d.lifecycle()
	if lc.listeners == nil {
		return
	}
	live := map[string]bool{}
	for _, r := range d.store.List() {
		for _, in := range r.Instances {
			if in.State == status.Running || in.State == status.Starting || in.State == status.Stopping {
				live[in.ID] = true
			}
		}
	}
	want := map[string][]int{}
	for name, r := range g.Resources {
		rr := res.Resources[name]
		if r.BaseKind != model.KindExecutable || rr == nil || rr.Fail != "" {
			continue
		}
		for _, in := range rr.Instances {
			if live[in.Spec.ID] {
				continue
			}
			for _, e := range rr.Endpoints {
				ep := endpointNamed(r, e.Name)
				if e.Replica != in.Spec.Replica || ep == nil || ep.Proxy || ep.Socket {
					continue
				}
				want[in.Spec.ID] = append(want[in.Spec.ID], e.TargetPort)
			}
		}
	}
	lc.listeners.SetReservations(want)
}

func endpointNamed(r *model.Resource, name string) *model.Endpoint {
	for _, e := range r.Endpoints {
		if e.Name == name {
			return e
		}
	}
	return nil
}

func limitNames(l *model.Limits) []string {
	var out []string
	if l.MemoryBytes > 0 {
		out = append(out, "memory")
	}
	if l.CPUs > 0 {
		out = append(out, "cpus")
	}
	if l.PIDs > 0 {
		out = append(out, "pids")
	}
	return out
}

func contains(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

// releaseSockets closes the held sockets of endpoints the new result no
// longer has (instances started on them keep their own copies).
func (d *Daemon) releaseSockets(res *discovery.Result) {
	lc := d.lifecycle()
	if lc.listeners == nil {
		return
	}
	now := map[int]bool{}
	for _, rr := range res.Resources {
		for _, in := range rr.Instances {
			for _, p := range in.Spec.Ports {
				if p.Socket {
					now[p.HostPort] = true
				}
			}
		}
	}
	lc.mu.Lock()
	defer lc.mu.Unlock()
	for _, p := range lc.listeners.Ports() {
		if !now[p] {
			lc.listeners.Release(p)
		}
	}
	lc.sockets = now
}

// Up adds names and profiles to the selection (as if `up` had been given
// them at start) and applies it to the running graph. A resource named
// that needs one its profiles leave out is refused (ErrConflict) and the
// selection is left as it was. No names widens the selection to the whole
// project. It returns at once; callers wait for readiness through events.
func (d *Daemon) Up(_ context.Context, names, profiles []string) error {
	d.mu.Lock()
	g, res := d.graph, d.resolved
	d.mu.Unlock()
	if g == nil || res == nil {
		return fmt.Errorf("no graph loaded")
	}
	lc := d.lifecycle()
	lc.mu.Lock()
	next := lc.sel.add(len(names) == 0, names, profiles)
	lc.mu.Unlock()
	if _, err := selectFor(g, next); err != nil {
		if errors.Is(err, ErrUnselectable) {
			return fmt.Errorf("%w: %v", api.ErrConflict, err)
		}
		return fmt.Errorf("%w: %v", api.ErrNotFound, err)
	}
	lc.mu.Lock()
	lc.sel = next
	lc.mu.Unlock()
	// An explicitly stopped resource named on `up` runs again.
	for _, n := range names {
		_ = d.rec.EnsureStarted(n)
	}
	d.reapply()
	return nil
}

// reapply makes the current graph the desired state again under the
// current selection, without recompiling or re-resolving.
func (d *Daemon) reapply() {
	d.reloadMu.Lock()
	defer d.reloadMu.Unlock()
	d.mu.Lock()
	g, res := d.graph, d.resolved
	d.mu.Unlock()
	sel, keys := d.lifecycleDesired(g, res)
	d.rec.SetDesired(&reconcile.Desired{Graph: g, Resolved: res, Selection: sel, OnceKeys: keys})
}

// act runs one start/stop/restart/rerun through the per-resource queue.
func (d *Daemon) act(ctx context.Context, name, verb string, fn func(context.Context) error) error {
	return d.lifecycle().acts.do(ctx, name, verb, fn)
}

// startClosure returns what `start name` must start, dependencies first:
// an error naming both when name needs a resource its profiles leave out
// that is neither selected nor running.
func (d *Daemon) startClosure(name string) ([]string, error) {
	d.mu.Lock()
	g := d.graph
	d.mu.Unlock()
	if g == nil || g.Resources[name] == nil {
		return nil, fmt.Errorf("%w: no resource named %q", api.ErrNotFound, name)
	}
	lc := d.lifecycle()
	lc.mu.Lock()
	spec := lc.sel
	lc.mu.Unlock()
	sel, _ := selectFor(g, spec)
	allowed := func(n string) bool {
		if sel.Enabled[n] {
			return true
		}
		s, ok := d.store.Get(n)
		return ok && (s.State == status.Running || s.State == status.Starting || s.State == status.Finished)
	}
	order, err := NeedsForStart(g, name, allowed)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", api.ErrConflict, err)
	}
	return order, nil
}

// Rerun runs a job again now, whatever its run = "once" record says, and
// waits until it has finished (or failed).
func (d *Daemon) Rerun(ctx context.Context, name string) error {
	return d.act(ctx, name, "rerun", func(ctx context.Context) error {
		d.mu.Lock()
		g := d.graph
		d.mu.Unlock()
		if g == nil || g.Resources[name] == nil {
			return fmt.Errorf("%w: no resource named %q", api.ErrNotFound, name)
		}
		if !runs(g.Resources[name]) {
			return fmt.Errorf("%w: %s is a %s; only executables and containers run", api.ErrBadRequest, name, g.Resources[name].Kind)
		}
		d.lifecycle().once.Forget(name)
		t0 := time.Now()
		if err := d.rec.StartResource(name); err != nil {
			return d.mapErr(err)
		}
		_, err := d.rec.WaitFor(ctx, name, func(s status.Resource) bool {
			return s.State == status.FailedToStart || (!s.StartedAt.Before(t0) && (s.State == status.Finished || s.Failed()))
		})
		if err != nil {
			return d.notReached(name, err)
		}
		return d.failure(name)
	})
}

// notReached adds where the resource is to a wait that ended with ctx.
func (d *Daemon) notReached(name string, err error) error {
	s, ok := d.store.Get(name)
	if !ok {
		return err
	}
	what := fmt.Sprintf("%s is %s", name, s.State)
	if s.Reason != "" {
		what += " (" + s.Reason + ")"
	}
	if len(s.WaitingOn) > 0 {
		what += "; waiting on " + strings.Join(s.WaitingOn, ", ")
	}
	return fmt.Errorf("%s: %w", what, err)
}
