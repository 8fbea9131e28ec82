package bench

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/apphostd/apphostd/pkg/api"
)

// Lifecycle measurements (docs/daemon.md#measurements):
//
//	go test ./bench -run '^$' -bench 'Restart|Stop50' -benchtime 20x

// oneServer is a project of one probed server.
func oneServer() string {
	return fmt.Sprintf(`executable "svc" {
  command = %q
  endpoint "http" { env = "PORT" }
  health {
    http { path = "/healthz" }
    interval = "5s"
  }
}
`, server)
}

// restartFloor is the process's own restart: SIGTERM the old one, wait
// for it to exit, spawn a new one on the same port, poll /healthz every
// millisecond until it answers 200. It returns the new process.
func restartFloor(tb testing.TB, old *exec.Cmd, port int) *exec.Cmd {
	if old != nil {
		_ = old.Process.Signal(syscall.SIGTERM)
		_ = old.Wait()
	}
	c := exec.Command(server)
	c.Env = append(os.Environ(), fmt.Sprintf("PORT=%d", port))
	if err := c.Start(); err != nil {
		tb.Fatal(err)
	}
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	url := fmt.Sprintf("http://127.0.0.1:%d/healthz", port)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if resp, err := client.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return c
			}
		}
		if time.Now().After(deadline) {
			tb.Fatal("floor server never became healthy")
		}
		time.Sleep(time.Millisecond)
	}
}

// BenchmarkRestartVsFloor alternates, pair by pair, the process's own
// restart (restartFloor) and `restart svc` through the API (POST
// /v1/resources/svc/restart, which answers once the new instance is
// Running and Healthy), and reports the median of each and of the per-pair
// overhead (ours - floor). ns/op is one pair. The CLI adds its own start
// (BenchmarkRestartCLI).
func BenchmarkRestartVsFloor(b *testing.B) {
	dir := b.TempDir()
	writeAtomic(b, dir, oneServer())
	upWait(b, dir)
	c := api.Dial(filepath.Join(dir, ".apphost", "apphostd.sock"))
	defer c.Close()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	floorCmd := restartFloor(b, nil, port)
	defer func() { _ = floorCmd.Process.Kill(); _ = floorCmd.Wait() }()
	ctx := context.Background()
	var ours, floors, over []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		floorCmd = restartFloor(b, floorCmd, port)
		f := time.Since(t0)
		t1 := time.Now()
		r, err := c.Restart(ctx, "svc", 30*time.Second)
		o := time.Since(t1)
		if err != nil || !r.Ready() {
			b.Fatalf("restart: %v %+v", err, r)
		}
		ours, floors, over = append(ours, o), append(floors, f), append(over, o-f)
	}
	b.ReportMetric(ms(medianDur(ours)), "ours-ms")
	b.ReportMetric(ms(medianDur(floors)), "floor-ms")
	b.ReportMetric(ms(medianDur(over)), "overhead-ms")
}

// BenchmarkRestartCLI times `apphostd restart svc` end to end, the CLI's
// own start included.
func BenchmarkRestartCLI(b *testing.B) {
	dir := b.TempDir()
	writeAtomic(b, dir, oneServer())
	upWait(b, dir)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		run(b, dir, "restart", "svc", "--timeout", "30s")
	}
}

// BenchmarkStop50 times `stop` (through the API) of a resource with 50
// descendants, half of them in a session of their own (setsid), until
// every process is gone. Starting it again is not timed.
func BenchmarkStop50(b *testing.B) {
	dir := b.TempDir()
	writeAtomic(b, dir, `executable "fifty" {
  command = "sh"
  args    = ["-c", "i=0; while [ $i -lt 25 ]; do sleep 1000 & i=$((i+1)); done; setsid sh -c 'i=0; while [ $i -lt 24 ]; do sleep 1000 & i=$((i+1)); done; wait' & wait"]
}
`)
	b.Cleanup(func() {
		cmd := exec.Command(bin, "down")
		cmd.Dir = dir
		_ = cmd.Run()
	})
	run(b, dir, "up", "-d")
	c := api.Dial(filepath.Join(dir, ".apphost", "apphostd.sock"))
	defer c.Close()
	ctx := context.Background()
	info, err := c.Info(ctx)
	if err != nil {
		b.Fatal(err)
	}
	if info.Isolation != nil {
		b.Logf("isolation: %s", info.Isolation.Mode)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		if _, err := c.Start(ctx, "fifty", 30*time.Second); err != nil {
			b.Fatal(err)
		}
		r, _ := c.Resource(ctx, "fifty")
		waitDescendants(b, r.Instances[0].PID, 50)
		b.StartTimer()
		if _, err := c.Stop(ctx, "fifty", 30*time.Second); err != nil {
			b.Fatal(err)
		}
	}
}

// waitDescendants waits until pid has n descendants (by /proc parent links).
func waitDescendants(tb testing.TB, pid, n int) {
	deadline := time.Now().Add(20 * time.Second)
	for count(pid) < n {
		if time.Now().After(deadline) {
			tb.Fatalf("only %d descendants of %d", count(pid), pid)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// count counts pid's live descendants, including those that setsid'd (a
// setsid'd shell keeps its parent until that parent exits).
func count(root int) int {
	ents, _ := os.ReadDir("/proc")
	parent := map[int]int{}
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		bs, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(bs)
		var state byte
		var ppid int
		fmt.Sscanf(s[lastParen(s)+2:], "%c %d", &state, &ppid)
		if state != 'Z' {
			parent[p] = ppid
		}
	}
	n := 0
	for p := range parent {
		for q := parent[p]; q > 1; q = parent[q] {
			if q == root {
				n++
				break
			}
		}
	}
	return n
}

func lastParen(s string) int {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == ')' {
			return i
		}
	}
	return 0
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
