package api

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/apphostd/apphostd/pkg/status"
)

// testSecret is planted in the fake's state; only /v1/env may return it.
const testSecret = "hunter2-S3CRET-7f3a"

// fakeBackend is a small Backend over a real status.Store. The API is a
// contract above the daemon, so a fake is the right seam here.
type fakeBackend struct {
	store *status.Store

	mu       sync.Mutex
	logs     []LogLine
	live     chan LogLine // lines emitted to followers, in order
	calls    []string
	reload   status.ConfigStatus
	shutdown chan struct{}
	// slow resources block in Start/Stop/Restart for this long (or until ctx ends).
	slow map[string]time.Duration
}

var _ Backend = (*fakeBackend)(nil)

func newFake() *fakeBackend {
	f := &fakeBackend{
		store:    status.NewStore(),
		live:     make(chan LogLine, 16),
		shutdown: make(chan struct{}, 1),
		slow:     map[string]time.Duration{},
		reload:   status.ConfigStatus{File: "/p/apphost.hcl", Generation: 2, OK: true},
	}
	one := 1
	f.store.Update("api", func(r *status.Resource) {
		r.Kind, r.BaseKind, r.State, r.Health = "executable", "executable", status.Running, status.Healthy
		r.Endpoints = []status.Endpoint{{Name: "http", URL: "http://127.0.0.1:5000", Port: 5000, TargetPort: 5000}}
		r.Instances = []status.Instance{{ID: "api-0", State: status.Running, PID: 4242}}
		r.DependsOn = []string{"db"}
		// A careless writer put a raw secret in the store; the API must
		// still not show it anywhere but /v1/env.
		r.Env = map[string]string{"DB_PASSWORD": testSecret}
	})
	f.store.Update("db", func(r *status.Resource) {
		r.Kind, r.BaseKind, r.State = "postgres", "executable", status.Exited
		r.ExitCode = &one
	})
	f.store.SetConfig(status.ConfigStatus{File: "/p/apphost.hcl", Generation: 1, OK: true})
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for i := 0; i < 3; i++ {
		f.logs = append(f.logs,
			LogLine{Resource: "api", Instance: "api-0", Time: t0.Add(time.Duration(i) * time.Second), Text: fmt.Sprintf("api line %d", i)},
			LogLine{Resource: "db", Instance: "db-0", Time: t0.Add(time.Duration(i) * time.Second), Text: fmt.Sprintf("db line %d", i)})
	}
	return f
}

func (f *fakeBackend) record(s string) {
	f.mu.Lock()
	f.calls = append(f.calls, s)
	f.mu.Unlock()
}

func (f *fakeBackend) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

func (f *fakeBackend) Store() *status.Store { return f.store }

func (f *fakeBackend) Describe(name string) (status.Resource, error) {
	if name == "panic" {
		panic("fake describe panic " + testSecret)
	}
	r, ok := f.store.Get(name)
	if !ok {
		return status.Resource{}, fmt.Errorf("resource %q: %w", name, ErrNotFound)
	}
	for k := range r.Env {
		r.Env[k] = "********"
	}
	return r, nil
}

func (f *fakeBackend) Logs(ctx context.Context, q LogQuery, emit func(LogLine) error) error {
	want := map[string]bool{}
	for _, n := range q.Resources {
		if _, ok := f.store.Get(n); !ok {
			return fmt.Errorf("logs of %q: %w", n, ErrNotFound)
		}
		want[n] = true
	}
	sel := func(l LogLine) bool { return len(want) == 0 || want[l.Resource] }
	per := map[string][]LogLine{}
	for _, l := range f.logs {
		if sel(l) {
			per[l.Resource] = append(per[l.Resource], l)
		}
	}
	var out []LogLine
	for _, l := range f.logs {
		if !sel(l) {
			continue
		}
		all := per[l.Resource]
		idx := 0
		for i := range all {
			if all[i] == l {
				idx = i
			}
		}
		if q.Tail < 0 || idx >= len(all)-q.Tail {
			out = append(out, l)
		}
	}
	for _, l := range out {
		if err := emit(l); err != nil {
			return err
		}
	}
	if !q.Follow {
		return nil
	}
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case l := <-f.live:
			if sel(l) {
				if err := emit(l); err != nil {
					return err
				}
			}
		}
	}
}

func (f *fakeBackend) act(ctx context.Context, verb, name string, st status.State) error {
	if _, ok := f.store.Get(name); !ok {
		return fmt.Errorf("resource %q: %w", name, ErrNotFound)
	}
	f.record(verb + " " + name)
	f.mu.Lock()
	d := f.slow[name]
	f.mu.Unlock()
	if d > 0 {
		select {
		case <-time.After(d):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	f.store.Update(name, func(r *status.Resource) { r.State = st })
	return nil
}

func (f *fakeBackend) Start(ctx context.Context, name string) error {
	return f.act(ctx, "start", name, status.Running)
}

func (f *fakeBackend) Stop(ctx context.Context, name string) error {
	return f.act(ctx, "stop", name, status.Exited)
}

func (f *fakeBackend) Restart(ctx context.Context, name string) error {
	return f.act(ctx, "restart", name, status.Running)
}

func (f *fakeBackend) Rerun(ctx context.Context, name string) error {
	return f.act(ctx, "rerun", name, status.Finished)
}

func (f *fakeBackend) Up(_ context.Context, names, profiles []string) error {
	for _, n := range names {
		if _, ok := f.store.Get(n); !ok {
			return fmt.Errorf("resource %q: %w", n, ErrNotFound)
		}
	}
	f.record(fmt.Sprintf("up %v %v", names, profiles))
	return nil
}

func (f *fakeBackend) Reload(ctx context.Context) (status.ConfigStatus, error) {
	f.record("reload")
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.reload, nil
}

func (f *fakeBackend) Graph(format string) ([]byte, string, error) {
	switch format {
	case "json":
		return []byte(`{"nodes":["api","db"],"edges":[["api","db"]]}`), "", nil
	case "dot":
		return []byte("digraph { api -> db }\n"), "", nil
	case "mermaid":
		return []byte("graph TD\n  api --> db\n"), "", nil
	}
	return nil, "", fmt.Errorf("format %q: %w", format, ErrBadRequest)
}

func (f *fakeBackend) Env(names []string) (map[string]string, error) {
	for _, n := range names {
		if _, ok := f.store.Get(n); !ok {
			return nil, fmt.Errorf("resource %q: %w", n, ErrNotFound)
		}
	}
	return map[string]string{"ConnectionStrings__db": "Host=127.0.0.1;Password=" + testSecret, "API_HTTP": "http://127.0.0.1:5000"}, nil
}

func (f *fakeBackend) Shutdown() {
	f.record("shutdown")
	select {
	case f.shutdown <- struct{}{}:
	default:
	}
}

func (f *fakeBackend) Info() Info {
	return Info{Version: "1.2.3", PID: 99, Project: "/p", File: "/p/apphost.hcl", StartedAt: time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)}
}
