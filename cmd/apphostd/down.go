package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/apphostd/apphostd/pkg/api"
	"github.com/apphostd/apphostd/pkg/daemon"
	"github.com/apphostd/apphostd/pkg/project"
	"github.com/apphostd/apphostd/pkg/reconcile"
	"github.com/apphostd/apphostd/pkg/runtime"
	"github.com/apphostd/apphostd/pkg/runtime/process"
)

func init() { register(newDownCmd) }

func newDownCmd() *cobra.Command {
	var timeout time.Duration
	var volumes bool
	cmd := &cobra.Command{
		Use:   "down",
		Short: "Stop every resource and the daemon; exit 0 only when nothing is left",
		Long: `Stop every resource in reverse dependency order, then the daemon, and check
that nothing of the project is left: no process in any process group the
project started, no daemon, no socket (and, with the containerd driver, no
container). If the daemon is gone (it crashed or was killed), down stops what
it recorded in .apphost/state.json itself.

Exit codes: 0 nothing is left; 1 something is left (listed on stderr);
4 the daemon did not stop within --timeout (what is left is listed).`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if timeout <= 0 {
				return withCode(exitUsage, fmt.Errorf("--timeout must be positive, got %s", timeout))
			}
			p, err := project.LocateDir(projectFlag(cmd), "")
			if err != nil {
				return withCode(exitError, err)
			}
			return runDown(p, timeout, volumes, cmd.ErrOrStderr())
		},
	}
	cmd.Flags().DurationVar(&timeout, "timeout", 60*time.Second, "give up waiting for the daemon to stop after this long (exit 4)")
	cmd.Flags().BoolVar(&volumes, "volumes", false, "also delete named volumes (.apphost/volumes)")
	return thinClient(cmd)
}

// runDown is `down`: it stops the project and reports on w; the error
// lists what is left.
func runDown(p project.Project, timeout time.Duration, volumes bool, w io.Writer) error {
	left, err := downProject(p, timeout, volumes)
	if err != nil {
		return err
	}
	if len(left) > 0 {
		return withCode(exitError, fmt.Errorf("left behind:\n  %s", strings.Join(left, "\n  ")))
	}
	fmt.Fprintf(w, "apphostd: %s is down\n", p.Dir)
	return nil
}

