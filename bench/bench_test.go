// Package bench measures apphostd against the workloads of
// BENCHMARKS.md: W1 (up --wait of 100 probed executables vs a bare
// spawn-and-poll floor), W2 (edit-to-new-process for one of 100), W3 (the
// daemon's RSS and idle CPU with 100 probes). Run:
//
//	go test ./bench -run '^$' -bench . -benchtime 5x
package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/apphostd/apphostd/pkg/api"
	"github.com/apphostd/apphostd/pkg/status"
)

var bin, server, floor string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "apphostd-bench-bin")
	if err != nil {
		panic(err)
	}
	bin, server, floor = filepath.Join(dir, "apphostd"), filepath.Join(dir, "server"), filepath.Join(dir, "floor")
	for _, b := range [][2]string{{bin, "../cmd/apphostd"}, {server, "./testdata/server"}, {floor, "./cmd/floor"}} {
		cmd := exec.Command("go", "build", "-o", b[0], b[1])
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "build:", err)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// project100 writes a project of n probed servers; env of svc-0 carries rev.
func project100(n int, rev int, interval string) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		env := ""
		if i == 0 {
			env = fmt.Sprintf("  env = { REV = \"%d\" }\n", rev)
		}
		fmt.Fprintf(&b, `executable "svc-%d" {
  command = %q
  endpoint "http" { env = "PORT" }
%s  health {
    http { path = "/healthz" }
    interval = %q
  }
}
`, i, server, env, interval)
	}
	return b.String()
}

func writeAtomic(tb testing.TB, dir, content string) {
	tmp := filepath.Join(dir, ".apphost.hcl.tmp")
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		tb.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, "apphost.hcl")); err != nil {
		tb.Fatal(err)
	}
}

// upWait brings the project up and makes sure it is taken down when the
// benchmark ends, even if bring-up fails half way.
func upWait(tb testing.TB, dir string) {
	tb.Cleanup(func() {
		cmd := exec.Command(bin, "down")
		cmd.Dir = dir
		_ = cmd.Run()
	})
	run(tb, dir, "up", "--wait", "--timeout", "60s")
}

func run(tb testing.TB, dir string, args ...string) {
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CI=true")
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("apphostd %v: %v\n%s", args, err, out)
	}
}

// BenchmarkW1UpWait100 times `apphostd up --wait` of 100 probed servers,
// from launch to every one healthy (down is not timed).
func BenchmarkW1UpWait100(b *testing.B) {
	dir := b.TempDir()
	writeAtomic(b, dir, project100(100, 0, "5s"))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		run(b, dir, "up", "--wait", "--timeout", "60s")
		b.StopTimer()
		run(b, dir, "down")
		b.StartTimer()
	}
}

// BenchmarkW1Floor100 is the floor: spawn the same 100 directly and poll
// each /healthz every 10 ms.
func BenchmarkW1Floor100(b *testing.B) {
	for i := 0; i < b.N; i++ {
		cmd := exec.Command(floor, "-n", "100", "-server", server)
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("floor: %v\n%s", err, out)
		}
	}
}

