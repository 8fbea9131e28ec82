package reconcile

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/apphostd/apphostd/pkg/discovery"
	"github.com/apphostd/apphostd/pkg/model"
	"github.com/apphostd/apphostd/pkg/runtime"
	"github.com/apphostd/apphostd/pkg/status"
)

// startItem is a start decided under the lock and carried out after it.
type startItem struct {
	inst *instance
	spec runtime.Spec
	drv  runtime.Driver
}

// reconcile takes one step for the named resource and returns a delay after
// which it wants another pass (0 = only on events).
func (r *Reconciler) reconcile(name string) time.Duration {
	r.mu.Lock()
	st := r.res[name]
	if st == nil {
		r.mu.Unlock()
		return 0
	}
	var mr *model.Resource
	var dr *discovery.Resolved
	if r.desired != nil {
		mr = r.desired.Graph.Resources[name]
		dr = r.desired.Resolved.Resources[name]
	}
	if r.shutdown {
		r.publishLocked(name, mr, dr, "", nil)
		r.mu.Unlock()
		return 0
	}

	// Removed from the graph: stop everything, then forget it.
	if mr == nil || dr == nil {
		stops := r.stopAllLocked(st)
		if len(stops) == 0 && r.allEndedLocked(st) {
			for _, in := range st.insts {
				if in.prober != nil {
					in.prober.Stop()
				}
			}
			delete(r.res, name)
			r.mu.Unlock()
			r.opts.Store.Remove(name)
			return 0
		}
		r.mu.Unlock()
		r.stopAsync(name, stops)
		return 0
	}

	shouldRun := !st.explicitStop && (r.autostartLocked(mr) || st.explicitStart)
	var stops []*instance
	var starts []startItem
	var waitReason string
	var waitingOn []string
	var after time.Duration
	now := time.Now()
	st.note = ""

	switch {
	case mr.BaseKind == model.KindParameter || mr.BaseKind == model.KindVolume:
		// Nothing runs; status reflects whether a value exists.
	case !shouldRun:
		stops = r.stopAllLocked(st)
		st.note = r.unselectedNoteLocked(mr, st)
	case r.blockedLocked(name) != "" && r.allEndedLocked(st):
		waitReason = r.blockedLocked(name)
	case dr.Fail != "":
		stops = r.stopAllLocked(st)
	case dr.Wait != "":
		waitReason = dr.Wait
	default:
		r.lifecycleLocked(name, st, mr, dr)
		drv := r.opts.Drivers[mr.BaseKind]
		depsOK, reason, on := r.depsReadyLocked(mr)
		if !depsOK {
			waitReason, waitingOn = reason, on
		}
		replicas := len(dr.Instances)
		for rep := 0; rep < replicas; rep++ {
			want := dr.Instances[rep]
			in := st.insts[rep]
			changed := in != nil && (in.hash != want.Hash || in.gen != st.gen)
			switch {
			case in == nil:
				if depsOK {
					starts = append(starts, r.planStartLocked(st, rep, want, mr, drv, nil))
				}
			case in.phase == phaseStarting || in.phase == phaseStopping:
				// In flight; its completion requeues.
			case in.phase == phaseRunning:
				if changed {
					in.stopRequested = true
					in.replacing = true
					in.phase = phaseStopping
					in.stopInFlight = true
					stops = append(stops, in)
				} else if in.prober == nil && r.opts.NewProber != nil && mr.Health != nil {
					r.startProberLocked(name, mr, dr, in)
				}
			default: // exited or failed
				if in.stopInFlight {
					// The driver's Stop has not returned: it may still be
					// sweeping what the old instance left (its process
					// group or cgroup, which the replacement would share).
					continue
				}
				// replacing: it was stopped to be replaced, and the spec
				// may since have changed back to its own (an edit undone
				// while it stopped); it must run again either way.
				if changed || in.replacing {
					if depsOK {
						starts = append(starts, r.planStartLocked(st, rep, want, mr, drv, in))
					}
					continue
				}
				if in.phase == phaseFailed && in.terminal {
					continue
				}
				if !r.shouldRestartLocked(mr, in) {
					continue
				}
				if wait := in.nextStart.Sub(now); wait > 0 {
					if after == 0 || wait < after {
						after = wait
					}
					continue
				}
				if depsOK {
					in.restarts++
					st.restarts++
					starts = append(starts, r.planStartLocked(st, rep, want, mr, drv, in))
				}
			}
		}
		// Surplus replicas after a scale-down.
		for rep, in := range st.insts {
			if rep < replicas {
				continue
			}
			if in.phase == phaseRunning || in.phase == phaseStarting {
				in.stopRequested = true
				in.phase = phaseStopping
				in.stopInFlight = true
				stops = append(stops, in)
			} else if in.phase != phaseStopping && !in.stopInFlight {
				delete(st.insts, rep)
			}
		}
	}
	r.publishLocked(name, mr, dr, waitReason, waitingOn)
	r.mu.Unlock()

	r.stopAsync(name, stops)
	for _, s := range starts {
		r.doStart(name, mr, dr, s)
	}
	return after
}