// downProject asks the daemon to stop everything and waits for it to
// exit, then runs every sweeper and returns what is still left. Instances
// are read from the state file and the API before the daemon stops, so
// the process groups it ran are checked even after a clean shutdown
// removed them from the file. An error (with exit code 4) means the daemon
// did not stop in time; it lists what is left too.
func downProject(p project.Project, timeout time.Duration, volumes bool) ([]string, error) {
	recs := recordedInstances(p)
	pid := daemon.LockHolder(p.LockFile())
	var daemonStart uint64
	if pid > 0 {
		daemonStart, _ = process.ProcStartTime(pid)
	}
	if pid != 0 {
		c := api.Dial(p.Socket())
		defer c.Close()
		lctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		recs = append(recs, liveInstances(lctx, c)...)
		cancel()
		sctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		err := c.Shutdown(sctx)
		cancel()
		if err != nil && pid > 0 {
			// No answer on the socket, but the daemon holds the lock: ask
			// by signal.
			_ = syscall.Kill(pid, syscall.SIGTERM)
		}
		deadline := time.Now().Add(timeout)
		for daemon.LockHolder(p.LockFile()) != 0 {
			if time.Now().After(deadline) {
				left := []string{fmt.Sprintf("daemon%s: still running", pidNote(pid))}
				left = append(left, listGroups(append(recs, recordedInstances(p)...))...)
				return left, withCode(exitTimeout, fmt.Errorf("the daemon%s did not stop within %s; left:\n  %s", pidNote(pid), timeout, strings.Join(left, "\n  ")))
			}
			time.Sleep(20 * time.Millisecond)
		}
		// The daemon lets go of the lock just before it exits: wait for
		// the exit too, so "down" means no daemon process either.
		for pid > 0 && daemonStart != 0 && processLive(pid, daemonStart) {
			if time.Now().After(deadline) {
				return []string{fmt.Sprintf("daemon%s: still running", pidNote(pid))}, withCode(exitTimeout, fmt.Errorf("the daemon%s did not exit within %s", pidNote(pid), timeout))
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	// A crashed daemon's records are still in the file; a clean one's are
	// gone but were read above.
	recs = append(recs, recordedInstances(p)...)
	var left []string
	for _, s := range sweepers {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		left = append(left, s.sweep(ctx, p, recs)...)
		cancel()
	}
	if volumes {
		if err := os.RemoveAll(p.VolumeDir()); err != nil {
			left = append(left, "volumes: "+err.Error())
		}
	}
	if len(left) == 0 {
		_ = os.Remove(p.StateFile())
		_ = os.Remove(filepath.Join(p.StateDir(), "daemon.out"))
	}
	return left, nil
}

// A sweeper removes what a stopped project left behind of one kind and
// returns a line for each thing it could not remove. Sweepers run in
// order after the daemon has exited (or when none runs). recs are the
// instances the daemon ran or recorded (duplicates possible).
//
// To add a check (the containerd driver's containers, snapshots and
// networks), append to sweepers from an init function in its own file.
type sweeper struct {
	what  string
	sweep func(ctx context.Context, p project.Project, recs []reconcile.Record) []string
}

var sweepers = []sweeper{
	{what: "processes", sweep: sweepProcesses},
	{what: "socket", sweep: sweepSocket},
}

// recordedInstances reads state.json; a corrupt file is no records (the
// daemon sets it aside itself).
func recordedInstances(p project.Project) []reconcile.Record {
	recs, _ := daemon.ReadRecords(p.StateFile())
	return recs
}

// liveInstances asks the daemon which instances it runs now, as records.
func liveInstances(ctx context.Context, c *api.Client) []reconcile.Record {
	rs, err := c.Resources(ctx)
	if err != nil {
		return nil
	}
	var out []reconcile.Record
	for _, r := range rs {
		for _, in := range r.Instances {
			if in.PID <= 0 {
				continue
			}
			st, _ := process.ProcStartTime(in.PID)
			out = append(out, reconcile.Record{ID: in.ID, Resource: r.Name, Replica: in.Replica, BaseKind: r.BaseKind, PID: in.PID, StartTime: st})
		}
	}
	return out
}

// sweepProcesses stops what is left of every recorded process group. A
// leader that is still the recorded process (PID and start time match) is
// stopped as the daemon would stop it. Members of a group whose leader is
// gone are ours too, since a group ID cannot be reused while it has
// members; those that started before the recorded leader are not (the ID
// was reused after all) and are left alone. Members get SIGKILL.
func sweepProcesses(ctx context.Context, _ project.Project, recs []reconcile.Record) []string {
	drv := process.New(nil)
	seen := map[int]bool{}
	var left []string
	for _, r := range recs {
		if r.PID <= 0 || seen[r.PID] || (r.BaseKind != "" && r.BaseKind != "executable") {
			continue
		}
		seen[r.PID] = true
		leaderIsOurs := false
		if t, err := process.ProcStartTime(r.PID); err == nil && (r.StartTime == 0 || t == r.StartTime) {
			leaderIsOurs = true
			if st, err := drv.Adopt(ctx, runtimeStatus(r.ID, r.PID, r.StartTime)); err == nil {
				_ = drv.Stop(ctx, st.ID, 5*time.Second)
			}
		} else if err == nil {
			continue // the PID is someone else's now: so is its group
		}
		if !leaderIsOurs || groupAlive(r.PID) {
			killGroup(ctx, r.PID, r.StartTime)
		}
		if alive := ourMembers(r.PID, r.StartTime); len(alive) > 0 {
			left = append(left, fmt.Sprintf("process group %d of %s: pids %v", r.PID, r.ID, alive))
		}
	}
	return left
}

// listGroups lists live members of the recorded groups, without acting.
func listGroups(recs []reconcile.Record) []string {
	seen := map[int]bool{}
	var left []string
	for _, r := range recs {
		if r.PID <= 0 || seen[r.PID] {
			continue
		}
		seen[r.PID] = true
		if alive := ourMembers(r.PID, r.StartTime); len(alive) > 0 {
			left = append(left, fmt.Sprintf("process group %d of %s: pids %v", r.PID, r.ID, alive))
		}
	}
	return left
}

// processLive reports whether pid is still the process that started at
// start (clock ticks since boot) and has not exited (a zombie has).
func processLive(pid int, start uint64) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || len(s) < i+3 {
		return false
	}
	f := strings.Fields(s[i+2:])
	// f[0] is the state (field 3); the start time is field 22, f[19].
	if len(f) < 20 || f[0] == "Z" || f[0] == "X" {
		return false
	}
	return f[19] == strconv.FormatUint(start, 10)
}

func groupAlive(pgid int) bool {
	return syscall.Kill(-pgid, 0) == nil
}

// ourMembers lists the live members of group pgid that started no earlier
// than its recorded leader (start in clock ticks since boot; 0 = unknown).
func ourMembers(pgid int, start uint64) []int {
	members, err := process.GroupMembers(pgid)
	if err != nil {
		return nil
	}
	var out []int
	for _, m := range members {
		t, err := process.ProcStartTime(m)
		if err != nil {
			continue // exited meanwhile
		}
		if start == 0 || t >= start {
			out = append(out, m)
		}
	}
	return out
}

// killGroup SIGKILLs our members of group pgid, one PID at a time (the
// group may hold strangers if its ID was reused), until none is left or
// ctx ends.
func killGroup(ctx context.Context, pgid int, start uint64) {
	for {
		members := ourMembers(pgid, start)
		if len(members) == 0 {
			return
		}
		for _, m := range members {
			_ = syscall.Kill(m, syscall.SIGKILL)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// sweepSocket removes a socket nobody answers on. One that answers means a
// daemon runs (a new one, started meanwhile): that is left.
func sweepSocket(ctx context.Context, p project.Project, _ []reconcile.Record) []string {
	if _, err := os.Lstat(p.Socket()); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	c := api.Dial(p.Socket())
	defer c.Close()
	ictx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if info, err := c.Info(ictx); err == nil {
		return []string{fmt.Sprintf("socket %s: a daemon (pid %d) answers on it", p.Socket(), info.PID)}
	}
	if err := os.Remove(p.Socket()); err != nil && !errors.Is(err, os.ErrNotExist) {
		return []string{fmt.Sprintf("socket %s: %v", p.Socket(), err)}
	}
	return nil
}

func runtimeStatus(id string, pid int, start uint64) runtime.Status {
	return runtime.Status{ID: id, PID: pid, StartTime: start, State: runtime.StateRunning}
}
