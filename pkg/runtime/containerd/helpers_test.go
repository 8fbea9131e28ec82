package containerd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apphostd/apphostd/pkg/runtime"
	"github.com/apphostd/apphostd/pkg/testutil/containerdtest"
	"github.com/apphostd/apphostd/pkg/testutil/ociimage"
	"go.uber.org/zap"
)

// env is one test's private containerd plus a driver on it.
type env struct {
	t       testing.TB
	cd      *containerdtest.Instance
	d       *Driver
	opts    Options
	logDir  string
	imgName string
	drivers []*Driver // closed after the final Cleanup
}

var netSeq atomic.Int32

// newEnv starts a private containerd, imports the test server image and
// returns a driver for a fresh project with its own bridge and subnet.
// Cleanup (registered before the daemon's stop runs) removes everything.
func newEnv(t testing.TB) *env {
	t.Helper()
	cd := containerdtest.Start(t)
	// Unique across concurrently running test binaries (pid) and within
	// one (sequence): bridge names, NAT chains and subnets must not clash.
	n := os.Getpid()*16 + int(netSeq.Add(1))
	opts := Options{
		Address:    cd.Address,
		Namespace:  "apphost-test",
		Project:    fmt.Sprintf("p%x", n),
		StateDir:   filepath.Join(cd.Dir, "st"),
		BridgeName: fmt.Sprintf("apht%x", n%(1<<32)),
		Subnet:     fmt.Sprintf("10.%d.%d.0/24", 224+(n>>8)%8, n%256),
		RuncRoot:   cd.RuncRoot,
	}
	if os.Getenv("APPHOST_TEST_DEBUG") != "" {
		opts.Logger, _ = zap.NewDevelopment()
	}
	e := &env{t: t, cd: cd, opts: opts, logDir: filepath.Join(cd.Dir, "logs")}
	e.d = e.newDriver()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		err := e.d.Cleanup(ctx)
		if errors.Is(err, runtime.ErrUnavailable) {
			// A test left the daemon down (or failed while it was):
			// bring it back so host state (bridge, NAT rules) is swept.
			e.cd.Restart(t)
			time.Sleep(time.Second) // client reconnect backoff
			err = e.d.Cleanup(ctx)
		}
		if err != nil {
			t.Errorf("cleanup: %v", err)
		}
		for _, d := range e.drivers {
			d.Close()
		}
	})
	names, err := e.d.ImportArchive(context.Background(), bytes.NewReader(ociimage.TestServer(t)))
	if err != nil {
		t.Fatalf("import: %v", err)
	}
	if len(names) != 1 || names[0] != ociimage.TestServerName {
		t.Fatalf("imported %v, want [%s]", names, ociimage.TestServerName)
	}
	e.imgName = names[0]
	return e
}

// newDriver makes another Driver on the same daemon and project, as a
// restarted apphostd would.
func (e *env) newDriver() *Driver {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d, err := New(ctx, e.opts)
	if err != nil {
		e.t.Fatalf("New: %v", err)
	}
	e.drivers = append(e.drivers, d)
	return d
}

func (e *env) spec(id string, mods ...func(*runtime.Spec)) runtime.Spec {
	s := runtime.Spec{
		ID:       id,
		Resource: strings.TrimSuffix(id, "-0"),
		Project:  e.opts.Project,
		Image:    e.imgName,
		Pull:     PullNever,
		LogPath:  filepath.Join(e.logDir, id+".log"),
		Labels:   map[string]string{LabelSpecHash: "h-" + id},
	}
	for _, m := range mods {
		m(&s)
	}
	return s
}

func (e *env) start(s runtime.Spec) runtime.Status {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	st, err := e.d.Start(ctx, s)
	if err != nil {
		e.t.Fatalf("start %s: %v", s.ID, err)
	}
	return st
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

var httpClient = &http.Client{Timeout: 5 * time.Second}

// get polls url until it answers 200 or the deadline passes; the body of
// the first 200 is returned. Polling is for readiness only, never an
// assertion on speed.
func get(t testing.TB, url string) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var last error
	for time.Now().Before(deadline) {
		resp, err := httpClient.Get(url)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return string(b)
			}
			last = fmt.Errorf("status %d: %s", resp.StatusCode, b)
		} else {
			last = err
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("GET %s: %v", url, last)
	return ""
}

func readFileEventually(t testing.TB, path, want string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, _ := os.ReadFile(path)
		if strings.Contains(string(b), want) || time.Now().After(deadline) {
			return string(b)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func itoa(n int) string { return fmt.Sprint(n) }
