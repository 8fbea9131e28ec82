package health

import (
	"context"
	"testing"
	"time"
)

// BenchmarkFirstHealthy measures launch-to-Healthy for a server that binds
// bindDelay after the checker starts, as a freshly spawned process does
// (BENCHMARKS.md W1). ns/op includes bindDelay; the "ms-after-bind" metric
// is the part the prober adds, which fast probing keeps small (a fixed 1 s
// period would add up to a whole period).
func BenchmarkFirstHealthy(b *testing.B) {
	for _, bindDelay := range []time.Duration{0, 20 * time.Millisecond, 100 * time.Millisecond} {
		b.Run(bindDelay.String(), func(b *testing.B) {
			var afterBind time.Duration
			for b.Loop() {
				addr := freeAddr(b)
				healthy := make(chan Result, 1)
				bound, stop := serveLater(b, addr, bindDelay, okHandler())
				c := NewChecker(Spec{Target: Target{HTTPURL: "http://" + addr + "/healthz"}, Interval: time.Second},
					func(r Result) {
						if r.Status == StatusHealthy {
							healthy <- r
						}
					})
				c.Start(context.Background())
				var r Result
				select {
				case r = <-healthy:
				case <-time.After(guard):
					b.Fatalf("not healthy within %s", guard)
				}
				c.Stop()
				afterBind += r.Time.Sub(<-bound)
				stop()
			}
			b.ReportMetric(float64(afterBind.Microseconds())/1000/float64(b.N), "ms-after-bind")
		})
	}
}
