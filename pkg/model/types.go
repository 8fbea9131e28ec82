// Package model compiles an apphost.hcl or apphost.yaml project file into a
// typed resource Graph.
//
// The package is pure: bytes in, a *Graph and hcl.Diagnostics out. Values
// that depend on runtime facts (allocated ports, generated secrets, other
// resources' URLs) stay unevaluated as hcl.Expression and are evaluated late,
// by Resolve, once discovery has produced a Values table. Dependency edges
// come from the expressions' static traversals plus the explicit
// references / wait_for / wait_for_completion lists, never from trial
// evaluation.
package model

import (
	"time"

	"github.com/hashicorp/hcl/v2"
)

// Base resource kinds. Integration kinds (postgres, redis, ...) are
// registered with RegisterKind and expand into these.
const (
	KindExecutable = "executable"
	KindContainer  = "container"
	KindParameter  = "parameter"
	KindVolume     = "volume"
)

// Restart policies.
const (
	RestartNever     = "never"
	RestartOnFailure = "on-failure"
	RestartAlways    = "always"
)

// What a running resource does when a resource it wait_for's restarts or
// turns unhealthy (on_dependency_restart).
const (
	// DepRestartRestart restarts the dependent once the dependency is
	// ready again.
	DepRestartRestart = "restart"
	// DepRestartWait (the default) leaves the dependent running and shows
	// it degraded, with the reason, until the dependency is ready again.
	DepRestartWait = "wait"
	// DepRestartIgnore does nothing.
	DepRestartIgnore = "ignore"
)

// Run modes (run).
const (
	// RunAlways (the default) starts the resource on every up and reload
	// that needs it.
	RunAlways = "always"
	// RunOnce skips a job that already exited 0 with the same resolved
	// spec and the same inputs; `apphostd rerun` forces it.
	RunOnce = "once"
)

// Graph is a compiled project. It is immutable once returned by Compile;
// reloads build a new Graph and swap it in whole.
type Graph struct {
	// Filename is the project file the graph was compiled from.
	Filename string
	// Resources by name. Names are unique across all kinds, as in Aspire,
	// because injected variable names (API_HTTP, ConnectionStrings__db)
	// use the bare name.
	Resources map[string]*Resource
	// Order lists resource names in a topological order: every resource
	// comes after everything it depends on. Ties are broken by name so the
	// order is deterministic.
	Order []string
}

// Resource is one declared (or integration-expanded) resource.
type Resource struct {
	Name string
	// Kind is the declared block type: a base kind or a registered
	// integration kind such as "postgres".
	Kind string
	// BaseKind is what the runtime runs: KindExecutable, KindContainer,
	// KindParameter or KindVolume.
	BaseKind string
	// Parent names the resource this one was expanded from (e.g. a postgres
	// "database" child names its server); empty for top-level resources.
	Parent string

	DeclRange hcl.Range // the block header, for diagnostics

	Executable *ExecutableSpec // BaseKind == KindExecutable
	Container  *ContainerSpec  // BaseKind == KindContainer
	Parameter  *ParameterSpec  // BaseKind == KindParameter
	Volume     *VolumeSpec     // BaseKind == KindVolume

	// Env is the resource's own environment, in declaration order by name
	// (sorted), each value an unevaluated expression.
	Env []EnvVar
	// Endpoints in declaration order.
	Endpoints []*Endpoint
	Health    *HealthCheck // nil: no probe; Running counts as healthy

	References        []Ref // inject discovery values of these
	WaitFor           []Ref // start once these are Running and Healthy
	WaitForCompletion []Ref // start once these exited 0

	Replicas  int // >= 1
	Restart   RestartPolicy
	Autostart bool // false: only started by an explicit start
	Labels    map[string]string

	// Profiles keeps the resource out of a plain `up` unless one of them
	// is active (`up --profile NAME`); empty: always selected. Resources
	// expanded from an integration inherit their parent's.
	Profiles []string
	// OnDependencyRestart is DepRestartRestart, DepRestartWait (default)
	// or DepRestartIgnore: what happens while running when a wait_for
	// dependency restarts or turns unhealthy.
	OnDependencyRestart string
	// Run is RunAlways (default) or RunOnce.
	Run string
	// Inputs are files or globs, relative to the project directory, whose
	// contents are part of a run = "once" job's identity.
	Inputs []string
	// Limits caps the resource's processes (cgroups); nil: no limits.
	Limits *Limits

	// Attributes are extra values this resource exposes to others
	// (connection_string, username, password, uri, ...), as expressions
	// evaluated in the same late-binding context. Integrations fill these.
	Attributes map[string]hcl.Expression

	// DependsOn is the set of resource names this resource needs values or
	// readiness from: traversals in its expressions, references, wait_for,
	// wait_for_completion, sorted and de-duplicated.
	DependsOn []string

	// SpecHash is a stable digest of everything launch-relevant in the
	// declaration (not the resolved values: see ResolvedSpec.Hash for that).
	SpecHash string
}

// EnvVar is one environment entry with an unevaluated value.
type EnvVar struct {
	Name  string
	Value hcl.Expression
	Range hcl.Range
}

// Ref is a reference to another resource, with where it was written.
type Ref struct {
	Name  string
	Range hcl.Range
}

// ExecutableSpec describes a local process.
type ExecutableSpec struct {
	Command hcl.Expression   // string
	Args    []hcl.Expression // strings
	Dir     hcl.Expression   // string, relative to the project dir; nil = project dir
}

