package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apphostd/apphostd/pkg/status"
	"github.com/apphostd/apphostd/pkg/testutil/containerdtest"
	"github.com/apphostd/apphostd/pkg/testutil/ociimage"
)

// containerProject mixes containers (the test server image, imported into
// a private containerd) with a host process, wired every way discovery
// supports.
const containerProject = `
volume "data" {}

container "web" {
  image = "apphost.test/testserver:latest"
  pull  = "never"
  endpoint "http" { target_port = 8080 }
  mount {
    source = volume.data
    target = "/data"
  }
  health {
    http { path = "/healthz" }
  }
}

executable "api" {
  command    = "SERVER"
  endpoint "http" { env = "PORT" }
  references = [container.web]
  wait_for   = [container.web]
  health {
    http { path = "/healthz" }
  }
}

container "client" {
  image      = "apphost.test/testserver:latest"
  pull       = "never"
  endpoint "http" { target_port = 8080 }
  env        = { MESSAGE = "MSG" }
  references = [executable.api, container.web]
  wait_for   = [executable.api]
  health {
    http { path = "/healthz" }
  }
}
`

func get(t *testing.T, u string) string {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", u, resp.StatusCode, b)
	}
	return string(b)
}

func ctrList(t *testing.T, addr string, args ...string) []string {
	t.Helper()
	out, err := exec.Command("ctr", append([]string{"--address", addr, "--namespace", "apphost"}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("ctr %v: %v\n%s", args, err, out)
	}
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	return lines
}

func TestContainersThroughTheDaemon(t *testing.T) {
	ctd := containerdtest.Start(t)
	t.Setenv("APPHOST_CONTAINERD_ADDRESS", ctd.Address)
	t.Setenv("APPHOST_RUNC_ROOT", ctd.RuncRoot)
	tar := filepath.Join(t.TempDir(), "testserver.tar")
	if err := os.WriteFile(tar, ociimage.TestServer(t), 0o600); err != nil {
		t.Fatal(err)
	}
	p := newProject(t, strings.Replace(containerProject, "MSG", "v1", 1))
	if out := p.mustRun("image", "import", tar); !strings.Contains(out, ociimage.TestServerName) {
		t.Fatalf("image import printed %q", out)
	}
	p.mustRun("up", "--wait", "--timeout", "120s")
	rs := p.ps()
	for _, n := range []string{"web", "api", "client"} {
		if !rs[n].Ready() {
			t.Fatalf("%s not ready: %+v", n, rs[n])
		}
	}
	webURL, apiURL, clientURL := rs["web"].Endpoints[0].URL, rs["api"].Endpoints[0].URL, rs["client"].Endpoints[0].URL

	// Host → container through the published port.
	if got := get(t, webURL+"/healthz"); !strings.Contains(got, "ok") {
		t.Fatalf("web /healthz = %q", got)
	}
	// Process → container: api got web's published URL.
	var apiEnv map[string]string
	_ = json.Unmarshal([]byte(get(t, apiURL+"/env")), &apiEnv)
	if apiEnv["WEB_HTTP"] != webURL {
		t.Fatalf("api WEB_HTTP = %q, want %q", apiEnv["WEB_HTTP"], webURL)
	}
	get(t, apiURL+"/get?url="+url.QueryEscape(apiEnv["WEB_HTTP"]+"/healthz"))
	// Container → host process through host.apphost.internal, and
	// container → container by name.
	var clientEnv map[string]string
	_ = json.Unmarshal([]byte(get(t, clientURL+"/env")), &clientEnv)
	if !strings.HasPrefix(clientEnv["API_HTTP"], "http://host.apphost.internal:") || clientEnv["WEB_HTTP"] != "http://web:8080" {
		t.Fatalf("client env API_HTTP=%q WEB_HTTP=%q", clientEnv["API_HTTP"], clientEnv["WEB_HTTP"])
	}
	get(t, clientURL+"/get?url="+url.QueryEscape(clientEnv["API_HTTP"]+"/healthz"))
	get(t, clientURL+"/get?url="+url.QueryEscape(clientEnv["WEB_HTTP"]+"/healthz"))

	// Volume data survives a restart of the container.
	get(t, webURL+"/write?path=/data/kept&data=hello")
	p.mustRun("restart", "web", "--timeout", "60s")
	p.eventually("web ready again", 60*time.Second, func() bool { return p.ps()["web"].Ready() })
	webURL = p.ps()["web"].Endpoints[0].URL
	if got := get(t, webURL+"/file?path=/data/kept"); got != "hello" {
		t.Fatalf("volume data after restart = %q", got)
	}
	if b, err := os.ReadFile(filepath.Join(p.dir, ".apphost", "volumes", "data", "kept")); err != nil || string(b) != "hello" {
		t.Fatalf("volume on the host: %q %v", b, err)
	}
	// Logs of a container reach the API.
	p.eventually("client logs", 20*time.Second, func() bool {
		out, _ := p.run("logs", "--tail", "50", "client")
		return strings.Contains(out, "listening on 0.0.0.0:8080")
	})

	// Hot reload of one container's env restarts only it.
	before := p.ps()
	p.write(strings.Replace(containerProject, "MSG", "v2", 1))
	p.eventually("client restarted", 60*time.Second, func() bool {
		r := p.ps()["client"]
		return r.Ready() && r.Instances[0].PID != before["client"].Instances[0].PID
	})
	after := p.ps()
	for _, n := range []string{"web", "api"} {
		if after[n].Instances[0].PID != before[n].Instances[0].PID {
			t.Errorf("%s restarted by an edit to client only", n)
		}
	}
	_ = json.Unmarshal([]byte(get(t, after["client"].Endpoints[0].URL+"/env")), &clientEnv)
	if clientEnv["MESSAGE"] != "v2" {
		t.Fatalf("client MESSAGE = %q after reload", clientEnv["MESSAGE"])
	}

	// down leaves no container, task, snapshot, network namespace or bridge.
	p.mustRun("down")
	if l := ctrList(t, ctd.Address, "containers", "ls", "-q"); len(l) != 0 {
		t.Errorf("containers left: %v", l)
	}
	if l := ctrList(t, ctd.Address, "tasks", "ls"); len(l) > 1 { // header line
		t.Errorf("tasks left: %v", l)
	}
	for _, s := range ctrList(t, ctd.Address, "snapshots", "ls") {
		if strings.Contains(s, "Active") {
			t.Errorf("active snapshot left: %s", s)
		}
	}
	if ents, _ := os.ReadDir(filepath.Join(p.dir, ".apphost", "containerd", "netns")); len(ents) != 0 {
		t.Errorf("network namespaces left: %v", ents)
	}
	if out, _ := exec.Command("ip", "-o", "link", "show", "type", "bridge").CombinedOutput(); strings.Contains(string(out), "aph") {
		t.Errorf("bridge left:\n%s", out)
	}
	_ = status.Running
}