// shouldRestartLocked applies the restart policy to an ended instance.
func (r *Reconciler) shouldRestartLocked(mr *model.Resource, in *instance) bool {
	if in.stopRequested {
		return false
	}
	if in.phase == phaseFailed {
		return true // transient start failure (runtime unavailable): retry with backoff
	}
	switch mr.Restart.Policy {
	case model.RestartAlways:
		return true
	case model.RestartOnFailure:
		return in.exitCode != 0
	}
	return false
}

// planStartLocked prepares an instance for a start carried out after the
// lock is released.
func (r *Reconciler) planStartLocked(st *resource, rep int, want discovery.Instance, mr *model.Resource, drv runtime.Driver, prev *instance) startItem {
	in := &instance{id: want.Spec.ID, replica: rep, baseKind: mr.BaseKind, hash: want.Hash, gen: st.gen,
		phase: phaseStarting, health: status.HealthUnknown}
	if prev != nil {
		in.restarts = prev.restarts
		in.backoff = prev.backoff
		if prev.prober != nil {
			prev.prober.Stop()
		}
	}
	st.insts[rep] = in
	r.stampLocked(mr, in)
	spec := want.Spec
	spec.LogPath = r.opts.LogPath(spec.ID)
	return startItem{inst: in, spec: spec, drv: drv}
}

// doStart runs the driver's Start for one planned instance and records the
// outcome.
func (r *Reconciler) doStart(name string, mr *model.Resource, dr *discovery.Resolved, s startItem) {
	if s.drv == nil {
		r.mu.Lock()
		s.inst.phase = phaseFailed
		s.inst.terminal = true
		s.inst.failReason = fmt.Sprintf("no runtime for %s resources", mr.BaseKind)
		r.mu.Unlock()
		r.queue.Add(name)
		return
	}
	// A previous instance with the same ID may still be known to the driver.
	_ = s.drv.Delete(r.ctx, s.spec.ID)
	rs, err := s.drv.Start(r.ctx, s.spec)
	r.mu.Lock()
	st := r.res[name]
	if err != nil {
		s.inst.phase = phaseFailed
		s.inst.failReason = err.Error()
		s.inst.exitedAt = time.Now()
		s.inst.terminal = errors.Is(err, runtime.ErrInvalidSpec)
		if !s.inst.terminal {
			s.inst.backoff = nextBackoff(mr.Restart, s.inst.backoff)
			s.inst.nextStart = time.Now().Add(s.inst.backoff)
		}
		r.mu.Unlock()
		r.log.Warn("start failed", zap.String("resource", name), zap.String("instance", s.spec.ID), zap.Error(err))
		r.queue.Add(name)
		r.queueDependents(name)
		return
	}
	s.inst.phase = phaseRunning
	r.noteEpochLocked(name)
	s.inst.pid = rs.PID
	s.inst.startTime = rs.StartTime
	s.inst.startedAt = rs.StartedAt
	if s.inst.startedAt.IsZero() {
		s.inst.startedAt = time.Now()
	}
	if st != nil {
		st.startedAt = s.inst.startedAt
		st.readyAt = time.Time{}
	}
	if mr.Health != nil && r.opts.NewProber != nil {
		r.startProberLocked(name, mr, dr, s.inst)
	}
	rec := Record{ID: s.inst.id, Resource: name, Replica: s.inst.replica, BaseKind: s.inst.baseKind, PID: rs.PID,
		StartTime: rs.StartTime, StartedAt: s.inst.startedAt, Hash: s.inst.hash, Restarts: s.inst.restarts}
	r.mu.Unlock()
	r.log.Info("started", zap.String("resource", name), zap.String("instance", s.spec.ID), zap.Int("pid", rs.PID))
	if r.opts.OnInstanceStarted != nil {
		r.opts.OnInstanceStarted(name, rec)
	}
	r.watchExit(name, s.inst, s.drv)
	if r.opts.OnInstancesChanged != nil {
		r.opts.OnInstancesChanged()
	}
	r.queue.Add(name)
	r.queueDependents(name)
}

