// Package api serves a project's daemon over HTTP/1.1 + JSON on a Unix
// socket (.apphost/apphostd.sock, mode 0600) and provides the Go client the
// CLI uses. Routes are versioned under /v1; docs/api.md documents them.
package api

import (
	"context"
	"time"

	"github.com/apphostd/apphostd/pkg/status"
)

// Backend is what the daemon provides to the API server. The server owns
// HTTP concerns (routing, limits, encoding, errors); the backend owns
// meaning. Every method is safe for concurrent use.
type Backend interface {
	// Store is the observed state: resources, config status, events.
	Store() *status.Store
	// Describe returns one resource with its resolved environment (secret
	// values masked) for `describe`. ErrNotFound if unknown.
	Describe(name string) (status.Resource, error)
	// Logs emits the last q.Tail lines of the selected resources (all if
	// q.Resources is empty), oldest first, then, if q.Follow, every new line
	// until ctx ends. emit returning an error stops it.
	Logs(ctx context.Context, q LogQuery, emit func(LogLine) error) error
	// Start, Stop and Restart act on one resource and return once the target
	// state is reached or ctx ends. ErrNotFound if unknown.
	// Commands on one resource are queued, never run at once; a command
	// that repeats the one in flight joins it (see docs/daemon.md).
	Start(ctx context.Context, name string) error
	Stop(ctx context.Context, name string) error
	Restart(ctx context.Context, name string) error
	// Rerun runs a job again now, whatever its run = "once" record says,
	// and returns once it has finished (or failed).
	Rerun(ctx context.Context, name string) error
	// Up widens what runs: the named resources and what they need, and
	// the given profiles; no names means the whole project. It returns
	// at once. ErrConflict if a named resource needs one its profiles
	// leave out; ErrNotFound for an unknown name.
	Up(ctx context.Context, names, profiles []string) error
	// Reload re-reads the project file now and returns the config status.
	Reload(ctx context.Context) (status.ConfigStatus, error)
	// Graph renders the current graph: format "json", "dot" or "mermaid".
	Graph(format string) ([]byte, string, error) // body, content type, error
	// Env returns the environment a consumer referencing the named resources
	// (all if empty) would receive, secrets included: only for the local
	// user (the socket is 0600 and peer-checked) and `apphostd env`/`run`.
	Env(names []string) (map[string]string, error)
	// Shutdown begins an orderly shutdown (reverse dependency order) and
	// returns at once; the daemon exits when it completes.
	Shutdown()
	// Info describes the daemon.
	Info() Info
}

// LogQuery selects log lines.
type LogQuery struct {
	Resources []string
	Tail      int // lines per resource; 0 = none (follow only), -1 = all kept
	Follow    bool
}

// LogLine is one line of a resource's output.
type LogLine struct {
	Resource string    `json:"resource"`
	Instance string    `json:"instance"`
	Time     time.Time `json:"time"`
	Text     string    `json:"text"`
}

// Info describes the running daemon.
type Info struct {
	Version   string    `json:"version"`
	PID       int       `json:"pid"`
	Project   string    `json:"project"`
	File      string    `json:"file"`
	StartedAt time.Time `json:"started_at"`
	// Isolation is how executables are contained: "cgroup2",
	// "cgroup1", "cgroup-hybrid" or "process-groups", and why.
	Isolation *Isolation `json:"isolation,omitempty"`
}

// Isolation describes the daemon's containment of executables.
type Isolation struct {
	Mode   string   `json:"mode"`
	Detail string   `json:"detail"`
	Limits []string `json:"limits,omitempty"`
}
