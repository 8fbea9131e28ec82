package reconcile

import (
	"fmt"
	"strings"
	"time"

	"github.com/apphostd/apphostd/pkg/discovery"
	"github.com/apphostd/apphostd/pkg/model"
	"github.com/apphostd/apphostd/pkg/status"
)

// Lifecycle rules beyond "start in order and keep running":
//
//   - Selection: which resources run without an explicit start. `up
//     NAME...` requests some resources (and the daemon adds what they
//     need); profiles keep others out of a plain `up`.
//   - Dependency restarts: what a running resource does when a wait_for
//     dependency restarts or turns unhealthy (on_dependency_restart).
//   - run = "once": a job whose identity (resolved spec plus inputs) is
//     recorded as done is not run again.
//
// Everything here runs under Reconciler.mu, from the pass of the resource
// concerned, so it sees the same state as the rest of that pass.

// instLife is an instance's lifecycle bookkeeping: the epochs of the
// wait_for dependencies it started against, and, for run = "once", the
// identity it runs with, whether its success was recorded, and whether it
// stands for a skipped run.
type instLife struct {
	depSeen      map[string]int
	onceKey      string
	onceRecorded bool
	skipped      bool
}

// Selection decides which resources run on their own. The daemon computes
// it from `up`'s names and profiles and keeps it across reloads.
type Selection struct {
	// Enabled are the resources allowed to start on their own (autostart);
	// nil means every resource.
	Enabled map[string]bool
	// Requested run even with autostart = false: the resources named on
	// `up` and everything they need.
	Requested map[string]bool
	// Blocked names selected resources that need a resource the selection
	// leaves out, with the reason; they wait instead of starting.
	Blocked map[string]string
}

// runsOnItsOwn reports whether the selection starts mr without an
// explicit start.
func (s Selection) runsOnItsOwn(mr *model.Resource) bool {
	if s.Requested[mr.Name] {
		return true
	}
	return mr.Autostart && (s.Enabled == nil || s.Enabled[mr.Name])
}

// OnceStore remembers, per run = "once" resource, the identity of its
// last successful run. Get and Put are called with the reconciler's lock
// held: they must not block (keep the map in memory, persist in the
// background).
type OnceStore interface {
	Get(name string) string
	Put(name, key string)
}

// autostartLocked reports whether name runs without an explicit start.
func (r *Reconciler) autostartLocked(mr *model.Resource) bool {
	if r.desired == nil {
		return mr.Autostart
	}
	return r.desired.Selection.runsOnItsOwn(mr)
}

// blockedLocked returns why name may not start under the selection, or "".
func (r *Reconciler) blockedLocked(name string) string {
	if r.desired == nil {
		return ""
	}
	return r.desired.Selection.Blocked[name]
}

// EnsureStarted makes a resource run that another one being started
// needs: it clears an explicit stop (and starts it again if it was
// stopped by request) and marks it started, but unlike StartResource it
// does not run again a job that has finished.
func (r *Reconciler) EnsureStarted(name string) error {
	r.mu.Lock()
	st, err := r.declaredLocked(name)
	if err != nil {
		r.mu.Unlock()
		return err
	}
	if st.explicitStop {
		st.explicitStop = false
		for _, in := range st.insts {
			if in.stopRequested && (in.phase == phaseExited || in.phase == phaseFailed) {
				st.gen++ // stopped by request: run it again
				break
			}
		}
	}
	st.explicitStart = true
	r.mu.Unlock()
	r.queue.Add(name)
	return nil
}

// Generation returns the resource's generation: it changes whenever its
// instances are to be replaced or run again (restart, a start of an ended
// resource, a dependency restart under on_dependency_restart = restart).
// Callers compare it around a command to know whether a new run follows.
func (r *Reconciler) Generation(name string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	if st := r.res[name]; st != nil {
		return st.gen
	}
	return 0
}

