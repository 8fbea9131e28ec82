package containerd

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apphostd/apphostd/pkg/runtime"
	"github.com/containerd/containerd/api/services/tasks/v1"
	"github.com/containerd/containerd/v2/core/snapshots"
)

// assertNothingLeft lists containerd's and the host's state and fails on
// anything of the project.
func assertNothingLeft(t *testing.T, e *env) {
	t.Helper()
	ctx := context.Background()
	cs, err := e.d.client.Containers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		t.Errorf("container left: %s", c.ID())
	}
	tl, err := e.d.client.TaskService().List(ctx, &tasks.ListTasksRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tk := range tl.Tasks {
		t.Errorf("task left: %s (pid %d)", tk.ID, tk.Pid)
	}
	err = e.d.client.SnapshotService(e.d.Snapshotter()).Walk(ctx, func(_ context.Context, info snapshots.Info) error {
		// Committed snapshots are the imported image's unpacked layer: a
		// cache that stays, like the image itself.
		if info.Kind != snapshots.KindCommitted {
			t.Errorf("snapshot left: %s (%v)", info.Name, info.Kind)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if ns, _ := filepath.Glob(filepath.Join(e.opts.StateDir, "netns", "*")); len(ns) > 0 {
		t.Errorf("netns left: %v", ns)
	}
	if _, err := os.Stat(filepath.Join(e.opts.StateDir, "ipam")); !os.IsNotExist(err) {
		t.Errorf("IPAM state left: %v", err)
	}
	if _, err := os.Stat(filepath.Join("/sys/class/net", e.opts.BridgeName)); !os.IsNotExist(err) {
		t.Errorf("bridge %s left: %v", e.opts.BridgeName, err)
	}
	out, err := exec.Command("iptables-save", "-t", "nat").CombinedOutput()
	if err != nil {
		t.Fatalf("iptables-save: %v %s", err, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, e.opts.BridgeName) || strings.Contains(line, e.opts.Subnet) || strings.Contains(line, e.d.gateway()+"/") {
			t.Errorf("iptables rule left: %s", line)
		}
	}
	cache, _ := os.ReadDir(cniCacheDir)
	for _, f := range cache {
		if strings.Contains(f.Name(), e.d.containerID("")) {
			t.Errorf("CNI cache entry left: %s", f.Name())
		}
	}
}

func TestCleanupLeavesNothing(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.start(e.spec("a-0", published(freePort(t))))
	e.start(e.spec("b-0"))
	e.start(e.spec("h-0", func(s *runtime.Spec) { s.Network = "host"; s.Env = []string{"PORT=" + itoa(freePort(t))} }))
	// A netns whose container never got created (as after a crash mid-Start).
	if err := createNetNS(e.d.netnsPath(e.d.containerID("ghost-0"))); err != nil {
		t.Fatal(err)
	}
	if l, err := e.d.List(ctx); err != nil || len(l) != 3 {
		t.Fatalf("List = %v, %v; want 3", l, err)
	}
	if err := e.d.Cleanup(ctx); err != nil {
		t.Fatalf("cleanup: %v", err)
	}
	assertNothingLeft(t, e)
	if err := e.d.Cleanup(ctx); err != nil {
		t.Errorf("second cleanup: %v", err)
	}
}
