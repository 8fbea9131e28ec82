// Package containerd runs container instances through containerd. It is the
// only package of apphostd that imports containerd: the rest of the daemon
// sees a runtime.Driver (and runtime.Execer).
//
// It talks to containerd with the v2 Go client (github.com/containerd/containerd/v2/client),
// which speaks the same v1 gRPC services Debian's containerd 1.6 serves.
//
// Networking: by default every container gets its own network namespace
// (a file under StateDir/netns) attached by CNI (go-cni driving the standard
// plugins in /usr/lib/cni: bridge + host-local IPAM, loopback) to one
// bridge per project; published ports are DNAT rules in the kernel (see
// rules.go), so they cost nothing measurable in throughput. Names resolve through an
// /etc/hosts file per container that the driver bind-mounts read-only and
// rewrites in place whenever a container of the project gets or loses an
// address; host.apphost.internal names the bridge's gateway address, i.e.
// the host. Network "host" shares the host's namespace.
//
// Locks: Driver.mu guards the instance map and is never held across a
// call. hostsMu serialises hosts-file refreshes (a list RPC and local
// writes); rulesMu guards the one-time NAT setup. None is taken while
// holding another.
package containerd

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/apphostd/apphostd/pkg/runtime"
	cdclient "github.com/containerd/containerd/v2/client"
	"github.com/containerd/errdefs"
	gocni "github.com/containerd/go-cni"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
)

// DefaultAddress is containerd's standard socket.
const DefaultAddress = "/run/containerd/containerd.sock"

// AddressEnv overrides DefaultAddress when Options.Address is empty.
const AddressEnv = "APPHOST_CONTAINERD_ADDRESS"

// DefaultNamespace is the containerd namespace apphostd keeps its
// containers, images and snapshots in. Other namespaces (e.g. dockerd's
// "moby") are never touched.
const DefaultNamespace = "apphost"

// InstallHint is appended to "containerd unavailable" errors.
const InstallHint = "install it with: apt-get install containerd runc containernetworking-plugins (then start containerd)"

// dialTimeout bounds how long New and every call wait for an unreachable
// daemon before failing with runtime.ErrUnavailable.
const dialTimeout = 3 * time.Second

// Options configure a Driver. Zero values pick the defaults documented per field.
type Options struct {
	// Address of containerd's gRPC socket; default $APPHOST_CONTAINERD_ADDRESS,
	// else DefaultAddress.
	Address string
	// Namespace in containerd; default DefaultNamespace.
	Namespace string
	// Project identifies the project (a hash of its directory); it is put
	// on every container as the apphost.project label and List/Cleanup
	// select by it. Required.
	Project string
	// StateDir holds this driver's files: CNI config and IPAM state, network
	// namespaces, hosts files, exec FIFOs. Normally <project>/.apphost/containerd.
	// Default /run/apphost/<Project>.
	StateDir string
	// BridgeName is the project's bridge (at most 15 bytes); default
	// "aph" + 8 hex digits of a hash of Project.
	BridgeName string
	// Subnet of the bridge in CIDR form; default a /24 in 10.200.0.0/13
	// derived from Project.
	Subnet string
	// Snapshotter; default overlayfs when the daemon has it working, else native.
	Snapshotter string
	// RuncRoot overrides runc's state root (default /run/containerd/runc);
	// tests point it into their private containerd's dir.
	RuncRoot string
	// PortmapPlugin publishes ports and masquerades with the CNI portmap
	// plugin and the bridge plugin's ipMasq instead of the driver's own
	// iptables rules (rules.go); slower to start, kept for comparison.
	PortmapPlugin bool
	// OnPull, if set, is called when Start begins pulling an image for an
	// instance (so the caller can show a Pulling state). It must not block.
	OnPull func(id, image string)
	// CNIPluginDirs; default /usr/lib/cni, /opt/cni/bin.
	CNIPluginDirs []string
	// Logger; default zap.NewNop().
	Logger *zap.Logger
}

// Driver implements runtime.Driver and runtime.Execer on containerd.
//
// Lifecycle: New connects (bounded) and returns; Close releases the client
// and stops the exit watchers. A Driver may be discarded and a new one made
// at any time: everything it needs to find its containers again lives in
// containerd (labels) and in StateDir.
type Driver struct {
	opts   Options
	client *cdclient.Client
	log    *zap.Logger

	ctx    context.Context // cancelled by Close; parent of exit watchers
	cancel context.CancelFunc

	cniOnce sync.Once
	cni     gocni.CNI
	cniErr  error

	mu        sync.Mutex
	instances map[string]*instance // by runtime instance ID (Spec.ID)

	hostsMu sync.Mutex // serialises refreshHosts

	rulesMu   sync.Mutex // guards rulesDone
	rulesDone bool
}

