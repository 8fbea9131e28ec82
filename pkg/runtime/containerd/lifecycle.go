package containerd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"syscall"
	"time"

	"github.com/apphostd/apphostd/pkg/runtime"
	cdclient "github.com/containerd/containerd/v2/client"
	"github.com/containerd/errdefs"
	gocni "github.com/containerd/go-cni"
	"go.uber.org/zap"
)

// Stop implements runtime.Driver: the stop signal (Spec.StopSignal, else
// the image's, else SIGTERM), up to grace for the exit, then SIGKILL to
// every process of the container; returns once the task has exited.
// Unknown or already exited is success.
func (d *Driver) Stop(ctx context.Context, id string, grace time.Duration) error {
	inst := d.lookup(id)
	if inst == nil {
		var err error
		inst, err = d.attach(ctx, id)
		if errors.Is(err, runtime.ErrNotFound) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("stop %s: %w", id, err)
		}
	}
	select {
	case <-inst.done:
		return nil
	default:
	}
	sig := d.stopSignal(ctx, inst.container)
	if err := inst.task.Kill(ctx, sig); err != nil && !errdefs.IsNotFound(err) {
		return d.classify("stop", id, err)
	}
	timer := time.NewTimer(grace)
	defer timer.Stop()
	select {
	case <-inst.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("stop %s: %w", id, ctx.Err())
	case <-timer.C:
	}
	d.log.Debug("grace elapsed; killing", zap.String("id", id), zap.Duration("grace", grace))
	if err := inst.task.Kill(ctx, syscall.SIGKILL, cdclient.WithKillAll); err != nil && !errdefs.IsNotFound(err) {
		return d.classify("kill", id, err)
	}
	select {
	case <-inst.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("stop %s: %w", id, ctx.Err())
	}
}

func (d *Driver) stopSignal(ctx context.Context, c cdclient.Container) syscall.Signal {
	labels, err := labelsOf(ctx, c)
	if err == nil {
		if n, err := strconv.Atoi(labels[labelStopSignal]); err == nil && n > 0 {
			return syscall.Signal(n)
		}
	}
	sig, err := cdclient.GetStopSignal(ctx, c, syscall.SIGTERM)
	if err != nil {
		return syscall.SIGTERM
	}
	return sig
}

// Delete implements runtime.Driver: task (killed if still running),
// CNI DEL (releases the IP and port rules), container with its snapshot,
// netns and hosts file. Every step tolerates NotFound, so Delete also
// finishes a half-done earlier Delete.
func (d *Driver) Delete(ctx context.Context, id string) error {
	cid := d.containerID(id)
	inst := d.lookup(id)
	var ports []gocni.PortMapping
	bridged := true
	c, err := d.client.LoadContainer(ctx, cid)
	switch {
	case errdefs.IsNotFound(err):
		c = nil
	case err != nil:
		return d.classify("delete", id, err)
	}
	if c != nil {
		labels, err := labelsOf(ctx, c)
		if err != nil && !errdefs.IsNotFound(err) {
			return d.classify("delete", id, err)
		}
		bridged = labels[labelNetwork] != "host"
		if s := labels[labelPorts]; s != "" {
			_ = json.Unmarshal([]byte(s), &ports)
		}
		if t, err := c.Task(ctx, nil); err == nil {
			if _, err := t.Delete(ctx, cdclient.WithProcessKill); err != nil && !errdefs.IsNotFound(err) {
				return d.classify("delete task", id, err)
			}
		} else if !errdefs.IsNotFound(err) {
			return d.classify("load task", id, err)
		}
	}
	if bridged {
		if _, err := os.Stat(d.netnsPath(cid)); err == nil || c != nil {
			if err := d.teardownNetwork(ctx, cid, ports); err != nil {
				return fmt.Errorf("delete %s: %w", id, err)
			}
		}
	}
	if c != nil {
		if err := c.Delete(ctx, cdclient.WithSnapshotCleanup); err != nil && !errdefs.IsNotFound(err) {
			return d.classify("delete container", id, err)
		}
	}
	if err := os.Remove(d.hostsPath(cid)); err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("delete %s: remove hosts file: %w", id, err)
	}
	if inst != nil {
		d.forget(id, inst)
	}
	if bridged && c != nil {
		if err := d.refreshHosts(ctx, nil, cid); err != nil {
			d.log.Warn("refresh hosts files", zap.String("id", id), zap.Error(err))
		}
	}
	return nil
}

// Inspect implements runtime.Driver.
func (d *Driver) Inspect(ctx context.Context, id string) (runtime.Status, error) {
	c, err := d.client.LoadContainer(ctx, d.containerID(id))
	if err != nil {
		return runtime.Status{}, d.classify("inspect", id, err)
	}
	return d.status(ctx, id, c)
}

// status observes one container: running with PID, or exited with code
// (a container without a task counts as exited).
func (d *Driver) status(ctx context.Context, id string, c cdclient.Container) (runtime.Status, error) {
	labels, err := labelsOf(ctx, c)
	if err != nil {
		return runtime.Status{}, d.classify("inspect", id, err)
	}
	st := runtime.Status{ID: id, State: runtime.StateExited, IP: labels[labelIP]}
	t, err := c.Task(ctx, nil)
	if errdefs.IsNotFound(err) {
		return st, nil
	}
	if err != nil {
		return runtime.Status{}, d.classify("inspect", id, err)
	}
	ts, err := t.Status(ctx)
	if err != nil {
		if errdefs.IsNotFound(err) {
			return st, nil
		}
		return runtime.Status{}, d.classify("inspect", id, err)
	}
	st.PID = int(t.Pid())
	if inst := d.lookup(id); inst != nil && inst.cid == c.ID() {
		st.StartedAt = inst.startedAt
	}
	switch ts.Status {
	case cdclient.Stopped:
		st.ExitCode, st.ExitedAt = int(ts.ExitStatus), ts.ExitTime
	default:
		st.State = runtime.StateRunning
		st.StartTime = processStartTime(st.PID)
		if st.StartedAt.IsZero() {
			st.StartedAt = processStartedAt(st.PID)
		}
	}
	return st, nil
}
