package containerd

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apphostd/apphostd/pkg/runtime"
)

// waitHealthy polls url every 5 ms until it answers 200 (bounded).
func waitHealthy(client *http.Client, url string) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := client.Get(url)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not healthy: %v", url, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// BenchmarkStart10 is W5: 10 containers of the locally built image started
// in parallel, timed until every one answers /healthz. Probing starts only
// once Start has returned (the task runs, so the veth exists).
//
//	bridge: apphost driver, CNI bridge, each with a published port on 127.0.0.1
//	host:   apphost driver, host network
//	ctr:    `ctr run -d --net-host` against the same private containerd
func BenchmarkStart10(b *testing.B) {
	e := newEnv(b)
	ctx := context.Background()
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	const n = 10

	run := func(b *testing.B, start func(i, port int) error, teardown func(i int)) {
		for it := 0; it < b.N; it++ {
			ports := make([]int, n)
			for i := range ports {
				ports[i] = freePort(b)
			}
			b.StartTimer()
			var wg sync.WaitGroup
			errs := make([]error, n)
			for i := 0; i < n; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if err := start(i, ports[i]); err != nil {
						errs[i] = err
						return
					}
					errs[i] = waitHealthy(client, "http://127.0.0.1:"+strconv.Itoa(ports[i])+"/healthz")
				}()
			}
			wg.Wait()
			b.StopTimer()
			for i := 0; i < n; i++ {
				teardown(i)
			}
			for _, err := range errs {
				if err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	teardownWith := func(d *Driver) func(i int) {
		return func(i int) {
			id := "svc" + strconv.Itoa(i) + "-0"
			if err := d.Stop(ctx, id, 5*time.Second); err != nil {
				b.Fatal(err)
			}
			if err := d.Delete(ctx, id); err != nil {
				b.Fatal(err)
			}
		}
	}
	driverTeardown := teardownWith(e.d)

	b.Run("bridge", func(b *testing.B) {
		b.StopTimer()
		run(b, func(i, port int) error {
			_, err := e.d.Start(ctx, e.spec("svc"+strconv.Itoa(i)+"-0", published(port)))
			return err
		}, driverTeardown)
	})
	// The same with the CNI portmap plugin (and ipMasq) doing the NAT, on
	// a second project and bridge of the same daemon.
	alt := e.opts
	alt.Project += "pm"
	alt.BridgeName += "p"
	alt.Subnet = "10.232.0.0/24"
	alt.StateDir += "pm"
	alt.PortmapPlugin = true
	pm, err := New(ctx, alt)
	if err != nil {
		b.Fatal(err)
	}
	defer func() {
		if err := pm.Cleanup(ctx); err != nil {
			b.Error(err)
		}
		pm.Close()
	}()
	b.Run("bridge-portmap", func(b *testing.B) {
		b.StopTimer()
		run(b, func(i, port int) error {
			_, err := pm.Start(ctx, e.spec("svc"+strconv.Itoa(i)+"-0", published(port)))
			return err
		}, teardownWith(pm))
	})
	b.Run("host", func(b *testing.B) {
		b.StopTimer()
		run(b, func(i, port int) error {
			_, err := e.d.Start(ctx, e.spec("svc"+strconv.Itoa(i)+"-0", func(s *runtime.Spec) {
				s.Network = "host"
				s.Env = []string{"PORT=" + strconv.Itoa(port)}
			}))
			return err
		}, driverTeardown)
	})
	ctr, err := exec.LookPath("ctr")
	if err != nil {
		b.Log("ctr not installed; skipping the ctr comparison")
		return
	}
	ctrCmd := func(args ...string) error {
		out, err := exec.Command(ctr, append([]string{"--address", e.cd.Address, "--namespace", e.opts.Namespace}, args...)...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("ctr %v: %v: %s", args, err, out)
		}
		return nil
	}
	b.Run("ctr", func(b *testing.B) {
		b.StopTimer()
		run(b, func(i, port int) error {
			return ctrCmd("run", "-d", "--net-host", "--runc-root", e.cd.RuncRoot, "--snapshotter", e.d.Snapshotter(),
				"--env", "PORT="+strconv.Itoa(port), e.imgName, "ctr"+strconv.Itoa(i))
		}, func(i int) {
			id := "ctr" + strconv.Itoa(i)
			// Untimed teardown: force-delete kills and waits.
			if err := ctrCmd("task", "delete", "--force", id); err != nil {
				b.Fatal(err)
			}
			if err := ctrCmd("container", "delete", id); err != nil {
				b.Fatal(err)
			}
		})
	})
}

// BenchmarkPublishedPort is W6: 64 KiB GETs over 16 keep-alive
// connections, to the container's bridge address directly and through the
// published port on 127.0.0.1 (DNAT in the kernel). Each iteration runs a
// round of 1000 requests on each path back to back (order alternating), so
// machine noise hits both alike; reported are each path's overall req/s
// and the median over iterations of published/direct (1.0 = no cost; W6
// wants >= 0.9).
func BenchmarkPublishedPort(b *testing.B) {
	e := newEnv(b)
	port := freePort(b)
	st := e.start(e.spec("srv-0", published(port)))
	get(b, "http://127.0.0.1:"+strconv.Itoa(port)+"/healthz")
	type path struct {
		url     string
		client  *http.Client
		elapsed time.Duration
		n       int
	}
	mk := func(base string) *path {
		tr := &http.Transport{MaxIdleConnsPerHost: 16, MaxConnsPerHost: 16, DisableCompression: true}
		b.Cleanup(tr.CloseIdleConnections)
		return &path{url: base + "/bytes?n=65536", client: &http.Client{Transport: tr, Timeout: 10 * time.Second}}
	}
	direct := mk("http://" + st.IP + ":8080")
	pub := mk("http://127.0.0.1:" + strconv.Itoa(port))
	const perRound = 1000
	round := func(p *path) {
		var next, failed atomic.Int64
		var wg sync.WaitGroup
		t0 := time.Now()
		for c := 0; c < 16; c++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for next.Add(1) <= perRound {
					resp, err := p.client.Get(p.url)
					if err != nil {
						failed.Add(1)
						continue
					}
					if n, _ := io.Copy(io.Discard, resp.Body); n != 65536 {
						failed.Add(1)
					}
					resp.Body.Close()
				}
			}()
		}
		wg.Wait()
		p.elapsed += time.Since(t0)
		p.n += perRound
		if f := failed.Load(); f > 0 {
			b.Fatalf("%s: %d of %d requests failed", p.url, f, perRound)
		}
	}
	round(direct) // warm up connections on both paths
	round(pub)
	direct.elapsed, direct.n, pub.elapsed, pub.n = 0, 0, 0, 0
	b.SetBytes(2 * perRound * 65536)
	var ratios []float64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		d0, p0 := direct.elapsed, pub.elapsed
		if i%2 == 0 {
			round(direct)
			round(pub)
		} else {
			round(pub)
			round(direct)
		}
		ratios = append(ratios, (direct.elapsed-d0).Seconds()/(pub.elapsed-p0).Seconds())
	}
	b.StopTimer()
	sort.Float64s(ratios)
	dr := float64(direct.n) / direct.elapsed.Seconds()
	pr := float64(pub.n) / pub.elapsed.Seconds()
	b.ReportMetric(dr, "direct-req/s")
	b.ReportMetric(pr, "published-req/s")
	b.ReportMetric(ratios[len(ratios)/2], "published/direct")
}