// ContainerSpec describes a container.
type ContainerSpec struct {
	Image      hcl.Expression   // string
	Entrypoint []hcl.Expression // strings; nil = image default
	Args       []hcl.Expression // strings; nil = image default
	User       hcl.Expression   // string; nil = image default
	WorkingDir hcl.Expression   // string; nil = image default
	Mounts     []*Mount
	Pull       string // "missing" (default) | "always" | "never"
	Network    string // "" = project bridge, "host" = host namespace
	StopSignal string // "" = image's, else e.g. "SIGINT"
}

// Mount is a volume or bind mount into a container.
type Mount struct {
	Type     string // "volume" or "bind"
	Source   string // volume resource name, or a path (relative to the project dir)
	Target   string // absolute path in the container
	ReadOnly bool
	Range    hcl.Range
}

// ParameterSpec describes a parameter (a named value, optionally secret).
type ParameterSpec struct {
	Default  hcl.Expression // nil = no default
	HasValue bool           // Default is set
	Env      string         // environment variable to read the value from ("" = none)
	Secret   bool
	Generate *GenerateSpec // non-nil: generate once and persist
}

// GenerateSpec says how to generate a secret value.
type GenerateSpec struct {
	Length  int  // default 22
	Lower   bool // default true
	Upper   bool // default true
	Numeric bool // default true
	Special bool // default false
}

// VolumeSpec describes a named volume (a directory under .apphost/volumes).
type VolumeSpec struct{}

// Endpoint is a named network endpoint of a resource.
type Endpoint struct {
	Name   string
	Scheme string // "http" (default), "https", "tcp", ...
	// Port is the host-side port consumers connect to; 0 = allocate one.
	Port int
	// TargetPort is the port the process/container listens on; 0 = same as
	// Port for executables without proxy, allocated otherwise.
	TargetPort int
	// Env names the variable that receives the target port ("" = none).
	Env   string
	Proxy bool
	// Socket: the daemon binds the port itself and passes the listening
	// socket to the process (fd 3, LISTEN_FDS/LISTEN_PID as systemd does).
	// Executables only.
	Socket bool
	Range  hcl.Range
}

// Limits caps what a resource's processes may use. Zero fields are
// unlimited. They map to cgroup controllers where the daemon runs
// executables in cgroups (as root); elsewhere they are reported as not
// enforced.
type Limits struct {
	MemoryBytes int64   // memory.max / memory.limit_in_bytes
	CPUs        float64 // cpu.max quota over a 100ms period
	PIDs        int     // pids.max
	Range       hcl.Range
}

// HealthCheck is a resource's readiness probe. Exactly one of HTTP, TCP,
// Exec is set.
type HealthCheck struct {
	HTTP *HTTPProbe
	TCP  *TCPProbe
	Exec *ExecProbe

	Interval    time.Duration // between probes once healthy; default 5s
	Timeout     time.Duration // per probe; default 2s
	Retries     int           // consecutive failures before Unhealthy; default 3
	StartPeriod time.Duration // failures during it do not count; default 0
	Range       hcl.Range
}

// HTTPProbe expects an HTTP status in [StatusMin, StatusMax] from Path on
// the named endpoint.
type HTTPProbe struct {
	Endpoint  string // default: the resource's first http/https endpoint
	Path      string // default "/"
	StatusMin int    // default 200
	StatusMax int    // default 399
}

// TCPProbe expects a TCP connect to succeed on the named endpoint.
type TCPProbe struct {
	Endpoint string // default: the resource's first endpoint
}

// ExecProbe runs a command (in the container for containers) and expects
// exit status 0.
type ExecProbe struct {
	Command []string
}

// RestartPolicy says when a stopped instance is started again, and how
// quickly.
type RestartPolicy struct {
	Policy         string        // RestartNever (default) | RestartOnFailure | RestartAlways
	BackoffInitial time.Duration // default 500ms
	BackoffMax     time.Duration // default 30s
}

// Values are the runtime facts late evaluation needs, by resource name.
// Discovery builds them (ports, hosts, URLs, parameter and secret values,
// integration attributes); EvalContext turns them into HCL variables:
//
//	executable.api.endpoint.http.url   (and .host .port .target_port .host_port .scheme)
//	parameter.greeting.value
//	postgres.db.connection_string      (any entry of Attrs)
//
// A resource missing from Values, or a missing entry, evaluates to an
// unknown value, and Resolve reports it as a diagnostic naming the
// reference, so a consumer of an unready parameter can be held in Waiting.
type Values map[string]*ResourceValues

// ResourceValues are one resource's runtime values.
type ResourceValues struct {
	Endpoints map[string]EndpointValues
	// Attrs are scalar attributes: "value" for parameters; host, port,
	// username, password, uri, connection_string for integrations.
	Attrs map[string]string
}

// EndpointValues are one endpoint's allocated address as seen by a consumer.
type EndpointValues struct {
	Scheme     string
	Host       string // e.g. 127.0.0.1, or a container name inside the bridge
	Port       int    // the port consumers connect to
	TargetPort int    // the port the process listens on
	URL        string // scheme://host:port
}

// ResolvedSpec is a resource with every expression evaluated. It is what the
// runtime launches and what hot reload diffs (Hash).
type ResolvedSpec struct {
	Command    string            `json:"command,omitempty"`
	Args       []string          `json:"args,omitempty"`
	Dir        string            `json:"dir,omitempty"`
	Image      string            `json:"image,omitempty"`
	Entrypoint []string          `json:"entrypoint,omitempty"`
	User       string            `json:"user,omitempty"`
	WorkingDir string            `json:"working_dir,omitempty"`
	Env        map[string]string `json:"env,omitempty"`
	Attributes map[string]string `json:"attributes,omitempty"`
}
