package bench

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apphostd/apphostd/pkg/testutil/containerdtest"
	"github.com/apphostd/apphostd/pkg/testutil/ociimage"
)

// containers10 is W5's project: 10 containers of the test image on the
// project's CNI bridge, each with a published port and an HTTP health check.
func containers10() string {
	var b strings.Builder
	for i := 0; i < 10; i++ {
		fmt.Fprintf(&b, `container "c%d" {
  image = %q
  pull  = "never"
  endpoint "http" { target_port = 8080 }
  health {
    http { path = "/healthz" }
  }
}
`, i, ociimage.TestServerName)
	}
	return b.String()
}

func freePort(tb testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// waitHealthy polls each URL every 10 ms until it answers 200.
func waitHealthy(tb testing.TB, urls []string) {
	c := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	var wg sync.WaitGroup
	deadline := time.Now().Add(60 * time.Second)
	for _, u := range urls {
		wg.Add(1)
		go func(u string) {
			defer wg.Done()
			for time.Now().Before(deadline) {
				if resp, err := c.Get(u); err == nil {
					resp.Body.Close()
					if resp.StatusCode == 200 {
						return
					}
				}
				time.Sleep(10 * time.Millisecond)
			}
			tb.Errorf("%s never healthy", u)
		}(u)
	}
	wg.Wait()
}

// BenchmarkW5Containers10 alternates, pair by pair: `ctr run -d --net-host`
// of 10 containers in parallel polled until all answer /healthz (the
// issue's comparison), and `apphostd up --wait` of the same 10 on the CNI
// bridge with published ports and health checks. It reports the median
// per-pair ratio ours/ctr.
func BenchmarkW5Containers10(b *testing.B) {
	ctd := containerdtest.Start(b)
	tar := filepath.Join(b.TempDir(), "img.tar")
	if err := os.WriteFile(tar, ociimage.TestServer(b), 0o600); err != nil {
		b.Fatal(err)
	}
	b.Setenv("APPHOST_CONTAINERD_ADDRESS", ctd.Address)
	b.Setenv("APPHOST_RUNC_ROOT", ctd.RuncRoot)
	dir := b.TempDir()
	writeAtomic(b, dir, containers10())
	run(b, dir, "image", "import", tar)
	ctr := func(args ...string) {
		out, err := exec.Command("ctr", append([]string{"--address", ctd.Address, "--namespace", "apphost"}, args...)...).CombinedOutput()
		if err != nil {
			b.Fatalf("ctr %v: %v\n%s", args, err, out)
		}
	}
	var ratios []float64
	var ours, theirs []time.Duration
	for i := 0; i < b.N; i++ {
		// ctr run -d, in parallel, host network, each on its own port.
		ports := make([]int, 10)
		urls := make([]string, 10)
		for k := range ports {
			ports[k] = freePort(b)
			urls[k] = fmt.Sprintf("http://127.0.0.1:%d/healthz", ports[k])
		}
		t0 := time.Now()
		var wg sync.WaitGroup
		for k := range ports {
			wg.Add(1)
			go func(k int) {
				defer wg.Done()
				ctr("run", "-d", "--net-host", "--runc-root", ctd.RuncRoot, "--env", fmt.Sprintf("PORT=%d", ports[k]), ociimage.TestServerName, fmt.Sprintf("ctr%d", k))
			}(k)
		}
		wg.Wait()
		waitHealthy(b, urls)
		c := time.Since(t0)
		b.StopTimer()
		for k := range ports {
			ctr("task", "delete", "--force", fmt.Sprintf("ctr%d", k))
			ctr("container", "delete", fmt.Sprintf("ctr%d", k))
		}
		b.StartTimer()

		t1 := time.Now()
		run(b, dir, "up", "--wait", "--timeout", "120s")
		o := time.Since(t1)
		b.StopTimer()
		run(b, dir, "down")
		b.StartTimer()
		ours, theirs = append(ours, o), append(theirs, c)
		ratios = append(ratios, float64(o)/float64(c))
	}
	b.ReportMetric(median(ratios), "ratio")
	b.ReportMetric(float64(medianDur(ours).Milliseconds()), "ours-ms")
	b.ReportMetric(float64(medianDur(theirs).Milliseconds()), "ctr-ms")
}