func (r *Reconciler) startProberLocked(name string, mr *model.Resource, dr *discovery.Resolved, in *instance) {
	if in.replica >= len(dr.Instances) {
		return
	}
	inst := in
	p := r.opts.NewProber(mr, dr, in.replica, in.id, func(h status.Health, reason string) {
		r.mu.Lock()
		if inst.phase != phaseRunning {
			r.mu.Unlock()
			return
		}
		if h == status.Unhealthy && inst.health != status.Unhealthy {
			r.noteEpochLocked(name) // dependents may follow (on_dependency_restart)
		}
		inst.health, inst.healthReason = h, reason
		r.mu.Unlock()
		r.queue.Add(name)
		r.queueDependents(name)
	})
	in.prober = p
}

// watchExit waits for the instance to end and records it.
func (r *Reconciler) watchExit(name string, in *instance, drv runtime.Driver) {
	ch, err := drv.Wait(r.ctx, in.id)
	if err != nil {
		r.mu.Lock()
		in.phase = phaseExited
		in.exitCode = -1
		in.exitedAt = time.Now()
		r.mu.Unlock()
		r.queue.Add(name)
		return
	}
	r.bg.Add(1)
	go func() {
		defer r.bg.Done()
		var ex runtime.Exit
		select {
		case e, ok := <-ch:
			if !ok {
				return
			}
			ex = e
		case <-r.ctx.Done():
			return
		}
		// Release what the instance held before it is marked exited: once
		// it is, a pass may start its replacement under the same ID, and a
		// Delete after that would tear down the new instance's container
		// or network namespace.
		if drv != nil {
			if in.baseKind == model.KindExecutable {
				// The leader is gone. Whatever it left in its process
				// group (a launcher's background server, a job's helper)
				// has nobody left to stop it: end it now, as a container
				// runtime does when a container's init exits. For a
				// stopped instance the group is already empty and this
				// costs one kill(2).
				_ = drv.Stop(r.ctx, in.id, 0)
			}
			_ = drv.Delete(r.ctx, in.id)
		}
		r.mu.Lock()
		if in.prober != nil {
			in.prober.Stop()
			in.prober = nil
		}
		in.phase = phaseExited
		in.exitCode = ex.ExitCode
		in.exitedAt = ex.ExitedAt
		if in.exitedAt.IsZero() {
			in.exitedAt = time.Now()
		}
		in.health = status.HealthUnknown
		if !in.stopRequested {
			var pol model.RestartPolicy
			if r.desired != nil {
				if mr := r.desired.Graph.Resources[name]; mr != nil {
					pol = mr.Restart
				}
			}
			if in.exitedAt.Sub(in.startedAt) >= r.opts.BackoffReset {
				in.backoff = 0
			}
			in.backoff = nextBackoff(pol, in.backoff)
			in.nextStart = in.exitedAt.Add(in.backoff)
		}
		r.mu.Unlock()
		r.log.Info("exited", zap.String("resource", name), zap.String("instance", in.id), zap.Int("code", ex.ExitCode))
		if r.opts.OnInstancesChanged != nil {
			r.opts.OnInstancesChanged()
		}
		r.queue.Add(name)
		r.queueDependents(name)
	}()
}

