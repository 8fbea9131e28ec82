// Package process runs resources as local processes: the runtime.Driver for
// executables.
//
// Every process is started in its own process group, without a
// parent-death signal, with stdin on /dev/null and stdout and stderr
// appended to Spec.LogPath through a file descriptor the child owns. Nothing
// about a child depends on the daemon, so it outlives a daemon crash and a
// restarted daemon re-attaches to it with Adopt (PID plus /proc start time).
package process

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/apphostd/apphostd/pkg/runtime"
)

var _ runtime.Driver = (*Driver)(nil)

// Driver runs local executables. The zero value is not usable; call New
// or NewWithOptions.
//
// Instances are reaped by a goroutine each: cmd.Wait for children this
// Driver started, a pidfd (or, without pidfd, a 100ms /proc poll) for
// adopted processes. Those goroutines outlive a dropped Driver until their
// process exits; processes themselves are never tied to the Driver.
type Driver struct {
	log *zap.Logger

	// noPidfd forces the /proc polling fallback for adopted processes
	// (tests exercise both paths). Set before use, never changed after.
	noPidfd bool

	// mu guards instances and, for every instance, its status and waiters
	// fields and the closing of its done channel. It is never held while
	// waiting for a process, sleeping or forking; two Starts of one ID
	// cannot both succeed because Start runs under startMu.
	mu        sync.Mutex
	instances map[string]*instance

	// startMu serialises Start (see there). Lock order: startMu, then mu.
	startMu sync.Mutex

	// cg is the project's cgroup setup; nil in process-group mode. iso
	// describes the mode. Both are fixed at construction.
	cg  *cgroups
	iso Isolation
	// listeners hands socket-activated instances their sockets; never nil.
	listeners *Listeners
}

// Options configure NewWithOptions.
type Options struct {
	Log *zap.Logger
	// CgroupName, if set, asks for cgroup containment: the project's
	// cgroup directory name (e.g. "apphostd-<project id>"). Containment
	// needs root and a writable cgroup hierarchy; without them the driver
	// uses process groups and Isolation says why.
	CgroupName string
	// Listeners holds the sockets of socket-activated endpoints (shared
	// with whoever allocates ports); nil: the driver makes its own and
	// binds each port at start.
	Listeners *Listeners
}

// instance is one process the Driver knows, started or adopted.
type instance struct {
	// Immutable after creation.
	id      string
	pid     int
	pgid    int // process group to signal; 0 = signal only pid (not a group leader)
	stopSig syscall.Signal
	cg      *instCgroup // nil: process-group containment only

	// Guarded by Driver.mu.
	status  runtime.Status
	waiters []chan runtime.Exit // each buffered(1); nil once exited

	// done is closed (under Driver.mu) once status.State is StateExited.
	done chan struct{}
}

// New returns a Driver that contains instances with process groups. log
// may be nil.
func New(log *zap.Logger) *Driver {
	return NewWithOptions(Options{Log: log})
}

// NewWithOptions returns a Driver; with o.CgroupName set it runs every
// instance in its own cgroup where it can (see cgroup.go).
func NewWithOptions(o Options) *Driver {
	log := o.Log
	if log == nil {
		log = zap.NewNop()
	}
	d := &Driver{log: log.Named("process"), instances: make(map[string]*instance), listeners: o.Listeners}
	if d.listeners == nil {
		d.listeners = NewListeners()
	}
	d.cg, d.iso = detectCgroups(o.CgroupName)
	d.log.Info("containment", zap.String("mode", string(d.iso.Mode)), zap.String("detail", d.iso.Detail))
	return d
}

// Isolation reports how instances are contained: cgroups or process
// groups, and why.
func (d *Driver) Isolation() Isolation { return d.iso }

// DetectIsolation reports the mode a driver with this cgroup name would
// use, creating the project's cgroup directories as a driver would (and
// removing them again if empty), for `apphostd doctor`.
func DetectIsolation(cgroupName string) Isolation {
	c, iso := detectCgroups(cgroupName)
	if c != nil {
		c.cleanup()
	}
	return iso
}