// stampLocked records, on an instance about to start, the epochs of the
// dependencies it starts against and the run = "once" identity it runs
// with.
func (r *Reconciler) stampLocked(mr *model.Resource, in *instance) {
	in.life.depSeen = map[string]int{}
	for _, ref := range mr.WaitFor {
		if dst := r.res[ref.Name]; dst != nil {
			in.life.depSeen[ref.Name] = dst.epoch
		}
	}
	if r.desired != nil && mr.Run == model.RunOnce {
		in.life.onceKey = r.desired.OnceKeys[mr.Name]
	}
}

// lifecycleLocked applies run = "once" and on_dependency_restart to one
// resource, before the pass decides on its replicas. It may add synthetic
// finished instances (a skipped job), forget ended ones (a job whose
// inputs changed), or bump the resource's generation (a dependent that
// restarts with its dependency); it sets st.note.
func (r *Reconciler) lifecycleLocked(name string, st *resource, mr *model.Resource, dr *discovery.Resolved) {
	onceNote := r.onceLocked(name, st, mr, dr)
	depNote := r.dependencyPolicyLocked(st, mr)
	st.note = depNote
	if st.note == "" {
		st.note = onceNote
	}
}

// onceLocked handles run = "once": it records a successful run, forgets
// ended instances that ran with another identity, and stands in a
// finished instance for each replica whose identity is recorded as done.
func (r *Reconciler) onceLocked(name string, st *resource, mr *model.Resource, dr *discovery.Resolved) string {
	if mr.Run != model.RunOnce || r.opts.Once == nil || r.desired == nil {
		return ""
	}
	key := r.desired.OnceKeys[name]
	if key == "" {
		return ""
	}
	for rep, in := range st.insts {
		ended := in.phase == phaseExited || in.phase == phaseFailed
		if in.phase == phaseExited && in.exitCode == 0 && !in.stopRequested && in.life.onceKey != "" && !in.life.onceRecorded && !in.life.skipped {
			r.opts.Once.Put(name, in.life.onceKey)
			in.life.onceRecorded = true
		}
		if ended && in.life.onceKey != key {
			// Same spec, other inputs: it runs again.
			if in.prober != nil {
				in.prober.Stop()
			}
			delete(st.insts, rep)
		}
	}
	if r.opts.Once.Get(name) != key {
		return ""
	}
	skipped := false
	now := time.Now()
	for rep, want := range dr.Instances {
		if st.insts[rep] != nil {
			skipped = skipped || st.insts[rep].life.skipped
			continue
		}
		st.insts[rep] = &instance{id: want.Spec.ID, replica: rep, baseKind: mr.BaseKind, hash: want.Hash, gen: st.gen,
			phase: phaseExited, exitedAt: now, health: status.HealthUnknown, life: instLife{onceKey: key, onceRecorded: true, skipped: true}}
		skipped = true
	}
	if !skipped {
		return ""
	}
	return fmt.Sprintf("run = \"once\": done, unchanged since its last successful run (`apphostd rerun %s` runs it again)", name)
}

// onceDoneLocked reports whether name is a run = "once" job whose current
// identity is recorded as done.
func (r *Reconciler) onceDoneLocked(name string) bool {
	if r.desired == nil || r.opts.Once == nil {
		return false
	}
	mr := r.desired.Graph.Resources[name]
	key := r.desired.OnceKeys[name]
	return mr != nil && mr.Run == model.RunOnce && key != "" && r.opts.Once.Get(name) == key
}

