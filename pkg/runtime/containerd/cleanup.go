package containerd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/containerd/containerd/v2/core/snapshots"
	"github.com/containerd/errdefs"
	"github.com/vishvananda/netlink"
	"go.uber.org/zap"
)

// CleanupGrace is how long Cleanup lets each container handle its stop
// signal before killing it.
const CleanupGrace = 5 * time.Second

// Cleanup removes everything the project holds, for `apphostd down`: every
// container with the project's label (stopped in parallel, then deleted
// with CNI DEL and snapshot cleanup), network namespaces and IPAM state
// left by crashed runs, leftover snapshots, the project's CNI result cache
// entries, and the bridge once no interface is attached to it. Images stay:
// they are a cache shared by projects. It returns the first error but
// attempts every step.
func (d *Driver) Cleanup(ctx context.Context) error {
	var errs []error
	cs, err := d.client.Containers(ctx, d.projectFilter())
	if err != nil {
		return d.classify("cleanup", d.opts.Project, err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	for _, c := range cs {
		labels, err := labelsOf(ctx, c)
		if err != nil {
			continue
		}
		id := labels[LabelInstance]
		if id == "" || d.containerID(id) != c.ID() {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := d.Stop(ctx, id, CleanupGrace)
			if err == nil {
				err = d.Delete(ctx, id)
			}
			if err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()

	// Namespaces whose container is gone (a crash between CNI ADD and
	// container create, or a container removed by hand).
	nsFiles, _ := filepath.Glob(filepath.Join(d.opts.StateDir, "netns", "*"))
	for _, ns := range nsFiles {
		cid := filepath.Base(ns)
		if err := d.teardownNetwork(ctx, cid, nil); err != nil {
			errs = append(errs, err)
		}
	}
	if err := d.removeSnapshots(ctx); err != nil {
		errs = append(errs, err)
	}
	d.removeCNICache()
	if err := d.removeProjectRules(); err != nil {
		errs = append(errs, err)
	}
	if err := d.removeBridge(); err != nil {
		errs = append(errs, err)
	}
	for _, dir := range []string{"netns", "hosts", "fifo", "ipam"} {
		if err := os.RemoveAll(filepath.Join(d.opts.StateDir, dir)); err != nil {
			errs = append(errs, fmt.Errorf("cleanup: %w", err))
		}
	}
	if err := os.Remove(d.resolvPath()); err != nil && !os.IsNotExist(err) {
		errs = append(errs, fmt.Errorf("cleanup: %w", err))
	}
	_ = os.Remove(d.opts.StateDir) // only if empty: the caller may keep files there
	d.mu.Lock()
	d.instances = map[string]*instance{}
	d.mu.Unlock()
	return errors.Join(errs...)
}

// removeSnapshots removes snapshots the driver labelled for the project
// that outlived their container.
func (d *Driver) removeSnapshots(ctx context.Context) error {
	sn := d.client.SnapshotService(d.opts.Snapshotter)
	var keys []string
	err := sn.Walk(ctx, func(_ context.Context, info snapshots.Info) error {
		keys = append(keys, info.Name)
		return nil
	}, fmt.Sprintf("labels.%q==%q", LabelProject, d.opts.Project))
	if err != nil {
		return d.classify("list snapshots", d.opts.Project, err)
	}
	for _, k := range keys {
		if err := sn.Remove(ctx, k); err != nil && !errdefs.IsNotFound(err) {
			return d.classify("remove snapshot", k, err)
		}
	}
	return nil
}

// cniCacheDir is libcni's default result cache (go-cni offers no way to
// move it); DEL removes an entry, this sweeps entries left by crashes.
const cniCacheDir = "/var/lib/cni/results"

func (d *Driver) removeCNICache() {
	prefix := d.containerID("")
	files, _ := os.ReadDir(cniCacheDir)
	for _, f := range files {
		n := f.Name()
		if strings.HasPrefix(n, d.networkName()+"-"+prefix) || strings.HasPrefix(n, "cni-loopback-"+prefix) {
			_ = os.Remove(filepath.Join(cniCacheDir, n))
		}
	}
}

// removeBridge deletes the project's bridge unless something is still
// attached to it (then it belongs to someone else too, or a container of
// ours survived, and it is left alone).
func (d *Driver) removeBridge() error {
	br := d.opts.BridgeName
	ports, err := os.ReadDir(filepath.Join("/sys/class/net", br, "brif"))
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("cleanup: inspect bridge %s: %w", br, err)
	}
	if len(ports) > 0 {
		d.log.Warn("bridge still has interfaces; leaving it", zap.String("bridge", br), zap.Int("interfaces", len(ports)))
		return nil
	}
	link, err := netlink.LinkByName(br)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) {
			return nil
		}
		return fmt.Errorf("cleanup: find bridge %s: %w", br, err)
	}
	if err := netlink.LinkDel(link); err != nil {
		return fmt.Errorf("cleanup: delete bridge %s: %w", br, err)
	}
	return nil
}
