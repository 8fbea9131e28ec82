package main

import (
	"context"
	"fmt"

	"github.com/apphostd/apphostd/pkg/project"
	"github.com/apphostd/apphostd/pkg/reconcile"
	"github.com/apphostd/apphostd/pkg/runtime/process"
)

func init() {
	sweepers = append(sweepers, sweeper{what: "cgroups", sweep: sweepCgroups})
}

// sweepCgroups empties and removes the project's cgroups: what a daemon
// that died left there, including processes that left every process group
// (setsid, double fork) and so escaped the process sweep. It looks under
// this command's own cgroup, where a daemon started from the same session
// put them (a daemon's cgroups are nested under its own). Without root or
// cgroups there is nothing to do.
func sweepCgroups(ctx context.Context, p project.Project, _ []reconcile.Record) []string {
	d := process.NewWithOptions(process.Options{CgroupName: "apphostd-" + p.ID()})
	if d.Isolation().Mode == process.ModeProcessGroups {
		return nil
	}
	found, err := d.SweepCgroups(ctx, nil)
	_ = d.Cleanup(ctx)
	if err != nil {
		return []string{fmt.Sprintf("cgroups: %v (stopped processes of %v)", err, found)}
	}
	return nil
}
