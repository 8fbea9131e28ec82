// Package status holds the observed state of every resource and fans changes
// out to subscribers (the API's event stream, `up --wait`, the foreground
// printer).
//
// The reconciler is the only writer. Readers get copies, never pointers into
// the store, so a slow or careless reader cannot race the reconciler.
package status

import "time"

// State is a resource's lifecycle state, named as in Aspire.
type State string

// Lifecycle states.
const (
	NotStarted       State = "NotStarted"
	Waiting          State = "Waiting"
	Starting         State = "Starting"
	Running          State = "Running"
	Stopping         State = "Stopping"
	Exited           State = "Exited"   // ended with a non-zero code, or was stopped
	Finished         State = "Finished" // ended with exit code 0
	FailedToStart    State = "FailedToStart"
	RuntimeUnhealthy State = "RuntimeUnhealthy"
	Unknown          State = "Unknown"
	// BackOff is Exited while a restart is scheduled (a crash loop shows
	// as BackOff with a growing delay in Reason).
	BackOff State = "BackOff"
)

// Health is separate from State: a Running resource may be Unhealthy.
type Health string

// Health values.
const (
	HealthUnknown   Health = "Unknown"
	Healthy         Health = "Healthy"
	Unhealthy       Health = "Unhealthy"
	HealthNotProbed Health = "" // no health check declared
)

// Resource is the observed state of one resource, aggregated over its
// instances.
type Resource struct {
	Name      string     `json:"name"`
	Kind      string     `json:"kind"`
	BaseKind  string     `json:"base_kind"`
	State     State      `json:"state"`
	Health    Health     `json:"health,omitempty"`
	Reason    string     `json:"reason,omitempty"` // why Waiting / FailedToStart / BackOff
	Autostart bool       `json:"autostart"`
	Endpoints []Endpoint `json:"endpoints,omitempty"`
	Instances []Instance `json:"instances,omitempty"`
	Restarts  int        `json:"restarts"`
	ExitCode  *int       `json:"exit_code,omitempty"`
	StartedAt time.Time  `json:"started_at,omitzero"`
	ReadyAt   time.Time  `json:"ready_at,omitzero"` // first Running+Healthy (or Finished) of the current start
	LastError string     `json:"last_error,omitempty"`
	SpecHash  string     `json:"spec_hash,omitempty"`
	DependsOn []string   `json:"depends_on,omitempty"`
	// WaitingOn lists the dependencies not yet satisfied, while Waiting.
	WaitingOn []string `json:"waiting_on,omitempty"`
	// Env is the resolved environment with secret values masked. Only
	// filled for single-resource reads (describe), never for lists.
	Env map[string]string `json:"env,omitempty"`
	// Warnings are non-fatal notes (e.g. a bind mount outside the project).
	Warnings []string `json:"warnings,omitempty"`
	// Profiles the resource belongs to (a plain `up` leaves it down unless
	// one is active).
	Profiles []string `json:"profiles,omitempty"`
	// OnDependencyRestart is the resource's policy when a wait_for
	// dependency restarts or turns unhealthy: restart, wait or ignore.
	OnDependencyRestart string `json:"on_dependency_restart,omitempty"`
	// Run is "once" for a job skipped while unchanged; empty otherwise.
	Run string `json:"run,omitempty"`
}

// Endpoint is an allocated endpoint as a consumer on the host sees it.
type Endpoint struct {
	Name       string `json:"name"`
	URL        string `json:"url"`
	Port       int    `json:"port"`
	TargetPort int    `json:"target_port"`
	Replica    int    `json:"replica"`
}

// Instance is one replica.
type Instance struct {
	ID        string    `json:"id"`
	Replica   int       `json:"replica"`
	State     State     `json:"state"`
	Health    Health    `json:"health,omitempty"`
	PID       int       `json:"pid,omitempty"`
	StartedAt time.Time `json:"started_at,omitzero"`
	ExitCode  *int      `json:"exit_code,omitempty"`
	Restarts  int       `json:"restarts"`
	LastError string    `json:"last_error,omitempty"`
}

// Clone returns a deep copy.
func (r Resource) Clone() Resource {
	c := r
	c.Endpoints = append([]Endpoint(nil), r.Endpoints...)
	c.Instances = make([]Instance, len(r.Instances))
	for i, in := range r.Instances {
		c.Instances[i] = in
		if in.ExitCode != nil {
			v := *in.ExitCode
			c.Instances[i].ExitCode = &v
		}
	}
	if r.Instances == nil {
		c.Instances = nil
	}
	if r.ExitCode != nil {
		v := *r.ExitCode
		c.ExitCode = &v
	}
	c.DependsOn = append([]string(nil), r.DependsOn...)
	c.WaitingOn = append([]string(nil), r.WaitingOn...)
	c.Warnings = append([]string(nil), r.Warnings...)
	c.Profiles = append([]string(nil), r.Profiles...)
	if r.Env != nil {
		c.Env = make(map[string]string, len(r.Env))
		for k, v := range r.Env {
			c.Env[k] = v
		}
	}
	return c
}

// Ready reports whether the resource counts as up for `up --wait`:
// Running and Healthy (or Running without a probe), or Finished.
func (r Resource) Ready() bool {
	switch r.State {
	case Finished:
		return true
	case Running:
		return r.Health == Healthy || r.Health == HealthNotProbed
	}
	return false
}

// Failed reports whether the resource reached a state it will not leave
// without a change: FailedToStart, or Exited with no restart scheduled.
func (r Resource) Failed() bool {
	return r.State == FailedToStart || r.State == Exited || r.State == RuntimeUnhealthy
}

// ConfigStatus is the state of the project file as last loaded.
type ConfigStatus struct {
	File        string       `json:"file"`
	Generation  int          `json:"generation"` // number of good loads
	LoadedAt    time.Time    `json:"loaded_at,omitzero"`
	OK          bool         `json:"ok"`
	Diagnostics []Diagnostic `json:"diagnostics,omitempty"`
	// Rendered is the diagnostics as text with source snippets.
	Rendered string `json:"rendered,omitempty"`
}

// Diagnostic is one config error or warning with its position.
type Diagnostic struct {
	Severity string `json:"severity"`
	Summary  string `json:"summary"`
	Detail   string `json:"detail,omitempty"`
	File     string `json:"file,omitempty"`
	Line     int    `json:"line,omitempty"`
	Column   int    `json:"column,omitempty"`
}

// EventType names what an Event carries.
type EventType string

// Event types.
const (
	EventResource EventType = "resource" // Resource changed or appeared
	EventRemoved  EventType = "removed"  // Resource left the graph
	EventConfig   EventType = "config"   // Config reloaded or failed to
)

// Event is one change, numbered in store order.
type Event struct {
	Seq      uint64        `json:"seq"`
	Time     time.Time     `json:"time"`
	Type     EventType     `json:"type"`
	Resource *Resource     `json:"resource,omitempty"`
	Config   *ConfigStatus `json:"config,omitempty"`
}
