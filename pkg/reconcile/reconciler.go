// Package reconcile converges what runs (observed) to what the project
// declares (desired), level-based, one step per pass, as controller-runtime
// does: a de-duplicating queue of resource names, each pass re-reading both
// sides. Waiting for a dependency is a requeue on the dependency's change,
// a crash is a backoff requeue, an impossible spec is terminal.
package reconcile

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/apphostd/apphostd/pkg/discovery"
	"github.com/apphostd/apphostd/pkg/model"
	"github.com/apphostd/apphostd/pkg/runtime"
	"github.com/apphostd/apphostd/pkg/status"
)

// Desired is one compiled and resolved generation of the project.
type Desired struct {
	Graph    *model.Graph
	Resolved *discovery.Result
	// Selection says which resources run without an explicit start
	// (`up NAME...`, profiles); the zero value selects every autostart
	// resource. See lifecycle.go.
	Selection Selection
	// OnceKeys is the identity (resolved spec and inputs) of each
	// run = "once" resource, by name; see lifecycle.go.
	OnceKeys map[string]string
}

// Prober is a running health checker for one instance.
type Prober interface{ Stop() }

// ProbeFactory starts a health checker for replica rep of res, reporting
// transitions through onChange. It returns nil when the resource has no
// health check.
type ProbeFactory func(res *model.Resource, resolved *discovery.Resolved, rep int, instanceID string, onChange func(h status.Health, reason string)) Prober

// Options configure a Reconciler.
type Options struct {
	// Drivers by base kind (model.KindExecutable, model.KindContainer).
	Drivers map[string]runtime.Driver
	Store   *status.Store
	Log     *zap.Logger
	// LogPath names the output file of an instance.
	LogPath func(instanceID string) string
	// NewProber starts health checks; nil = no health checks.
	NewProber ProbeFactory
	// StopGrace is the time between the stop signal and SIGKILL.
	StopGrace time.Duration
	// Workers is the number of concurrent reconcile passes (distinct keys).
	Workers int
	// OnInstancesChanged is called (outside locks) after an instance starts
	// or ends, so the daemon can persist state for adoption.
	OnInstancesChanged func()
	// OnInstanceStarted is called after a start, e.g. to follow its log.
	OnInstanceStarted func(resource string, rec Record)
	// BackoffReset: an instance that ran this long resets its backoff.
	BackoffReset time.Duration
	// Once remembers the identity of the last successful run of each
	// run = "once" resource; nil: such resources always run.
	Once OnceStore
}

// Record is the persisted identity of a running instance, for adoption by a
// restarted daemon.
type Record struct {
	ID        string    `json:"id"`
	Resource  string    `json:"resource"`
	Replica   int       `json:"replica"`
	BaseKind  string    `json:"base_kind"`
	PID       int       `json:"pid,omitempty"`
	StartTime uint64    `json:"start_time,omitempty"`
	StartedAt time.Time `json:"started_at"`
	Hash      string    `json:"hash"`
	Restarts  int       `json:"restarts"`
}

type phase int

const (
	phaseStarting phase = iota
	phaseRunning
	phaseStopping
	phaseExited
	phaseFailed // could not start
)

// instance is one replica as the reconciler knows it. Fields are guarded by
// Reconciler.mu.
type instance struct {
	id        string
	replica   int
	baseKind  string
	hash      string
	gen       int
	life      instLife // on_dependency_restart and run = "once" (lifecycle.go)
	phase     phase
	pid       int
	startTime uint64
	startedAt time.Time
	exitCode  int
	exitedAt  time.Time
	// stopRequested: the daemon stopped it (replace, stop, shutdown); its
	// exit is not a crash and does not trigger the restart policy.
	stopRequested bool
	// stopInFlight: a Stop call for it has not returned yet; no
	// replacement under the same ID may start until it has (the driver
	// sweeps the ID's process group or cgroup after the leader exits).
	stopInFlight bool
	restarts     int
	backoff      time.Duration
	nextStart    time.Time
	health       status.Health
	healthReason string
	prober       Prober
	failReason   string
	terminal     bool // failReason can never clear without a spec change

	// replacing: stopped because its spec changed (or a restart), so a
	// replacement must start once it has ended.
	replacing bool
}

// resource is the reconciler's per-resource bookkeeping, guarded by mu.
type resource struct {
	name          string
	insts         map[int]*instance
	explicitStart bool
	explicitStop  bool
	gen           int // bumped by Restart and explicit Start
	restarts      int
	readyAt       time.Time
	startedAt     time.Time
	// epoch counts disruptions its dependents may follow: every instance
	// start and every turn to Unhealthy (lifecycle.go).
	epoch int
	// note is shown as the reason of a Running or Finished resource:
	// degraded by a dependency, or a run = "once" job skipped.
	note string
}

