package daemon

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/apphostd/apphostd/pkg/api"
	"github.com/apphostd/apphostd/pkg/model"
	"github.com/apphostd/apphostd/pkg/reconcile"
	"github.com/apphostd/apphostd/pkg/status"
)

var _ api.Backend = (*Daemon)(nil)

// Info describes the daemon.
func (d *Daemon) Info() api.Info {
	iso := d.Isolation()
	return api.Info{Version: d.opts.Version, PID: os.Getpid(), Project: d.proj.Dir, File: d.proj.File, StartedAt: d.started,
		Isolation: &api.Isolation{Mode: string(iso.Mode), Detail: iso.Detail, Limits: iso.Limits}}
}

// Describe returns one resource with its masked environment.
func (d *Daemon) Describe(name string) (status.Resource, error) {
	r, ok := d.store.Get(name)
	if !ok {
		return status.Resource{}, fmt.Errorf("%w: no resource named %q", api.ErrNotFound, name)
	}
	d.mu.Lock()
	res := d.resolved
	d.mu.Unlock()
	if res != nil {
		if rr := res.Resources[name]; rr != nil {
			if rr.Env != nil {
				r.Env = res.MaskEnv(rr.Env)
			}
			if rr.BaseKind == model.KindParameter && rr.Wait == "" {
				r.Env = map[string]string{"value": res.Mask(rr.Value)}
			}
		}
		r.Reason = res.Mask(r.Reason)
		r.LastError = res.Mask(r.LastError)
	}
	return r, nil
}

// Logs serves tails and follows from the log pipeline.
func (d *Daemon) Logs(ctx context.Context, q api.LogQuery, emit func(api.LogLine) error) error {
	names := q.Resources
	for _, n := range names {
		if _, ok := d.store.Get(n); !ok && !d.logs.Known(n) {
			return fmt.Errorf("%w: no resource named %q", api.ErrNotFound, n)
		}
	}
	return d.logs.Serve(ctx, names, q.Tail, q.Follow, emit)
}

func (d *Daemon) mapErr(err error) error {
	if errors.Is(err, reconcile.ErrUnknownResource) {
		return fmt.Errorf("%w: %v", api.ErrNotFound, err)
	}
	return err
}

// Start starts a resource and what it needs (references, wait_for,
// wait_for_completion, transitively) and waits until it is ready, or
// failed. A dependency that its profiles leave out and that is not
// running is an error naming both (ErrConflict). Commands on one resource
// are queued (actions.go); a start joins a start in flight.
func (d *Daemon) Start(ctx context.Context, name string) error {
	return d.act(ctx, name, "start", func(ctx context.Context) error {
		order, err := d.startClosure(name)
		if err != nil {
			return err
		}
		for _, dep := range order[:len(order)-1] {
			if err := d.rec.EnsureStarted(dep); err != nil {
				return d.mapErr(err)
			}
		}
		t0, gen := time.Now(), d.rec.Generation(name)
		if err := d.rec.StartResource(name); err != nil {
			return d.mapErr(err)
		}
		return d.waitSettled(ctx, name, t0, d.rec.Generation(name) != gen)
	})
}

// Stop stops a resource and waits until every instance has ended.
func (d *Daemon) Stop(ctx context.Context, name string) error {
	return d.act(ctx, name, "stop", func(ctx context.Context) error {
		if err := d.rec.StopResource(name); err != nil {
			return d.mapErr(err)
		}
		_, err := d.rec.WaitFor(ctx, name, func(s status.Resource) bool {
			for _, in := range s.Instances {
				if in.State == status.Running || in.State == status.Starting || in.State == status.Stopping {
					return false
				}
			}
			return true
		})
		if err != nil {
			return d.notReached(name, err)
		}
		return nil
	})
}

// Restart replaces a resource's instances and waits until the new ones
// are ready (Running and Healthy), or failed. A restart asked for while
// one is in flight joins it: one restart, both callers answered when it
// is done (actions.go).
func (d *Daemon) Restart(ctx context.Context, name string) error {
	return d.act(ctx, name, "restart", func(ctx context.Context) error {
		before, _ := d.store.Get(name)
		t0 := time.Now()
		if err := d.rec.RestartResource(name); err != nil {
			return d.mapErr(err)
		}
		old := map[int]bool{}
		for _, in := range before.Instances {
			if in.PID != 0 {
				old[in.PID] = true
			}
		}
		_, err := d.rec.WaitFor(ctx, name, func(s status.Resource) bool {
			for _, in := range s.Instances {
				if old[in.PID] {
					return false
				}
			}
			// Started since the request: an old instance that merely
			// ended (Exited by the stop) is not the answer.
			return s.State == status.FailedToStart || (!s.StartedAt.Before(t0) && (s.Ready() || s.Failed()))
		})
		if err != nil {
			return d.notReached(name, err)
		}
		return d.failure(name)
	})
}

// waitSettled waits until name is ready or failed. If the start made an
// ended resource run again (rerun), only a state reached by a run started
// since t0 counts.
func (d *Daemon) waitSettled(ctx context.Context, name string, t0 time.Time, rerun bool) error {
	_, err := d.rec.WaitFor(ctx, name, func(s status.Resource) bool {
		if s.State == status.FailedToStart {
			return true
		}
		if rerun && s.StartedAt.Before(t0) {
			return false
		}
		return s.Ready() || s.Failed()
	})
	if err != nil {
		return d.notReached(name, err)
	}
	return d.failure(name)
}

func (d *Daemon) failure(name string) error {
	s, _ := d.store.Get(name)
	if s.Failed() {
		return fmt.Errorf("%w: %s is %s: %s", api.ErrResourceFailed, name, s.State, nonEmpty(s.Reason, s.LastError))
	}
	return nil
}

func nonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// Reload re-reads the project file.
func (d *Daemon) Reload(context.Context) (status.ConfigStatus, error) {
	return d.ReloadFromDisk()
}

// Graph renders the current graph.
func (d *Daemon) Graph(format string) ([]byte, string, error) {
	d.mu.Lock()
	g := d.graph
	d.mu.Unlock()
	if g == nil {
		return nil, "", fmt.Errorf("no graph loaded")
	}
	var b bytes.Buffer
	switch format {
	case "", "json":
		out, err := model.MarshalGraphJSON(g)
		return out, "application/json", err
	case "dot":
		err := model.WriteDOT(&b, g)
		return b.Bytes(), "text/vnd.graphviz", err
	case "mermaid":
		err := model.WriteMermaid(&b, g)
		return b.Bytes(), "text/plain", err
	}
	return nil, "", fmt.Errorf("%w: unknown graph format %q (json, dot, mermaid)", api.ErrBadRequest, format)
}

// Env returns a consumer's environment for the named resources.
func (d *Daemon) Env(names []string) (map[string]string, error) {
	d.mu.Lock()
	g, res := d.graph, d.resolved
	d.mu.Unlock()
	if g == nil || res == nil {
		return nil, fmt.Errorf("no graph loaded")
	}
	env, err := res.ConsumerEnv(g, names)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", api.ErrNotFound, err)
	}
	return env, nil
}