var (
	_ runtime.Driver = (*Driver)(nil)
	_ runtime.Execer = (*Driver)(nil)
)

// New connects to containerd and checks that it answers, within a few
// seconds. An unreachable daemon gives an error wrapping runtime.ErrUnavailable
// that names the address and how to install containerd.
func New(ctx context.Context, opts Options) (*Driver, error) {
	if opts.Project == "" {
		return nil, fmt.Errorf("containerd driver: Options.Project is required: %w", runtime.ErrInvalidSpec)
	}
	if opts.Address == "" {
		opts.Address = os.Getenv(AddressEnv)
	}
	if opts.Address == "" {
		opts.Address = DefaultAddress
	}
	if opts.Namespace == "" {
		opts.Namespace = DefaultNamespace
	}
	if opts.StateDir == "" {
		opts.StateDir = filepath.Join("/run/apphost", opts.Project)
	}
	if opts.BridgeName == "" {
		opts.BridgeName = defaultBridgeName(opts.Project)
	}
	if len(opts.BridgeName) > 15 {
		return nil, fmt.Errorf("containerd driver: bridge name %q longer than 15 bytes: %w", opts.BridgeName, runtime.ErrInvalidSpec)
	}
	if opts.Subnet == "" {
		opts.Subnet = defaultSubnet(opts.Project)
	}
	if len(opts.CNIPluginDirs) == 0 {
		opts.CNIPluginDirs = []string{"/usr/lib/cni", "/opt/cni/bin"}
	}
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	if _, err := os.Stat(opts.Address); err != nil {
		return nil, unavailable(opts.Address, err)
	}
	client, err := cdclient.New(opts.Address,
		cdclient.WithDefaultNamespace(opts.Namespace),
		cdclient.WithTimeout(dialTimeout),
		// Calls fail fast (ErrUnavailable) while containerd is down; a
		// short reconnect backoff makes them work again within about a
		// second of its return, instead of up to dialTimeout.
		cdclient.WithExtraDialOpts([]grpc.DialOption{grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: 100 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: time.Second},
			MinConnectTimeout: dialTimeout,
		})}))
	if err != nil {
		return nil, unavailable(opts.Address, err)
	}
	pctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	if _, err := client.Version(pctx); err != nil {
		client.Close()
		return nil, unavailable(opts.Address, err)
	}
	if opts.Snapshotter == "" {
		opts.Snapshotter = pickSnapshotter(pctx, client)
	}
	dctx, dcancel := context.WithCancel(context.Background())
	d := &Driver{
		opts:      opts,
		client:    client,
		log:       opts.Logger.Named("containerd"),
		ctx:       dctx,
		cancel:    dcancel,
		instances: map[string]*instance{},
	}
	d.log.Debug("connected", zap.String("address", opts.Address), zap.String("namespace", opts.Namespace),
		zap.String("snapshotter", opts.Snapshotter))
	return d, nil
}

// Close stops the exit watchers and closes the client. Containers keep
// running: they belong to containerd, not to the driver.
func (d *Driver) Close() error {
	d.cancel()
	return d.client.Close()
}

// Options returns the effective options (defaults filled in).
func (d *Driver) Options() Options { return d.opts }

// Snapshotter returns the snapshotter containers are created with.
func (d *Driver) Snapshotter() string { return d.opts.Snapshotter }

func unavailable(addr string, err error) error {
	return fmt.Errorf("containerd at %s unreachable (%v); %s: %w", addr, err, InstallHint, runtime.ErrUnavailable)
}

// classify maps containerd error classes onto the runtime's, keeping the
// original in the chain.
func (d *Driver) classify(op, id string, err error) error {
	if err == nil {
		return nil
	}
	switch {
	case errdefs.IsNotFound(err):
		return fmt.Errorf("%s %s: %w: %w", op, id, runtime.ErrNotFound, err)
	case errdefs.IsAlreadyExists(err):
		return fmt.Errorf("%s %s: %w: %w", op, id, runtime.ErrAlreadyExists, err)
	case errdefs.IsUnavailable(err):
		return fmt.Errorf("%s %s: %w", op, id, unavailable(d.opts.Address, err))
	}
	return fmt.Errorf("%s %s: %w", op, id, err)
}

func pickSnapshotter(ctx context.Context, c *cdclient.Client) string {
	resp, err := c.IntrospectionService().Plugins(ctx, `type=="io.containerd.snapshotter.v1",id=="overlayfs"`)
	if err == nil {
		for _, p := range resp.Plugins {
			if p.InitErr == nil {
				return "overlayfs"
			}
		}
	}
	return "native"
}