// BenchmarkW2Reload100 times one edit — svc-0's env, saved by atomic
// rename — to svc-0 running again with a new PID and healthy; the other 99
// must keep their PIDs.
func BenchmarkW2Reload100(b *testing.B) {
	dir := b.TempDir()
	writeAtomic(b, dir, project100(100, 0, "5s"))
	upWait(b, dir)
	c := api.Dial(filepath.Join(dir, ".apphost", "apphostd.sock"))
	defer c.Close()
	ctx := context.Background()
	pids := func() map[string]int {
		rs, err := c.Resources(ctx)
		if err != nil {
			b.Fatal(err)
		}
		m := map[string]int{}
		for _, r := range rs {
			if len(r.Instances) > 0 {
				m[r.Name] = r.Instances[0].PID
			}
		}
		return m
	}
	before := pids()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		old := before["svc-0"]
		ectx, cancel := context.WithTimeout(ctx, 30*time.Second)
		ready := make(chan error, 1)
		subscribed := make(chan struct{})
		go func() {
			first := true
			ready <- c.Events(ectx, func(e status.Event) error {
				if first {
					first = false
					close(subscribed)
				}
				if e.Resource != nil && e.Resource.Name == "svc-0" && e.Resource.Ready() &&
					len(e.Resource.Instances) == 1 && e.Resource.Instances[0].PID != old {
					return context.Canceled
				}
				return nil
			})
		}()
		<-subscribed
		b.StartTimer()
		writeAtomic(b, dir, project100(100, i+1, "5s"))
		<-ready
		b.StopTimer()
		cancel()
		now := pids()
		kept := 0
		for n, p := range before {
			if n != "svc-0" && now[n] == p {
				kept++
			}
		}
		if kept != 99 {
			b.Fatalf("only %d of 99 untouched resources kept their PID", kept)
		}
		before = now
	}
}

// BenchmarkW3Idle100 reports the daemon's RSS and CPU over 10 s with 100
// servers probed every 1 s (process-compose's cadence in BENCHMARKS.md).
func BenchmarkW3Idle100(b *testing.B) {
	dir := b.TempDir()
	writeAtomic(b, dir, project100(100, 0, "1s"))
	upWait(b, dir)
	c := api.Dial(filepath.Join(dir, ".apphost", "apphostd.sock"))
	defer c.Close()
	info, err := c.Info(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	time.Sleep(2 * time.Second) // settle after bring-up
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0, c0 := time.Now(), cpuTicks(b, info.PID)
		time.Sleep(10 * time.Second)
		t1, c1 := time.Now(), cpuTicks(b, info.PID)
		b.ReportMetric(float64(c1-c0)/100/t1.Sub(t0).Seconds()*100, "cpu%")
		b.ReportMetric(float64(rssKiB(b, info.PID))/1024, "RSS-MiB")
	}
}

// cpuTicks is utime+stime of pid in clock ticks (USER_HZ = 100 on Linux).
func cpuTicks(tb testing.TB, pid int) int64 {
	bs, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		tb.Fatal(err)
	}
	s := string(bs)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	var u, st int64
	fmt.Sscan(f[11], &u)
	fmt.Sscan(f[12], &st)
	return u + st
}

func rssKiB(tb testing.TB, pid int) int64 {
	bs, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		tb.Fatal(err)
	}
	for _, l := range strings.Split(string(bs), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			var v int64
			fmt.Sscan(strings.TrimSpace(strings.TrimPrefix(l, "VmRSS:")), &v)
			return v
		}
	}
	return 0
}

// BenchmarkW1Ratio100 alternates the floor and `up --wait` pair by pair
// (the machine's speed drifts between passes) and reports the median of
// the per-pair ratios ours/floor; ns/op is one pair.
func BenchmarkW1Ratio100(b *testing.B) {
	dir := b.TempDir()
	writeAtomic(b, dir, project100(100, 0, "5s"))
	var ratios []float64
	var ours, floors []time.Duration
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		if out, err := exec.Command(floor, "-n", "100", "-server", server).CombinedOutput(); err != nil {
			b.Fatalf("floor: %v\n%s", err, out)
		}
		f := time.Since(t0)
		t1 := time.Now()
		run(b, dir, "up", "--wait", "--timeout", "60s")
		o := time.Since(t1)
		b.StopTimer()
		run(b, dir, "down")
		b.StartTimer()
		ratios = append(ratios, float64(o)/float64(f))
		ours, floors = append(ours, o), append(floors, f)
	}
	b.ReportMetric(median(ratios), "ratio")
	b.ReportMetric(float64(medianDur(ours).Milliseconds()), "ours-ms")
	b.ReportMetric(float64(medianDur(floors).Milliseconds()), "floor-ms")
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return s[len(s)/2]
}

func medianDur(v []time.Duration) time.Duration {
	s := append([]time.Duration(nil), v...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}