// Reconciler drives resources toward the desired graph.
//
// Lock order: passMu, then Reconciler.mu, then status.Store's lock
// (Store.Update is called with mu held; the store never calls back).
// Driver calls are made without mu held; the queue guarantees one pass per
// resource at a time, so a pass may release mu around a driver call
// without another pass interleaving on the same resource.
type Reconciler struct {
	opts  Options
	log   *zap.Logger
	queue *Queue

	// passMu is read-held by every pass. Shutdown and Kill take it for
	// writing to set shutdown, so a pass that was starting an instance
	// has finished (and its instance is known) before they collect what
	// to stop; passes after that see shutdown and start nothing.
	passMu sync.RWMutex

	mu         sync.Mutex
	desired    *Desired
	res        map[string]*resource
	dependents map[string][]string // name → resources that wait on it
	shutdown   bool

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // workers
	bg     sync.WaitGroup // stop goroutines and exit watchers
}

// New returns a Reconciler; call Run to start its workers.
func New(opts Options) *Reconciler {
	if opts.Log == nil {
		opts.Log = zap.NewNop()
	}
	if opts.StopGrace <= 0 {
		opts.StopGrace = 10 * time.Second
	}
	if opts.Workers <= 0 {
		opts.Workers = 8
	}
	if opts.BackoffReset <= 0 {
		opts.BackoffReset = 10 * time.Second
	}
	if opts.LogPath == nil {
		opts.LogPath = func(string) string { return "/dev/null" }
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Reconciler{
		opts:       opts,
		log:        opts.Log,
		queue:      NewQueue(),
		res:        map[string]*resource{},
		dependents: map[string][]string{},
		ctx:        ctx,
		cancel:     cancel,
	}
}

// Run starts the workers; they run until Close.
func (r *Reconciler) Run() {
	for i := 0; i < r.opts.Workers; i++ {
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			for {
				key, ok := r.queue.Get()
				if !ok {
					return
				}
				r.passMu.RLock()
				after := r.reconcile(key)
				r.passMu.RUnlock()
				r.queue.Done(key)
				if after > 0 {
					r.queue.AddAfter(key, after)
				}
			}
		}()
	}
}

// Close stops the workers and probers without stopping any instance (a
// daemon that is killed or restarted leaves its work running). Use Shutdown
// first to stop everything.
func (r *Reconciler) Close() {
	r.queue.ShutDown()
	r.wg.Wait()
	r.mu.Lock()
	for _, st := range r.res {
		for _, in := range st.insts {
			if in.prober != nil {
				in.prober.Stop()
				in.prober = nil
			}
		}
	}
	r.mu.Unlock()
	r.cancel()
}

// SetDesired swaps in a new desired generation and queues every resource
// of the old and new graphs.
func (r *Reconciler) SetDesired(d *Desired) {
	r.mu.Lock()
	r.desired = d
	deps := map[string][]string{}
	for name, res := range d.Graph.Resources {
		for _, dep := range res.DependsOn {
			deps[dep] = append(deps[dep], name)
		}
	}
	r.dependents = deps
	keys := make([]string, 0, len(d.Graph.Resources)+len(r.res))
	for _, n := range d.Graph.Order {
		keys = append(keys, n)
		if r.res[n] == nil {
			r.res[n] = &resource{name: n, insts: map[int]*instance{}}
			// Publish new resources at once, so a reader right after
			// SetDesired (up --wait) sees the whole graph, not only what
			// the workers have reached.
			mr := d.Graph.Resources[n]
			r.opts.Store.Update(n, func(s *status.Resource) {
				s.Kind, s.BaseKind = mr.Kind, mr.BaseKind
				lifecycleStatus(s, mr, d.Selection.runsOnItsOwn(mr))
				s.DependsOn = append([]string(nil), mr.DependsOn...)
				if s.State == "" {
					s.State = status.NotStarted
				}
			})
		}
	}
	for n := range r.res {
		if d.Graph.Resources[n] == nil {
			keys = append(keys, n)
		}
	}
	r.mu.Unlock()
	for _, k := range keys {
		r.queue.Add(k)
	}
}

// Desired returns the current desired generation (nil before the first).
func (r *Reconciler) Desired() *Desired {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.desired
}

