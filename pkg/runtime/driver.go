// Package runtime defines the contract between the reconciler and the
// things that actually run workloads: local processes (runtime/process) and
// containers (runtime/containerd).
//
// Every Driver method is idempotent: stopping or deleting something that is
// already gone is success, and starting an instance ID that already runs is
// an error wrapping ErrAlreadyExists. Instances must outlive the daemon:
// their output goes to Spec.LogPath, which the instance (or a runtime shim)
// owns, never to a pipe held by the daemon.
package runtime

import (
	"context"
	"errors"
	"syscall"
	"time"
)

// Errors drivers wrap with %w so callers can classify with errors.Is.
var (
	ErrNotFound      = errors.New("not found")
	ErrAlreadyExists = errors.New("already exists")
	// ErrUnavailable: the runtime itself cannot be reached (e.g. containerd
	// is not running). The reconciler reports FailedToStart with the message.
	ErrUnavailable = errors.New("runtime unavailable")
	// ErrInvalidSpec: the spec can never start (bad command, missing image
	// with pull=never, ...). Terminal: no restart loop.
	ErrInvalidSpec = errors.New("invalid spec")
)

// Spec is everything a driver needs to start one instance (one replica of
// one resource). All values are resolved; nothing refers to the model.
type Spec struct {
	// ID is unique within the project and stable for a replica across
	// restarts, e.g. "api-0". Drivers derive their own names from it.
	ID       string
	Resource string
	Replica  int
	Project  string // project identity (a hash of its directory), for labels

	Command string   // executable: program; container: ignored
	Args    []string // executable: args; container: overrides the image's cmd if non-nil
	Dir     string   // executable: working dir (absolute)
	Env     []string // KEY=VALUE, fully resolved

	Image      string
	Entrypoint []string // nil = image default
	User       string
	WorkingDir string
	Mounts     []Mount
	Network    string // "" = bridge, "host"
	Ports      []PortMapping
	Pull       string // "missing" | "always" | "never"

	// LogPath is the file the instance's stdout and stderr are appended to.
	LogPath string
	// Labels are attached where the runtime supports them (containers).
	Labels map[string]string
	// StopSignal is sent first on Stop; 0 = SIGTERM (or the image's).
	StopSignal syscall.Signal
	// Limits caps the instance's memory, CPU and process count where the
	// driver can enforce it (the process driver: cgroups); nil = none.
	Limits *Limits
}

// Limits are resource caps; a zero field is unlimited.
type Limits struct {
	MemoryBytes int64
	CPUs        float64
	PIDs        int
}

// Mount is a resolved mount: Source is an absolute host path.
type Mount struct {
	Source   string
	Target   string
	ReadOnly bool
}

// PortMapping publishes a container port on the host.
type PortMapping struct {
	Name          string
	HostIP        string // "127.0.0.1"
	HostPort      int
	ContainerPort int
	Protocol      string // "tcp"
	// Socket: the instance gets a listening socket on HostPort from the
	// daemon (systemd-style socket activation; executables only).
	Socket bool
}

// State of an instance as the driver observes it.
type State string

const (
	StateRunning State = "running"
	StateExited  State = "exited"
)

// Status is what a driver observes about one instance.
type Status struct {
	ID        string
	State     State
	PID       int
	StartTime uint64 // process start time in clock ticks since boot (/proc/PID/stat field 22); identity for adoption
	StartedAt time.Time
	ExitedAt  time.Time
	ExitCode  int
	// IP is the instance's address on the project network, if it has one
	// (containers on the bridge).
	IP string
	// Cgroup is the instance's own cgroup (a cgroup v2 path, or the v1
	// pids hierarchy's), when the driver runs it in one; a restarted
	// daemon finds every process of the instance there.
	Cgroup string
}

// Exit is delivered once when an instance ends.
type Exit struct {
	ID       string
	ExitCode int // 128+signal when killed by a signal
	ExitedAt time.Time
}

// Driver runs instances of one kind.
//
// Lifecycle: Start, then Wait (any number of times) to learn of the exit,
// Stop to end it (signal, grace, SIGKILL; returns once it is gone), Delete
// to forget it. Adopt re-attaches a restarted daemon to an instance a
// previous daemon started; it fails with ErrNotFound unless the exact same
// instance (same PID and start time, or same container) is still there.
type Driver interface {
	// Start launches an instance and returns once it has been started
	// (the process exec'd, the container task started).
	Start(ctx context.Context, spec Spec) (Status, error)
	// Wait returns a channel that receives one Exit when the instance ends
	// and is then closed. If it has already ended the Exit is delivered at
	// once. ErrNotFound if the driver does not know the instance.
	Wait(ctx context.Context, id string) (<-chan Exit, error)
	// Stop signals the instance (StopSignal, else SIGTERM), waits up to
	// grace, then kills it (the whole process tree). Returns once it has
	// exited. Stopping an unknown or exited instance is success.
	Stop(ctx context.Context, id string, grace time.Duration) error
	// Delete releases everything held for an exited instance (containers,
	// snapshots, network namespaces). Unknown is success.
	Delete(ctx context.Context, id string) error
	// Inspect reports the current status, or ErrNotFound.
	Inspect(ctx context.Context, id string) (Status, error)
	// Adopt re-attaches to an instance recorded by an earlier daemon.
	Adopt(ctx context.Context, rec Status) (Status, error)
	// List returns every instance this driver knows of for the project,
	// including ones found in the runtime that it did not start (containers
	// with the project's labels), so orphans can be found and stopped.
	List(ctx context.Context) ([]Status, error)
}

// Execer is implemented by drivers that can run a command inside an
// instance (containers), used by exec health checks.
type Execer interface {
	Exec(ctx context.Context, id string, argv []string) (exitCode int, output []byte, err error)
}
