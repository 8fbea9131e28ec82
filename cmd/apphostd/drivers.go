package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/apphostd/apphostd/pkg/model"
	"github.com/apphostd/apphostd/pkg/project"
	"github.com/apphostd/apphostd/pkg/runtime"
	"github.com/apphostd/apphostd/pkg/runtime/containerd"
)

// Container runtime settings, from flags or the environment (the flags win).
var (
	containerdAddress   string
	containerdNamespace string
	bridgeName          string // APPHOST_BRIDGE_NAME
	bridgeSubnet        string // APPHOST_SUBNET
)

// runcRootEnv points the driver at a private containerd's runc root (tests).
const runcRootEnv = "APPHOST_RUNC_ROOT"

// containerdOptions builds the driver options for a project.
func containerdOptions(p project.Project, log *zap.Logger) containerd.Options {
	return containerd.Options{
		Address:    containerdAddress,
		Namespace:  containerdNamespace,
		Project:    p.ID(),
		StateDir:   filepath.Join(p.StateDir(), "containerd"),
		RuncRoot:   os.Getenv(runcRootEnv),
		BridgeName: bridgeName,
		Subnet:     bridgeSubnet,
		Logger:     log,
	}
}

// extraDrivers returns the runtime drivers besides the process driver: the
// containerd driver, connected lazily so that a project of executables
// never needs containerd, and a missing containerd only fails containers.
//
// onPull is told when a container's image starts downloading, so the
// resource can show it (state Starting, reason "pulling IMAGE").
func extraDrivers(p project.Project, log *zap.Logger, onPull func(instanceID, image string)) map[string]runtime.Driver {
	opts := containerdOptions(p, log.Named("containerd"))
	opts.OnPull = onPull
	return map[string]runtime.Driver{model.KindContainer: &lazyContainerd{opts: opts}}
}

// lazyContainerd connects to containerd on first use and again after a
// failure (at most once a second), so containers recover when containerd
// comes up without restarting the daemon.
type lazyContainerd struct {
	opts containerd.Options

	mu      sync.Mutex
	drv     *containerd.Driver
	lastErr error
	lastTry time.Time
}

var (
	_ runtime.Driver = (*lazyContainerd)(nil)
	_ runtime.Execer = (*lazyContainerd)(nil)
)

func (l *lazyContainerd) get(ctx context.Context) (*containerd.Driver, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.drv != nil {
		return l.drv, nil
	}
	if l.lastErr != nil && time.Since(l.lastTry) < time.Second {
		return nil, l.lastErr
	}
	l.lastTry = time.Now()
	d, err := containerd.New(ctx, l.opts)
	if err != nil {
		l.lastErr = fmt.Errorf("containers need containerd: %w", err)
		return nil, l.lastErr
	}
	l.drv, l.lastErr = d, nil
	return d, nil
}

// connected returns the driver only if a connection was made.
func (l *lazyContainerd) connected() *containerd.Driver {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.drv
}

func (l *lazyContainerd) Start(ctx context.Context, spec runtime.Spec) (runtime.Status, error) {
	d, err := l.get(ctx)
	if err != nil {
		return runtime.Status{}, err
	}
	return d.Start(ctx, spec)
}

func (l *lazyContainerd) Wait(ctx context.Context, id string) (<-chan runtime.Exit, error) {
	d, err := l.get(ctx)
	if err != nil {
		return nil, err
	}
	return d.Wait(ctx, id)
}

func (l *lazyContainerd) Stop(ctx context.Context, id string, grace time.Duration) error {
	d := l.connected()
	if d == nil {
		var err error
		if d, err = l.get(ctx); err != nil {
			return err
		}
	}
	return d.Stop(ctx, id, grace)
}

func (l *lazyContainerd) Delete(ctx context.Context, id string) error {
	d := l.connected()
	if d == nil {
		return nil // never connected: nothing of ours can exist in it
	}
	return d.Delete(ctx, id)
}

func (l *lazyContainerd) Inspect(ctx context.Context, id string) (runtime.Status, error) {
	d, err := l.get(ctx)
	if err != nil {
		return runtime.Status{}, err
	}
	return d.Inspect(ctx, id)
}

func (l *lazyContainerd) Adopt(ctx context.Context, rec runtime.Status) (runtime.Status, error) {
	d, err := l.get(ctx)
	if err != nil {
		return runtime.Status{}, err
	}
	return d.Adopt(ctx, rec)
}

func (l *lazyContainerd) List(ctx context.Context) ([]runtime.Status, error) {
	d := l.connected()
	if d == nil {
		return nil, nil
	}
	return d.List(ctx)
}

func (l *lazyContainerd) Exec(ctx context.Context, id string, argv []string) (int, []byte, error) {
	d, err := l.get(ctx)
	if err != nil {
		return -1, nil, err
	}
	return d.Exec(ctx, id, argv)
}

// Cleanup removes what the project left in containerd (containers,
// snapshots, CNI state, the bridge), if containerd was ever used.
func (l *lazyContainerd) Cleanup(ctx context.Context) error {
	d := l.connected()
	if d == nil {
		return nil
	}
	return d.Cleanup(ctx)
}
