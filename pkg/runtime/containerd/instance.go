package containerd

import (
	"context"
	"time"

	"github.com/apphostd/apphostd/pkg/runtime"
	cdclient "github.com/containerd/containerd/v2/client"
	"github.com/containerd/errdefs"
	"go.uber.org/zap"
)

// instance is what the driver keeps in memory about a container it started
// or attached to. exit is written once, before done is closed, by watch.
type instance struct {
	id, cid   string
	container cdclient.Container
	task      cdclient.Task
	startedAt time.Time
	ip        string

	done chan struct{}
	exit runtime.Exit
}

// track registers inst and starts its exit watcher; statusC must come from
// task.Wait called before the task was started (or signalled).
func (d *Driver) track(inst *instance, statusC <-chan cdclient.ExitStatus) *instance {
	d.mu.Lock()
	if old, ok := d.instances[inst.id]; ok && old.task != nil && old.task.Pid() == inst.task.Pid() && old.cid == inst.cid {
		d.mu.Unlock()
		return old
	}
	d.instances[inst.id] = inst
	d.mu.Unlock()
	go d.watch(inst, statusC)
	return inst
}

func (d *Driver) lookup(id string) *instance {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.instances[id]
}

func (d *Driver) forget(id string, inst *instance) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.instances[id] == inst {
		delete(d.instances, id)
	}
}

// watch records the task's exit. If the Wait stream breaks (containerd
// restarted) it re-subscribes with a capped backoff; a task that vanished
// meanwhile counts as exited with code 255.
func (d *Driver) watch(inst *instance, statusC <-chan cdclient.ExitStatus) {
	backoff := 50 * time.Millisecond
	for {
		select {
		case <-d.ctx.Done():
			return
		case st := <-statusC:
			err := st.Error()
			if err == nil {
				inst.exit = runtime.Exit{ID: inst.id, ExitCode: int(st.ExitCode()), ExitedAt: st.ExitTime()}
				close(inst.done)
				return
			}
			d.log.Debug("exit stream broken; re-subscribing", zap.String("id", inst.id), zap.Error(err))
			for {
				t := time.NewTimer(backoff)
				select {
				case <-d.ctx.Done():
					t.Stop()
					return
				case <-t.C:
				}
				if backoff < 2*time.Second {
					backoff *= 2
				}
				ch, werr := inst.task.Wait(d.ctx)
				if werr == nil {
					statusC = ch
					break
				}
				if errdefs.IsNotFound(werr) {
					inst.exit = runtime.Exit{ID: inst.id, ExitCode: 255, ExitedAt: time.Now()}
					close(inst.done)
					return
				}
			}
		}
	}
}

// Wait implements runtime.Driver.
func (d *Driver) Wait(ctx context.Context, id string) (<-chan runtime.Exit, error) {
	inst := d.lookup(id)
	if inst == nil {
		var err error
		if inst, err = d.attach(ctx, id); err != nil {
			return nil, err
		}
	}
	out := make(chan runtime.Exit, 1)
	go func() {
		defer close(out)
		select {
		case <-inst.done:
			out <- inst.exit
		case <-ctx.Done():
		case <-d.ctx.Done():
		}
	}()
	return out, nil
}

// attach loads an existing container and its task and tracks it.
// ErrNotFound if either is missing.
func (d *Driver) attach(ctx context.Context, id string) (*instance, error) {
	cid := d.containerID(id)
	c, err := d.client.LoadContainer(ctx, cid)
	if err != nil {
		return nil, d.classify("load container", id, err)
	}
	t, err := c.Task(ctx, nil)
	if err != nil {
		return nil, d.classify("load task", id, err)
	}
	statusC, err := t.Wait(d.ctx)
	if err != nil {
		return nil, d.classify("wait", id, err)
	}
	labels, _ := labelsOf(ctx, c)
	inst := &instance{id: id, cid: cid, container: c, task: t, ip: labels[labelIP], done: make(chan struct{}),
		startedAt: processStartedAt(int(t.Pid()))}
	return d.track(inst, statusC), nil
}
