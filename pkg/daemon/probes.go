package daemon

import (
	"context"
	"strings"

	"go.uber.org/zap"

	"github.com/apphostd/apphostd/pkg/discovery"
	"github.com/apphostd/apphostd/pkg/health"
	"github.com/apphostd/apphostd/pkg/model"
	"github.com/apphostd/apphostd/pkg/reconcile"
	"github.com/apphostd/apphostd/pkg/runtime"
	"github.com/apphostd/apphostd/pkg/status"
)

// probeFactory turns a model health check and a resolved replica into a
// running health.Checker.
func (d *Daemon) probeFactory(res *model.Resource, resolved *discovery.Resolved, rep int, instanceID string, onChange func(status.Health, string)) reconcile.Prober {
	h := res.Health
	if h == nil || rep >= len(resolved.Probes) {
		return nil
	}
	p := resolved.Probes[rep]
	var t health.Target
	switch {
	case p.HTTPURL != "":
		t.HTTPURL = p.HTTPURL
		if h.HTTP != nil {
			t.StatusMin, t.StatusMax = h.HTTP.StatusMin, h.HTTP.StatusMax
		}
	case p.TCPAddr != "":
		t.TCPAddr = p.TCPAddr
	case len(p.Exec) > 0:
		if res.BaseKind == model.KindContainer {
			drv, _ := d.drivers[model.KindContainer].(runtime.Execer)
			argv := p.Exec
			if drv != nil {
				t.Exec = func(ctx context.Context) (int, []byte, error) { return drv.Exec(ctx, instanceID, argv) }
			}
		} else {
			t.Command = p.Exec
			inst := resolved.Instances[rep].Spec
			t.Env, t.Dir = inst.Env, inst.Dir
		}
	}
	if t.Validate() != nil {
		// A probe whose endpoint could not be resolved: report it rather
		// than pretending the resource is healthy.
		onChange(status.Unhealthy, "health check has no target (endpoint missing?)")
		return nil
	}
	c := health.NewChecker(health.Spec{
		Target:      t,
		Interval:    h.Interval,
		Timeout:     h.Timeout,
		Retries:     h.Retries,
		StartPeriod: h.StartPeriod,
		Log:         d.log.Named("health").With(zap.String("instance", instanceID)),
	}, func(r health.Result) {
		var s status.Health
		switch r.Status {
		case health.StatusHealthy:
			s = status.Healthy
		case health.StatusUnhealthy:
			s = status.Unhealthy
		default:
			s = status.HealthUnknown
		}
		onChange(s, strings.TrimSpace(r.Error))
	})
	c.Start(d.ctx)
	return c
}