func nextBackoff(p model.RestartPolicy, cur time.Duration) time.Duration {
	initial, maxd := p.BackoffInitial, p.BackoffMax
	if initial <= 0 {
		initial = 500 * time.Millisecond
	}
	if maxd <= 0 {
		maxd = 30 * time.Second
	}
	if cur <= 0 {
		return initial
	}
	if n := cur * 2; n < maxd {
		return n
	}
	return maxd
}

// stopAllLocked marks every live instance of st as stopping and returns
// them for stopAsync.
func (r *Reconciler) stopAllLocked(st *resource) []*instance {
	var out []*instance
	for _, in := range st.insts {
		if in.phase == phaseRunning || in.phase == phaseStarting {
			in.stopRequested = true
			in.phase = phaseStopping
			in.stopInFlight = true
			out = append(out, in)
		}
	}
	return out
}

func (r *Reconciler) allEndedLocked(st *resource) bool {
	for _, in := range st.insts {
		if (in.phase != phaseExited && in.phase != phaseFailed) || in.stopInFlight {
			return false
		}
	}
	return true
}

// stopAsync stops instances in the background; their exits requeue.
func (r *Reconciler) stopAsync(name string, ins []*instance) {
	for _, in := range ins {
		drv := r.opts.Drivers[in.baseKind]
		if drv == nil {
			continue
		}
		r.bg.Add(1)
		go func(in *instance) {
			defer r.bg.Done()
			if err := drv.Stop(r.ctx, in.id, r.opts.StopGrace); err != nil {
				r.log.Warn("stop failed", zap.String("instance", in.id), zap.Error(err))
			}
			r.mu.Lock()
			in.stopInFlight = false
			r.mu.Unlock()
			r.queue.Add(name)
		}(in)
	}
}

func (r *Reconciler) queueDependents(name string) {
	r.mu.Lock()
	deps := append([]string(nil), r.dependents[name]...)
	r.mu.Unlock()
	for _, d := range deps {
		r.queue.Add(d)
	}
}

// depsReadyLocked checks wait_for (Running and Healthy, and not about to be
// replaced) and wait_for_completion (exited 0).
func (r *Reconciler) depsReadyLocked(mr *model.Resource) (ok bool, reason string, on []string) {
	var reasons []string
	for _, ref := range mr.WaitFor {
		if ready, why := r.readyLocked(ref.Name); !ready {
			on = append(on, ref.Name)
			reasons = append(reasons, why)
		}
	}
	for _, ref := range mr.WaitForCompletion {
		if done, why := r.completedLocked(ref.Name); !done {
			on = append(on, ref.Name)
			reasons = append(reasons, why)
		}
	}
	if len(on) == 0 {
		return true, "", nil
	}
	return false, strings.Join(reasons, "; "), on
}

func (r *Reconciler) readyLocked(name string) (bool, string) {
	mr := r.desired.Graph.Resources[name]
	dr := r.desired.Resolved.Resources[name]
	st := r.res[name]
	if mr == nil || dr == nil || st == nil {
		return false, fmt.Sprintf("waiting for %s: not declared", name)
	}
	switch mr.BaseKind {
	case model.KindParameter:
		if dr.Wait != "" {
			return false, fmt.Sprintf("waiting for %s: %s", name, dr.Wait)
		}
		return true, ""
	case model.KindVolume:
		return true, ""
	}
	if dr.Fail != "" {
		return false, fmt.Sprintf("waiting for %s: it failed to start: %s", name, dr.Fail)
	}
	if len(dr.Instances) == 0 {
		return false, fmt.Sprintf("waiting for %s: %s", name, nonEmpty(dr.Wait, "not resolved"))
	}
	for rep, want := range dr.Instances {
		in := st.insts[rep]
		if in == nil {
			return false, fmt.Sprintf("waiting for %s to start", name)
		}
		if in.phase != phaseRunning {
			return false, fmt.Sprintf("waiting for %s: %s", name, phaseWord(in))
		}
		if in.hash != want.Hash || in.gen != st.gen {
			return false, fmt.Sprintf("waiting for %s to restart", name)
		}
		if mr.Health != nil && in.health != status.Healthy {
			return false, fmt.Sprintf("waiting for %s to be healthy (%s)", name, nonEmpty(in.healthReason, string(in.health)))
		}
	}
	return true, ""
}