// Adopt registers instances a previous daemon started and that the drivers
// confirmed are still the same processes/containers. Call before the first
// SetDesired. It returns the records that could not be adopted.
func (r *Reconciler) Adopt(ctx context.Context, recs []Record) (adopted, lost []Record) {
	for _, rec := range recs {
		drv := r.opts.Drivers[rec.BaseKind]
		if drv == nil {
			lost = append(lost, rec)
			continue
		}
		st, err := drv.Adopt(ctx, runtime.Status{ID: rec.ID, PID: rec.PID, StartTime: rec.StartTime, State: runtime.StateRunning, StartedAt: rec.StartedAt})
		if err != nil || st.State != runtime.StateRunning {
			lost = append(lost, rec)
			continue
		}
		r.mu.Lock()
		res := r.res[rec.Resource]
		if res == nil {
			res = &resource{name: rec.Resource, insts: map[int]*instance{}}
			r.res[rec.Resource] = res
		}
		in := &instance{id: rec.ID, replica: rec.Replica, baseKind: rec.BaseKind, hash: rec.Hash, phase: phaseRunning,
			pid: st.PID, startTime: st.StartTime, startedAt: rec.StartedAt, restarts: rec.Restarts, health: status.HealthUnknown}
		res.insts[rec.Replica] = in
		if res.startedAt.IsZero() {
			res.startedAt = rec.StartedAt
		}
		r.mu.Unlock()
		r.watchExit(rec.Resource, in, drv)
		adopted = append(adopted, rec)
		if r.opts.OnInstanceStarted != nil {
			r.opts.OnInstanceStarted(rec.Resource, rec)
		}
	}
	return adopted, lost
}

