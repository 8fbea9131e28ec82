package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/apphostd/apphostd/pkg/api"
	"github.com/apphostd/apphostd/pkg/daemon"
	"github.com/apphostd/apphostd/pkg/project"
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
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := project.LocateDir(projectFlag(cmd), "")
			if err != nil {
				return withCode(exitError, err)
			}
			return runDown(p, timeout, volumes)
		},
	}
	cmd.Flags().DurationVar(&timeout, "timeout", 60*time.Second, "give up waiting for the daemon to stop after this long")
	cmd.Flags().BoolVar(&volumes, "volumes", false, "also delete named volumes (.apphost/volumes)")
	return cmd
}

func runDown(p project.Project, timeout time.Duration, volumes bool) error {
	pid := daemon.LockHolder(p.LockFile())
	if pid != 0 {
		c := api.Dial(p.Socket())
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := c.Shutdown(ctx)
		cancel()
		if err != nil && pid > 0 && !api.IsNoDaemon(err) {
			return withCode(exitError, fmt.Errorf("ask the daemon to stop: %w", err))
		}
		if err != nil && pid > 0 {
			// The socket is gone but the daemon holds the lock: ask by signal.
			_ = syscall.Kill(pid, syscall.SIGTERM)
		}
		deadline := time.Now().Add(timeout)
		for daemon.LockHolder(p.LockFile()) != 0 {
			if time.Now().After(deadline) {
				return withCode(exitTimeout, fmt.Errorf("the daemon%s did not stop within %s", pidNote(pid), timeout))
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	// No daemon: stop anything a crashed one left behind, from its state.
	left := cleanupLeftovers(p)
	if volumes {
		if err := os.RemoveAll(p.VolumeDir()); err != nil {
			left = append(left, "volumes: "+err.Error())
		}
	}
	_ = os.Remove(p.Socket())
	if len(left) > 0 {
		return withCode(exitError, fmt.Errorf("left behind:\n  %s", strings.Join(left, "\n  ")))
	}
	fmt.Fprintf(os.Stderr, "apphostd: %s is down\n", p.Dir)
	return nil
}

// cleanupLeftovers stops instances recorded in state.json whose identity
// still matches (a daemon killed with -9), then reports anything still
// alive.
func cleanupLeftovers(p project.Project) []string {
	recs, err := daemon.ReadRecords(p.StateFile())
	if err != nil {
		return []string{fmt.Sprintf("state.json: %v", err)}
	}
	drv := process.New(nil)
	var left []string
	for _, r := range recs {
		if r.BaseKind != "executable" || r.PID == 0 {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		st, err := drv.Adopt(ctx, runtimeStatus(r.ID, r.PID, r.StartTime))
		if err == nil {
			_ = drv.Stop(ctx, st.ID, 5*time.Second)
		}
		cancel()
		if t, err := process.ProcStartTime(r.PID); err == nil && t == r.StartTime {
			left = append(left, fmt.Sprintf("process %s (pid %d)", r.ID, r.PID))
		}
		if members, _ := process.GroupMembers(r.PID); len(members) > 0 {
			left = append(left, fmt.Sprintf("process group %d of %s: %v", r.PID, r.ID, members))
		}
	}
	if len(left) == 0 {
		_ = os.Remove(p.StateFile())
		_ = os.Remove(filepath.Join(p.StateDir(), "daemon.out"))
	}
	return left
}

func runtimeStatus(id string, pid int, start uint64) runtime.Status {
	return runtime.Status{ID: id, PID: pid, StartTime: start, State: runtime.StateRunning}
}
