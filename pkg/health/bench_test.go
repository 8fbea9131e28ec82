package health

import (
	"context"
	"sync"
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
				<-c.Done()
				afterBind += r.Time.Sub(<-bound)
				stop()
			}
			b.ReportMetric(float64(afterBind.Microseconds())/1000/float64(b.N), "ms-after-bind")
		})
	}
}

// BenchmarkAllHealthy100 is W1 in miniature: 100 in-process servers bind
// at staggered delays (0-300 ms) and the time until all 100 are reported
// healthy is compared with the W1 floor, a loop polling every target each
// 10 ms. Compare the two sub-benchmarks' ns/op from one run; the W1
// target is checker ≤ 1.3× floor.
func BenchmarkAllHealthy100(b *testing.B) {
	const n = 100
	delay := func(i int) time.Duration { return time.Duration(i*3) * time.Millisecond }

	b.Run("checker", func(b *testing.B) {
		for b.Loop() {
			addrs := distinctAddrs(b, n)
			var wg sync.WaitGroup
			wg.Add(n)
			var stops []func()
			for i, a := range addrs {
				_, stop := serveLater(b, a, delay(i), okHandler())
				stops = append(stops, stop)
				var once sync.Once
				c := NewChecker(Spec{Target: Target{HTTPURL: "http://" + a + "/healthz"}, Interval: time.Second},
					func(r Result) {
						if r.Status == StatusHealthy {
							once.Do(wg.Done)
						}
					})
				c.Start(context.Background())
				stops = append(stops, c.Stop)
			}
			wg.Wait()
			b.StopTimer()
			for _, s := range stops {
				s()
			}
			b.StartTimer()
		}
	})

	b.Run("poll10ms-floor", func(b *testing.B) {
		for b.Loop() {
			addrs := distinctAddrs(b, n)
			var stops []func()
			for i, a := range addrs {
				_, stop := serveLater(b, a, delay(i), okHandler())
				stops = append(stops, stop)
			}
			healthy := make([]bool, n)
			left := n
			for left > 0 {
				for i, a := range addrs {
					if !healthy[i] && ProbeHTTP(context.Background(), nil, "http://"+a+"/healthz", 0, 0) == nil {
						healthy[i] = true
						left--
					}
				}
				if left > 0 {
					time.Sleep(10 * time.Millisecond)
				}
			}
			b.StopTimer()
			for _, s := range stops {
				s()
			}
			b.StartTimer()
		}
	})
}

// distinctAddrs returns n different free loopback addresses; freeAddr alone
// may return a port again once its probe listener is closed.
func distinctAddrs(b *testing.B, n int) []string {
	seen := map[string]bool{}
	var out []string
	for len(out) < n {
		if a := freeAddr(b); !seen[a] {
			seen[a] = true
			out = append(out, a)
		}
	}
	return out
}