// SweepCgroups stops and removes the project's instance cgroups that keep
// does not name: processes a dead daemon left that no record adopted,
// found by their cgroup even if they left every process group. It returns
// the instance IDs it stopped processes of. In process-group mode it does
// nothing.
func (d *Driver) SweepCgroups(ctx context.Context, keep map[string]bool) ([]string, error) {
	if d.cg == nil {
		return nil, nil
	}
	d.mu.Lock()
	k := make(map[string]bool, len(keep)+len(d.instances))
	for id := range keep {
		k[id] = true
	}
	for id := range d.instances {
		k[id] = true
	}
	d.mu.Unlock()
	return d.cg.sweep(ctx, k)
}

// Cleanup removes the project's cgroup directories once nothing runs in
// them; instances still running keep theirs. The daemon calls it after an
// orderly shutdown.
func (d *Driver) Cleanup(context.Context) error {
	if d.cg != nil {
		d.cg.cleanup()
	}
	return nil
}

// Wait implements runtime.Driver. The returned channel is buffered, so the
// exit is never lost if the caller stops reading; ctx is not needed to
// register and is ignored.
func (d *Driver) Wait(_ context.Context, id string) (<-chan runtime.Exit, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	inst := d.instances[id]
	if inst == nil {
		return nil, fmt.Errorf("wait %s: %w", id, runtime.ErrNotFound)
	}
	ch := make(chan runtime.Exit, 1)
	if inst.status.State == runtime.StateExited {
		ch <- exitOf(inst.status)
		close(ch)
		return ch, nil
	}
	inst.waiters = append(inst.waiters, ch)
	return ch, nil
}

// finish records that inst has exited and notifies every waiter. Only the
// first call has an effect.
func (d *Driver) finish(inst *instance, code int, at time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if inst.status.State == runtime.StateExited {
		return
	}
	inst.status.State = runtime.StateExited
	inst.status.ExitCode = code
	inst.status.ExitedAt = at
	ex := exitOf(inst.status)
	for _, w := range inst.waiters {
		w <- ex
		close(w)
	}
	inst.waiters = nil
	close(inst.done)
	d.log.Debug("exited", zap.String("id", inst.id), zap.Int("pid", inst.pid), zap.Int("code", code))
}

func exitOf(st runtime.Status) runtime.Exit {
	return runtime.Exit{ID: st.ID, ExitCode: st.ExitCode, ExitedAt: st.ExitedAt}
}

// Inspect implements runtime.Driver.
func (d *Driver) Inspect(_ context.Context, id string) (runtime.Status, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	inst := d.instances[id]
	if inst == nil {
		return runtime.Status{}, fmt.Errorf("inspect %s: %w", id, runtime.ErrNotFound)
	}
	return inst.status, nil
}

// List implements runtime.Driver: every instance this Driver started or
// adopted and has not deleted, sorted by ID. Processes of the project that
// no Driver knows cannot be told from unrelated ones, so they are not
// listed; the daemon finds them through its persisted records and Adopt.
func (d *Driver) List(_ context.Context) ([]runtime.Status, error) {
	d.mu.Lock()
	out := make([]runtime.Status, 0, len(d.instances))
	for _, inst := range d.instances {
		out = append(out, inst.status)
	}
	d.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// Delete implements runtime.Driver: it forgets an exited instance. Deleting
// an unknown instance is success; deleting a running one is an error (Stop
// it first), because forgetting it would leak the process.
func (d *Driver) Delete(_ context.Context, id string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	inst := d.instances[id]
	if inst == nil {
		return nil
	}
	if inst.status.State != runtime.StateExited {
		return fmt.Errorf("delete %s: pid %d is still running, stop it first", id, inst.pid)
	}
	delete(d.instances, id)
	if inst.cg != nil && inst.cg.empty() {
		// A non-empty one (Stop not called after the leader exited) stays
		// for the next Start of this ID, which empties it first.
		if err := inst.cg.remove(); err != nil {
			d.log.Debug("remove cgroup", zap.String("id", id), zap.Error(err))
		}
	}
	return nil
}