// dependencyPolicyLocked applies on_dependency_restart to a running
// resource: it returns the degraded note while a wait_for dependency is
// not ready, and with "restart" bumps the generation (every instance is
// replaced) once a dependency that restarted or turned unhealthy since an
// instance started is ready again.
func (r *Reconciler) dependencyPolicyLocked(st *resource, mr *model.Resource) string {
	pol := mr.OnDependencyRestart
	if pol == "" {
		pol = model.DepRestartWait
	}
	if pol == model.DepRestartIgnore || len(mr.WaitFor) == 0 {
		return ""
	}
	var running []*instance
	for _, in := range st.insts {
		if in.phase == phaseRunning && in.gen == st.gen {
			running = append(running, in)
		}
	}
	if len(running) == 0 {
		return ""
	}
	var down []string
	restart := false
	for _, ref := range mr.WaitFor {
		dst := r.res[ref.Name]
		if dst == nil {
			continue
		}
		ready, _ := r.readyLocked(ref.Name)
		if !ready {
			down = append(down, fmt.Sprintf("dependency %s %s", ref.Name, r.disruptionWordLocked(ref.Name)))
		}
		for _, in := range running {
			seen, ok := in.life.depSeen[ref.Name]
			if !ok {
				// Adopted, or started before the dependency was known:
				// follow from now on.
				if in.life.depSeen == nil {
					in.life.depSeen = map[string]int{}
				}
				in.life.depSeen[ref.Name] = dst.epoch
				continue
			}
			if seen == dst.epoch || !ready {
				continue
			}
			if pol == model.DepRestartRestart {
				restart = true
			} else {
				in.life.depSeen[ref.Name] = dst.epoch
			}
		}
	}
	if restart {
		st.gen++
		r.log.Info("restarting with its dependency (on_dependency_restart = restart)")
		return ""
	}
	if len(down) == 0 {
		return ""
	}
	note := strings.Join(down, "; ")
	if pol == model.DepRestartRestart {
		note += fmt.Sprintf("; %s restarts when it is ready", mr.Name)
	}
	return note
}

// disruptionWordLocked says what is happening to a dependency that is not
// ready: "unhealthy", "stopped" or "restarting".
func (r *Reconciler) disruptionWordLocked(name string) string {
	st := r.res[name]
	if st == nil {
		return "restarting"
	}
	if st.explicitStop {
		return "stopped"
	}
	for _, in := range st.insts {
		if in.phase == phaseRunning && in.health == status.Unhealthy {
			return "unhealthy"
		}
	}
	return "restarting"
}

// noteEpochLocked counts a disruption of a resource that dependents may
// follow.
func (r *Reconciler) noteEpochLocked(name string) {
	if st := r.res[name]; st != nil {
		st.epoch++
	}
}

// lifecycleStatus fills the status fields that come from the declaration.
func lifecycleStatus(s *status.Resource, mr *model.Resource, autostart bool) {
	s.Autostart = autostart
	s.Profiles = append([]string(nil), mr.Profiles...)
	s.OnDependencyRestart = ""
	s.Run = ""
	if mr.BaseKind == model.KindExecutable || mr.BaseKind == model.KindContainer {
		s.OnDependencyRestart = mr.OnDependencyRestart
		if s.OnDependencyRestart == "" {
			s.OnDependencyRestart = model.DepRestartWait
		}
		if mr.Run == model.RunOnce {
			s.Run = model.RunOnce
		}
	}
}

// unselectedNoteLocked says why a resource that could run does not: left
// out by its profiles, or by a narrowed `up`.
func (r *Reconciler) unselectedNoteLocked(mr *model.Resource, st *resource) string {
	if st.explicitStop || !mr.Autostart || r.desired == nil || r.desired.Selection.runsOnItsOwn(mr) {
		return ""
	}
	if len(mr.Profiles) > 0 {
		return fmt.Sprintf("in profile %s, which is not active: start it with `apphostd start %s` or `apphostd up --profile %s`",
			quoteJoin(mr.Profiles), mr.Name, mr.Profiles[0])
	}
	return fmt.Sprintf("not selected by `apphostd up NAME...`: start it with `apphostd start %s`", mr.Name)
}

func quoteJoin(xs []string) string {
	q := make([]string, len(xs))
	for i, x := range xs {
		q[i] = fmt.Sprintf("%q", x)
	}
	return strings.Join(q, " or ")
}
