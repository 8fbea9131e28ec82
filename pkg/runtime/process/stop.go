package process

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"time"

	"go.uber.org/zap"
	"golang.org/x/sys/unix"
)

// sweepTimeout bounds how long Stop waits for SIGKILLed group members to
// disappear (a process in uninterruptible sleep dies only when it wakes).
const sweepTimeout = 5 * time.Second

// Stop implements runtime.Driver. It sends the stop signal to the whole
// process group (and, in cgroup mode, to every process in the instance's
// cgroup, including those that left the group), waits up to grace for the
// leader to exit, then SIGKILLs the group. Whether or not the leader had
// already exited, it then kills whatever is left: in cgroup mode every
// process still in the cgroup (after waiting out the rest of grace for
// them to stop on their own), and in every mode the members left in the
// process group; it returns once none is alive. Unknown instances are
// success.
//
// If ctx ends while waiting, everything is SIGKILLed and ctx's error is
// returned without waiting further.
func (d *Driver) Stop(ctx context.Context, id string, grace time.Duration) error {
	d.mu.Lock()
	inst := d.instances[id]
	d.mu.Unlock()
	if inst == nil {
		return nil
	}
	deadline := time.Now().Add(grace)
	select {
	case <-inst.done:
	default:
		d.signal(inst, inst.stopSig)
		if inst.cg != nil {
			inst.cg.signalAll(inst.stopSig)
		}
		timer := time.NewTimer(grace)
		select {
		case <-inst.done:
			timer.Stop()
		case <-timer.C:
			d.log.Info("grace elapsed, killing", zap.String("id", id), zap.Int("pid", inst.pid), zap.Duration("grace", grace))
			d.signal(inst, syscall.SIGKILL)
			if inst.cg != nil {
				_ = inst.cg.killAll(ctx, 0)
			}
			select {
			case <-inst.done:
			case <-ctx.Done():
				return fmt.Errorf("stop %s: %w", id, ctx.Err())
			}
		case <-ctx.Done():
			timer.Stop()
			d.signal(inst, syscall.SIGKILL)
			if inst.cg != nil {
				_ = inst.cg.killAll(context.Background(), 0)
			}
			return fmt.Errorf("stop %s: %w", id, ctx.Err())
		}
	}
	if inst.cg != nil {
		// Members that got the stop signal may still be exiting: give
		// them what is left of grace, then kill the rest.
		if rest := time.Until(deadline); rest > 0 && !inst.cg.empty() {
			waitForCtx(ctx, rest, inst.cg.empty)
		}
		if err := inst.cg.killAll(ctx, sweepTimeout); err != nil {
			return fmt.Errorf("stop %s: %w", id, err)
		}
	}
	if err := d.sweep(ctx, inst); err != nil {
		return fmt.Errorf("stop %s: %w", id, err)
	}
	return nil
}

// waitForCtx polls cond every few milliseconds for up to d or until ctx
// ends.
func waitForCtx(ctx context.Context, d time.Duration, cond func() bool) {
	deadline := time.Now().Add(d)
	wait := time.Millisecond
	for !cond() && time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		if wait < 20*time.Millisecond {
			wait *= 2
		}
	}
}

// signal sends sig to inst's process group, or to its PID alone if it does
// not lead one. A group or process that no longer exists is not an error.
func (d *Driver) signal(inst *instance, sig syscall.Signal) {
	target := inst.pid
	if inst.pgid > 0 {
		target = -inst.pgid
	}
	if err := unix.Kill(target, sig); err != nil && !errors.Is(err, unix.ESRCH) {
		d.log.Warn("signal failed", zap.String("id", inst.id), zap.Int("target", target), zap.Stringer("signal", sig), zap.Error(err))
	}
}

// sweep SIGKILLs the live members left in inst's process group and waits
// until there are none. The group's ID cannot be reused by an unrelated
// process while any member is alive, so signalling it is safe here.
func (d *Driver) sweep(ctx context.Context, inst *instance) error {
	if inst.pgid <= 0 {
		return nil
	}
	// Fast path: no process at all (not even a zombie) is left in the
	// group, so there is nothing to scan /proc for. This is the common
	// case, and a /proc scan costs milliseconds with hundreds of processes.
	if err := unix.Kill(-inst.pgid, 0); errors.Is(err, unix.ESRCH) {
		return nil
	}
	deadline := time.Now().Add(sweepTimeout)
	for {
		members, err := GroupMembers(inst.pgid)
		if err != nil {
			return err
		}
		if len(members) == 0 {
			return nil
		}
		d.log.Debug("killing leftover group members", zap.String("id", inst.id), zap.Int("pgid", inst.pgid), zap.Ints("pids", members))
		if err := unix.Kill(-inst.pgid, unix.SIGKILL); err != nil && !errors.Is(err, unix.ESRCH) {
			return fmt.Errorf("kill group %d: %w", inst.pgid, err)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d processes of group %d survived SIGKILL: %v", len(members), inst.pgid, members)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}
