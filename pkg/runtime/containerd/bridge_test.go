package containerd

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/apphostd/apphostd/pkg/runtime"
	"github.com/apphostd/apphostd/pkg/testutil/ociimage"
)

func published(hostPort int) func(*runtime.Spec) {
	return func(s *runtime.Spec) {
		s.Ports = []runtime.PortMapping{{Name: "http", HostIP: "127.0.0.1", HostPort: hostPort, ContainerPort: ociimage.TestServerPort, Protocol: "tcp"}}
	}
}

func TestBridgePublishedPortEnvExecAndNames(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	apiPort, webPort := freePort(t), freePort(t)

	api := e.start(e.spec("api-0", published(apiPort), func(s *runtime.Spec) { s.Env = []string{"ROLE=api"} }))
	web := e.start(e.spec("web-0", published(webPort)))
	if api.IP == "" || web.IP == "" || api.IP == web.IP {
		t.Fatalf("bridge IPs: api %q web %q", api.IP, web.IP)
	}

	// Published port on 127.0.0.1 reaches the container; env honoured.
	apiURL := "http://127.0.0.1:" + strconv.Itoa(apiPort)
	if body := get(t, apiURL+"/env"); !strings.Contains(body, `"ROLE":"api"`) {
		t.Errorf("/env = %s, want ROLE=api", body)
	}
	webURL := "http://127.0.0.1:" + strconv.Itoa(webPort)
	get(t, webURL+"/healthz")

	// Exec health check inside the container: the server binary itself
	// cannot be run twice on one port, so exec something that exits.
	code, out, err := e.d.Exec(ctx, "api-0", []string{"/server", "-this-is-an-arg"})
	_ = out
	if err != nil {
		t.Fatalf("exec: %v", err)
	}
	if code != 1 { // bind fails: port 8080 is taken by the main process
		t.Errorf("exec exit code %d (output %q), want 1", code, out)
	}
	if _, _, err := e.d.Exec(ctx, "api-0", []string{"/no/such/binary"}); err == nil {
		t.Error("exec of a missing binary: want an error")
	}

	// Container to container by resource name, both directions: api was
	// started before web existed, so its hosts file must have been updated.
	if body := get(t, webURL+"/get?url="+url.QueryEscape("http://api:8080/env")); !strings.Contains(body, `"ROLE":"api"`) {
		t.Errorf("web -> api by name = %s", body)
	}
	if body := get(t, apiURL+"/get?url="+url.QueryEscape("http://web:8080/healthz")); body != "ok" {
		t.Errorf("api -> web by name = %s", body)
	}

	// Container to a host service through host.apphost.internal. The
	// server listens on 127.0.0.1 only, as apphostd's processes do.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "host says hi to %s", r.RemoteAddr)
	})}
	go srv.Serve(l)
	defer srv.Close()
	hostURL := fmt.Sprintf("http://%s:%d/", HostAlias, l.Addr().(*net.TCPAddr).Port)
	if body := get(t, apiURL+"/get?url="+url.QueryEscape(hostURL)); !strings.Contains(body, "host says hi to "+api.IP+":") {
		t.Errorf("api -> host = %q, want a greeting to %s (the container's own address)", body, api.IP)
	}

	// DNS config: the host's, minus loopback resolvers.
	if body := get(t, apiURL+"/file?path=/etc/resolv.conf"); !strings.Contains(body, "written by apphostd") || strings.Contains(body, "nameserver 127.") {
		t.Errorf("api's /etc/resolv.conf:\n%s", body)
	}

	// Deleting web removes its name from api's hosts file.
	if err := e.d.Stop(ctx, "web-0", 0); err != nil {
		t.Fatal(err)
	}
	if err := e.d.Delete(ctx, "web-0"); err != nil {
		t.Fatal(err)
	}
	if body := get(t, apiURL+"/file?path=/etc/hosts"); strings.Contains(body, "web") || !strings.Contains(body, HostAlias) {
		t.Errorf("api's /etc/hosts after web's delete:\n%s", body)
	}
}

// TestParallelStarts starts bridged containers concurrently (CNI, hosts
// files and NAT rules under contention) and checks every one can reach
// every other by name, which needs each hosts file to have been rewritten
// with the addresses of containers that started after it.
func TestParallelStarts(t *testing.T) {
	e := newEnv(t)
	const n = 4
	ports := make([]int, n)
	errs := make(chan error, n)
	for i := range ports {
		ports[i] = freePort(t)
		go func() {
			_, err := e.d.Start(context.Background(), e.spec(fmt.Sprintf("s%d-0", i), published(ports[i])))
			errs <- err
		}()
	}
	for range ports {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	for i := range ports {
		base := "http://127.0.0.1:" + strconv.Itoa(ports[i])
		for j := range ports {
			target := url.QueryEscape(fmt.Sprintf("http://s%d:8080/healthz", j))
			if body := get(t, base+"/get?url="+target); body != "ok" {
				t.Errorf("s%d -> s%d: %q", i, j, body)
			}
		}
	}
	list, err := e.d.List(context.Background())
	if err != nil || len(list) != n {
		t.Fatalf("List: %d, %v", len(list), err)
	}
	seen := map[string]bool{}
	for _, st := range list {
		if st.State != runtime.StateRunning || st.IP == "" || seen[st.IP] {
			t.Errorf("status %+v (duplicate or missing IP?)", st)
		}
		seen[st.IP] = true
	}
}
