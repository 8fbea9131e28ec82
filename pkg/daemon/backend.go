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
	return api.Info{Version: d.opts.Version, PID: os.Getpid(), Project: d.proj.Dir, File: d.proj.File, StartedAt: d.started}
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

// Start starts a resource and waits until it is ready (or failed).
func (d *Daemon) Start(ctx context.Context, name string) error {
	if err := d.rec.StartResource(name); err != nil {
		return d.mapErr(err)
	}
	return d.waitSettled(ctx, name, time.Now())
}

// Stop stops a resource and waits until every instance has ended.
func (d *Daemon) Stop(ctx context.Context, name string) error {
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
	return err
}

// Restart replaces a resource's instances and waits for the new ones.
func (d *Daemon) Restart(ctx context.Context, name string) error {
	before, _ := d.store.Get(name)
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
		return s.Ready() || s.Failed()
	})
	if err != nil {
		return err
	}
	return d.failure(name)
}

func (d *Daemon) waitSettled(ctx context.Context, name string, _ time.Time) error {
	_, err := d.rec.WaitFor(ctx, name, func(s status.Resource) bool { return s.Ready() || s.Failed() })
	if err != nil {
		return err
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