// Records returns the running instances for persistence.
func (r *Reconciler) Records() []Record {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Record
	for name, st := range r.res {
		for _, in := range st.insts {
			if in.phase == phaseRunning || in.phase == phaseStarting || in.phase == phaseStopping {
				if in.pid == 0 && in.baseKind == model.KindExecutable {
					continue
				}
				out = append(out, Record{ID: in.id, Resource: name, Replica: in.replica, BaseKind: in.baseKind,
					PID: in.pid, StartTime: in.startTime, StartedAt: in.startedAt, Hash: in.hash, Restarts: in.restarts})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// ErrUnknownResource is returned by Start, Stop and Restart.
var ErrUnknownResource = errors.New("no such resource")

// declaredLocked returns the bookkeeping of a resource the current graph
// declares, or ErrUnknownResource. Caller holds r.mu.
func (r *Reconciler) declaredLocked(name string) (*resource, error) {
	st := r.res[name]
	if st == nil || r.desired == nil || r.desired.Graph.Resources[name] == nil {
		return nil, fmt.Errorf("%w: %q", ErrUnknownResource, name)
	}
	return st, nil
}

// StartResource clears an explicit stop and, for autostart=false resources,
// marks them started. It does not wait; see WaitFor.
func (r *Reconciler) StartResource(name string) error {
	r.mu.Lock()
	st, err := r.declaredLocked(name)
	if err != nil {
		r.mu.Unlock()
		return err
	}
	st.explicitStop = false
	st.explicitStart = true
	allDone := true
	for _, in := range st.insts {
		if in.phase == phaseRunning || in.phase == phaseStarting || in.phase == phaseStopping {
			allDone = false
		}
	}
	if allDone && len(st.insts) > 0 && !r.onceDoneLocked(name) {
		st.gen++ // a finished/stopped resource runs again (not a run = "once" job that is done: see rerun)
	}
	r.mu.Unlock()
	r.queue.Add(name)
	return nil
}

// StopResource stops a resource until started again.
func (r *Reconciler) StopResource(name string) error {
	r.mu.Lock()
	st, err := r.declaredLocked(name)
	if err != nil {
		r.mu.Unlock()
		return err
	}
	st.explicitStop = true
	r.mu.Unlock()
	r.queue.Add(name)
	return nil
}

// RestartResource replaces every instance of a resource. It returns the
// generation to wait for.
func (r *Reconciler) RestartResource(name string) error {
	r.mu.Lock()
	st, err := r.declaredLocked(name)
	if err != nil {
		r.mu.Unlock()
		return err
	}
	st.explicitStop = false
	st.explicitStart = true
	st.gen++
	r.mu.Unlock()
	r.queue.Add(name)
	return nil
}

// WaitFor blocks until pred holds for the named resource's status, or ctx
// ends.
func (r *Reconciler) WaitFor(ctx context.Context, name string, pred func(status.Resource) bool) (status.Resource, error) {
	for {
		snap, _, ch, cancel := r.opts.Store.Subscribe(256)
		for _, s := range snap {
			if s.Name == name && pred(s) {
				cancel()
				return s, nil
			}
		}
		for {
			select {
			case <-ctx.Done():
				cancel()
				last, _ := r.opts.Store.Get(name)
				return last, ctx.Err()
			case e, ok := <-ch:
				if !ok {
					goto resubscribe
				}
				if e.Resource != nil && e.Resource.Name == name {
					if e.Type == status.EventRemoved {
						cancel()
						return *e.Resource, fmt.Errorf("%w: %q was removed", ErrUnknownResource, name)
					}
					if pred(*e.Resource) {
						cancel()
						return *e.Resource, nil
					}
				}
			}
		}
	resubscribe:
		cancel()
	}
}

// Shutdown stops every instance in reverse dependency order: a resource is
// stopped only after everything that depends on it has stopped. Resources
// at the same depth stop in parallel. After Shutdown nothing starts again.
func (r *Reconciler) Shutdown(ctx context.Context) error {
	r.stopPasses()
	r.mu.Lock()
	levels := r.stopLevelsLocked()
	r.mu.Unlock()
	var errs []error
	for i := len(levels) - 1; i >= 0; i-- {
		var wg sync.WaitGroup
		var emu sync.Mutex
		for _, name := range levels[i] {
			r.mu.Lock()
			st := r.res[name]
			var targets []*instance
			if st != nil {
				for _, in := range st.insts {
					if in.phase == phaseRunning || in.phase == phaseStarting || in.phase == phaseStopping {
						in.stopRequested = true
						in.phase = phaseStopping
						targets = append(targets, in)
					}
				}
			}
			r.mu.Unlock()
			r.publish(name)
			for _, in := range targets {
				drv := r.opts.Drivers[in.baseKind]
				if drv == nil {
					continue
				}
				wg.Add(1)
				go func(in *instance) {
					defer wg.Done()
					if err := drv.Stop(ctx, in.id, r.opts.StopGrace); err != nil {
						emu.Lock()
						errs = append(errs, fmt.Errorf("stop %s: %w", in.id, err))
						emu.Unlock()
					}
				}(in)
			}
		}
		wg.Wait()
	}
	// Let exit watchers record the exits.
	done := make(chan struct{})
	go func() { r.bg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		errs = append(errs, ctx.Err())
	}
	return errors.Join(errs...)
}

// stopPasses sets shutdown once every in-flight pass has finished: an
// instance such a pass was starting is then Running (and stopped by the
// caller), never started behind the caller's back.
func (r *Reconciler) stopPasses() {
	r.passMu.Lock()
	r.mu.Lock()
	r.shutdown = true
	r.mu.Unlock()
	r.passMu.Unlock()
}

// stopLevelsLocked groups known resources by dependency depth: level 0 has
// no dependencies among known resources. Resources no longer in the graph go
// to the top level (stopped first).
func (r *Reconciler) stopLevelsLocked() [][]string {
	depth := map[string]int{}
	var g *model.Graph
	if r.desired != nil {
		g = r.desired.Graph
	}
	var visit func(n string, seen map[string]bool) int
	visit = func(n string, seen map[string]bool) int {
		if d, ok := depth[n]; ok {
			return d
		}
		if g == nil || g.Resources[n] == nil || seen[n] {
			return 0
		}
		seen[n] = true
		d := 0
		for _, dep := range g.Resources[n].DependsOn {
			if v := visit(dep, seen) + 1; v > d {
				d = v
			}
		}
		depth[n] = d
		return d
	}
	maxd := 0
	for n := range r.res {
		if d := visit(n, map[string]bool{}); d > maxd {
			maxd = d
		}
	}
	levels := make([][]string, maxd+2)
	for n := range r.res {
		if g == nil || g.Resources[n] == nil {
			levels[maxd+1] = append(levels[maxd+1], n)
			continue
		}
		levels[depth[n]] = append(levels[depth[n]], n)
	}
	for _, l := range levels {
		sort.Strings(l)
	}
	return levels
}

// Kill stops every live instance with no grace period, in parallel, and
// marks the reconciler shut down.
func (r *Reconciler) Kill(ctx context.Context) {
	r.stopPasses()
	r.mu.Lock()
	type target struct {
		id  string
		drv runtime.Driver
	}
	var ts []target
	for _, st := range r.res {
		for _, in := range st.insts {
			if in.phase == phaseRunning || in.phase == phaseStarting || in.phase == phaseStopping {
				in.stopRequested = true
				if drv := r.opts.Drivers[in.baseKind]; drv != nil {
					ts = append(ts, target{in.id, drv})
				}
			}
		}
	}
	r.mu.Unlock()
	var wg sync.WaitGroup
	for _, t := range ts {
		wg.Add(1)
		go func(t target) {
			defer wg.Done()
			_ = t.drv.Stop(ctx, t.id, 0)
		}(t)
	}
	wg.Wait()
}
