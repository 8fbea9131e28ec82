package process

import (
	"context"
	"fmt"
	"os"
	"time"

	"go.uber.org/zap"
	"golang.org/x/sys/unix"

	"github.com/apphostd/apphostd/pkg/runtime"
)

// pollInterval is how often an adopted process is checked when pidfd is
// unavailable.
const pollInterval = 100 * time.Millisecond

// Adopt implements runtime.Driver. It re-attaches to rec only if
// /proc/rec.PID exists, is alive, and has exactly rec.StartTime; otherwise
// (gone, or the PID was reused) it returns ErrNotFound. An adopted process
// is not this daemon's child, so its exit code cannot be known: its Exit
// carries -1. It is signalled as a group only if it still leads its own
// process group. In cgroup mode its cgroup is found from
// /proc/PID/cgroup (accepted only if named for this project and ID), so
// Stop reaches every process of it again. Adopting the same process twice
// is a no-op.
func (d *Driver) Adopt(ctx context.Context, rec runtime.Status) (runtime.Status, error) {
	if err := ctx.Err(); err != nil {
		return runtime.Status{}, fmt.Errorf("adopt %s: %w", rec.ID, err)
	}
	st, err := alive(rec.PID, rec.StartTime)
	if err != nil {
		return runtime.Status{}, fmt.Errorf("adopt %s: %w", rec.ID, err)
	}
	w, err := d.newExitWatch(rec.PID, rec.StartTime)
	if err != nil {
		return runtime.Status{}, fmt.Errorf("adopt %s: %w", rec.ID, err)
	}

	d.mu.Lock()
	if old := d.instances[rec.ID]; old != nil && old.status.State != runtime.StateExited {
		status := old.status
		d.mu.Unlock()
		w.close()
		if status.PID == rec.PID && status.StartTime == rec.StartTime {
			return status, nil
		}
		return runtime.Status{}, fmt.Errorf("adopt %s: pid %d: %w", rec.ID, status.PID, runtime.ErrAlreadyExists)
	}
	inst := &instance{
		id:      rec.ID,
		pid:     rec.PID,
		stopSig: unix.SIGTERM,
		status: runtime.Status{
			ID:        rec.ID,
			State:     runtime.StateRunning,
			PID:       rec.PID,
			StartTime: rec.StartTime,
			StartedAt: rec.StartedAt,
			IP:        rec.IP,
		},
		done: make(chan struct{}),
	}
	if st.Pgid == rec.PID {
		inst.pgid = rec.PID
	}
	if d.cg != nil {
		// The cgroup a previous daemon put it in, from the process
		// itself: it holds every descendant, even those that left the
		// process group, wherever that daemon's own cgroup was.
		if cg := d.cg.adoptCgroup(rec.PID, rec.ID); cg != nil {
			inst.cg = cg
			inst.status.Cgroup = cg.path()
		}
	}
	d.instances[rec.ID] = inst
	status := inst.status
	d.mu.Unlock()

	go func() {
		w.wait()
		d.finish(inst, -1, time.Now())
	}()
	d.log.Info("adopted", zap.String("id", rec.ID), zap.Int("pid", rec.PID), zap.Bool("pidfd", w.pidfd != nil))
	return status, nil
}

// alive returns the stat of pid if it is a live process with the given
// start time, else an error wrapping runtime.ErrNotFound.
func alive(pid int, start uint64) (procStat, error) {
	st, err := readStat(pid)
	if err != nil {
		return procStat{}, fmt.Errorf("pid %d: %w", pid, runtime.ErrNotFound)
	}
	if st.StartTime != start {
		return procStat{}, fmt.Errorf("pid %d was reused (start time %d, recorded %d): %w", pid, st.StartTime, start, runtime.ErrNotFound)
	}
	if st.State == 'Z' || st.State == 'X' {
		return procStat{}, fmt.Errorf("pid %d has exited: %w", pid, runtime.ErrNotFound)
	}
	return st, nil
}

// exitWatch learns of the exit of a process that is not our child.
type exitWatch struct {
	pid   int
	start uint64
	pidfd *os.File // nil: poll /proc instead
}

// newExitWatch opens a pidfd for pid (falling back to polling if the
// kernel or d refuses) and re-checks the start time once the pidfd pins
// the process, so a PID reused between check and open is never watched.
func (d *Driver) newExitWatch(pid int, start uint64) (*exitWatch, error) {
	w := &exitWatch{pid: pid, start: start}
	if d.noPidfd {
		return w, nil
	}
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		d.log.Debug("pidfd unavailable, polling /proc", zap.Int("pid", pid), zap.Error(err))
		return w, nil
	}
	// Non-blocking so that os.NewFile registers it with the runtime
	// poller: waiting then parks a goroutine, not an OS thread.
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return w, nil
	}
	w.pidfd = os.NewFile(uintptr(fd), fmt.Sprintf("pidfd:%d", pid))
	if _, err := alive(pid, start); err != nil {
		w.close()
		return nil, err
	}
	return w, nil
}

// wait blocks until the process has exited.
func (w *exitWatch) wait() {
	if w.pidfd != nil {
		defer w.close()
		rc, err := w.pidfd.SyscallConn()
		if err == nil {
			// A pidfd becomes readable when the process exits. The callback
			// checks without blocking; returning false parks until the
			// poller reports readiness.
			err = rc.Read(func(fd uintptr) bool {
				fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
				n, err := unix.Poll(fds, 0)
				return (err != nil && err != unix.EINTR) || n > 0
			})
		}
		if err == nil {
			return
		}
		// Fall through to polling if the poller refused the descriptor.
	}
	t := time.NewTicker(pollInterval)
	defer t.Stop()
	for range t.C {
		if _, err := alive(w.pid, w.start); err != nil {
			return
		}
	}
}

func (w *exitWatch) close() {
	if w.pidfd != nil {
		w.pidfd.Close()
	}
}
