package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"go.uber.org/zap"

	"github.com/apphostd/apphostd/pkg/project"
	"github.com/apphostd/apphostd/pkg/reconcile"
	"github.com/apphostd/apphostd/pkg/runtime"
	"github.com/apphostd/apphostd/pkg/runtime/containerd"
)

func init() {
	sweepers = append(sweepers, sweeper{what: "containers", sweep: sweepContainers})
}

// sweepContainers removes the project's containers, snapshots, network
// namespaces, CNI state and bridge. It only talks to containerd if the
// project ran containers (recorded, or a containerd state dir exists);
// with containerd unreachable that is reported as left behind.
func sweepContainers(ctx context.Context, p project.Project, recs []reconcile.Record) []string {
	used := dirExists(p.StateDir() + "/containerd")
	for _, r := range recs {
		if r.BaseKind == "container" {
			used = true
		}
	}
	if !used {
		return nil
	}
	d, err := containerd.New(ctx, containerdOptions(p, zap.NewNop()))
	if err != nil {
		if errors.Is(err, runtime.ErrUnavailable) {
			return []string{fmt.Sprintf("containers: cannot check: %v", err)}
		}
		return []string{fmt.Sprintf("containers: %v", err)}
	}
	defer d.Close()
	if err := d.Cleanup(ctx); err != nil {
		return []string{fmt.Sprintf("containers: cleanup: %v", err)}
	}
	left, err := d.List(ctx)
	if err != nil {
		return []string{fmt.Sprintf("containers: list: %v", err)}
	}
	var out []string
	for _, s := range left {
		out = append(out, fmt.Sprintf("container %s (%s)", s.ID, s.State))
	}
	return out
}

func dirExists(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.IsDir()
}
