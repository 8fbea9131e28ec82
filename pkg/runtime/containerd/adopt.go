package containerd

import (
	"context"
	"fmt"

	"github.com/apphostd/apphostd/pkg/runtime"
)

// Adopt implements runtime.Driver: it re-attaches to the container of
// rec.ID that an earlier Driver (or daemon) started, after checking it is
// the same task (same PID and, when recorded, start time). Output keeps
// going to the log file the shim writes, so nothing needs re-wiring.
func (d *Driver) Adopt(ctx context.Context, rec runtime.Status) (runtime.Status, error) {
	inst, err := d.attach(ctx, rec.ID)
	if err != nil {
		return runtime.Status{}, fmt.Errorf("adopt %s: %w", rec.ID, err)
	}
	st, err := d.status(ctx, rec.ID, inst.container)
	if err != nil {
		return runtime.Status{}, fmt.Errorf("adopt %s: %w", rec.ID, err)
	}
	if rec.PID != 0 && st.PID != rec.PID || rec.StartTime != 0 && st.StartTime != 0 && st.StartTime != rec.StartTime {
		d.forget(rec.ID, inst)
		return runtime.Status{}, fmt.Errorf("adopt %s: recorded pid %d (start %d), found pid %d (start %d): %w",
			rec.ID, rec.PID, rec.StartTime, st.PID, st.StartTime, runtime.ErrNotFound)
	}
	return st, nil
}

// List implements runtime.Driver: every container in the namespace with
// this project's label, whoever started it.
func (d *Driver) List(ctx context.Context) ([]runtime.Status, error) {
	cs, err := d.client.Containers(ctx, d.projectFilter())
	if err != nil {
		return nil, d.classify("list", "containers", err)
	}
	out := make([]runtime.Status, 0, len(cs))
	for _, c := range cs {
		labels, err := labelsOf(ctx, c)
		if err != nil {
			continue // deleted meanwhile
		}
		id := labels[LabelInstance]
		if id == "" {
			continue
		}
		st, err := d.status(ctx, id, c)
		if err != nil {
			continue
		}
		out = append(out, st)
	}
	return out, nil
}

func (d *Driver) projectFilter() string {
	return fmt.Sprintf("labels.%q==%q", LabelProject, d.opts.Project)
}