func (r *Reconciler) completedLocked(name string) (bool, string) {
	dr := r.desired.Resolved.Resources[name]
	st := r.res[name]
	if dr == nil || st == nil || len(dr.Instances) == 0 {
		return false, fmt.Sprintf("waiting for %s to complete", name)
	}
	for rep, want := range dr.Instances {
		in := st.insts[rep]
		if in == nil || in.hash != want.Hash {
			return false, fmt.Sprintf("waiting for %s to complete", name)
		}
		switch in.phase {
		case phaseExited:
			if in.exitCode != 0 {
				return false, fmt.Sprintf("waiting for %s: it exited with code %d", name, in.exitCode)
			}
		case phaseFailed:
			return false, fmt.Sprintf("waiting for %s: it failed to start", name)
		default:
			return false, fmt.Sprintf("waiting for %s to complete", name)
		}
	}
	return true, ""
}

func phaseWord(in *instance) string {
	switch in.phase {
	case phaseStarting:
		return "starting"
	case phaseStopping:
		return "stopping"
	case phaseExited:
		return fmt.Sprintf("exited with code %d", in.exitCode)
	case phaseFailed:
		return "failed to start"
	}
	return "running"
}

func nonEmpty(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// publish recomputes and stores one resource's status.
func (r *Reconciler) publish(name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var mr *model.Resource
	var dr *discovery.Resolved
	if r.desired != nil {
		mr = r.desired.Graph.Resources[name]
		dr = r.desired.Resolved.Resources[name]
	}
	r.publishLocked(name, mr, dr, "", nil)
}

// publishLocked derives the resource's status from its instances.
func (r *Reconciler) publishLocked(name string, mr *model.Resource, dr *discovery.Resolved, waitReason string, waitingOn []string) {
	st := r.res[name]
	if st == nil {
		return
	}
	insts := make([]status.Instance, 0, len(st.insts))
	reps := make([]int, 0, len(st.insts))
	for rep := range st.insts {
		reps = append(reps, rep)
	}
	sort.Ints(reps)
	for _, rep := range reps {
		in := st.insts[rep]
		si := status.Instance{ID: in.id, Replica: rep, State: instState(mr, in), Health: in.health, Restarts: in.restarts, LastError: in.failReason}
		if in.phase == phaseRunning || in.phase == phaseStarting || in.phase == phaseStopping {
			si.PID = in.pid
			si.StartedAt = in.startedAt
		}
		if in.phase == phaseExited {
			c := in.exitCode
			si.ExitCode = &c
		}
		if mr != nil && mr.Health == nil {
			si.Health = status.HealthNotProbed
		}
		insts = append(insts, si)
	}
	state, health, reason := aggregate(mr, dr, st, insts, waitReason)
	// Reasons and errors can carry a secret (a probe's output, a command
	// built from one, an evaluation error): everything the store holds is
	// served by the API, so mask them here, at the one place statuses are
	// made.
	if r.desired != nil && r.desired.Resolved != nil && len(r.desired.Resolved.Secrets) > 0 {
		mask := r.desired.Resolved.Mask
		reason = mask(reason)
		for i := range insts {
			insts[i].LastError = mask(insts[i].LastError)
		}
	}
	r.opts.Store.Update(name, func(s *status.Resource) {
		if mr != nil {
			s.Kind, s.BaseKind = mr.Kind, mr.BaseKind
			lifecycleStatus(s, mr, r.autostartLocked(mr))
			s.DependsOn = append([]string(nil), mr.DependsOn...)
			s.SpecHash = mr.SpecHash
		}
		if dr != nil {
			s.Endpoints = append([]status.Endpoint(nil), dr.Endpoints...)
			s.Warnings = append([]string(nil), dr.Warnings...)
			if len(dr.Instances) > 0 {
				s.SpecHash = dr.Instances[0].Hash
			}
		}
		s.Instances = insts
		s.State, s.Health, s.Reason = state, health, reason
		s.WaitingOn = waitingOn
		s.Restarts = st.restarts
		s.StartedAt = st.startedAt
		s.ExitCode = nil
		s.LastError = ""
		for _, in := range insts {
			if in.ExitCode != nil {
				c := *in.ExitCode
				s.ExitCode = &c
			}
			if in.LastError != "" {
				s.LastError = in.LastError
			}
		}
		if s.Ready() {
			if st.readyAt.IsZero() {
				st.readyAt = time.Now()
			}
			s.ReadyAt = st.readyAt
		} else {
			s.ReadyAt = time.Time{}
		}
	})
}

func instState(mr *model.Resource, in *instance) status.State {
	switch in.phase {
	case phaseStarting:
		return status.Starting
	case phaseRunning:
		return status.Running
	case phaseStopping:
		return status.Stopping
	case phaseFailed:
		// Transient failures (runtime unavailable) are retried with
		// backoff, but shown as what they are: the reason says why.
		return status.FailedToStart
	}
	if in.stopRequested {
		if in.exitCode == 0 {
			return status.Finished
		}
		return status.Exited
	}
	if mr != nil && !in.nextStart.IsZero() {
		restart := mr.Restart.Policy == model.RestartAlways || (mr.Restart.Policy == model.RestartOnFailure && in.exitCode != 0)
		if restart {
			return status.BackOff
		}
	}
	if in.exitCode == 0 {
		return status.Finished
	}
	return status.Exited
}

// stateRank orders instance states from most to least severe, for a
// resource whose replicas disagree.
var stateRank = map[status.State]int{
	status.FailedToStart: 0, status.BackOff: 1, status.Exited: 2, status.Waiting: 3,
	status.Starting: 4, status.Stopping: 5, status.Running: 6, status.Finished: 7,
}

func aggregate(mr *model.Resource, dr *discovery.Resolved, st *resource, insts []status.Instance, waitReason string) (status.State, status.Health, string) {
	if mr == nil || dr == nil {
		return status.Stopping, status.HealthUnknown, "removed from the project file"
	}
	switch mr.BaseKind {
	case model.KindParameter:
		if dr.Wait != "" {
			return status.Waiting, status.HealthNotProbed, dr.Wait
		}
		return status.Running, status.HealthNotProbed, ""
	case model.KindVolume:
		return status.Running, status.HealthNotProbed, ""
	}
	if dr.Fail != "" {
		return status.FailedToStart, status.HealthUnknown, dr.Fail
	}
	live := false
	for _, in := range insts {
		if in.State == status.Running || in.State == status.Starting || in.State == status.Stopping {
			live = true
		}
	}
	if waitReason != "" && !live {
		return status.Waiting, status.HealthUnknown, waitReason
	}
	if len(insts) == 0 {
		if st.note != "" {
			return status.NotStarted, status.HealthUnknown, st.note
		}
		if !mr.Autostart && !st.explicitStart {
			return status.NotStarted, status.HealthUnknown, "autostart = false: start it with `apphostd start " + mr.Name + "`"
		}
		return status.NotStarted, status.HealthUnknown, ""
	}
	best := insts[0].State
	for _, in := range insts[1:] {
		if stateRank[in.State] < stateRank[best] {
			best = in.State
		}
	}
	health := status.HealthNotProbed
	reason := ""
	if mr.Health != nil {
		health = status.Healthy
		for _, in := range insts {
			if in.Health == status.Unhealthy {
				health = status.Unhealthy
				break
			}
			if in.Health != status.Healthy {
				health = status.HealthUnknown
			}
		}
		if best != status.Running {
			health = status.HealthUnknown
		}
	}
	for _, in := range insts {
		if in.LastError != "" && (in.State == status.FailedToStart || in.State == status.BackOff) {
			reason = in.LastError
		}
	}
	if best == status.BackOff && reason == "" {
		reason = "restarting after a crash (backoff)"
	}
	if st.explicitStop && best != status.Stopping {
		reason = "stopped by request"
	}
	if reason == "" && (best == status.Running || best == status.Finished) {
		reason = st.note // degraded by a dependency, or a skipped run-once job
	}
	return best, health, reason
}
