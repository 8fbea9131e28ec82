package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apphostd/apphostd/pkg/status"
)

// secretsProject uses two secret parameters, one from the daemon's
// environment and one generated, in every way a value can travel:
// resource env, a template, consumer injection (references), output a
// resource prints, the output of a failing exec health probe (which
// reaches a dependent's wait reason), and a command path that cannot be
// started (which reaches the failure reason).
const secretsProject = `
parameter "api_key" {
  env    = "APPHOSTD_E2E_API_KEY"
  secret = true
}
parameter "db_password" {
  secret = true
  generate {
    length  = 32
    special = false
  }
}
executable "db" {
  command = "SERVER"
  endpoint "http" { env = "PORT" }
  env = {
    MARK        = "TOKEN"
    DB_PASSWORD = parameter.db_password.value
    MESSAGE     = "password=${parameter.db_password.value} key=${parameter.api_key.value}"
  }
  health {
    http { path = "/healthz" }
  }
}
executable "consumer" {
  command    = "SERVER"
  endpoint "http" { env = "PORT" }
  env        = { MARK = "TOKEN" }
  references = [parameter.db_password, parameter.api_key, executable.db]
  wait_for   = [executable.db]
}
executable "checker" {
  command = "sleep"
  args    = ["300"]
  env     = { MARK = "TOKEN", PW = parameter.db_password.value, KEY = parameter.api_key.value }
  health {
    exec { command = ["sh", "-c", "echo \"login failed: pw=$PW key=$KEY\"; exit 1"] }
    interval = "200ms"
    retries  = 1
  }
}
executable "waiter" {
  command  = "SERVER"
  endpoint "http" { env = "PORT" }
  env      = { MARK = "TOKEN" }
  wait_for = [executable.checker]
}
executable "badcmd" {
  command = "/nonexistent/${parameter.db_password.value}/${parameter.api_key.value}"
  env     = { MARK = "TOKEN" }
}
`

// TestSecretsNeverLeak declares secret parameters (from the environment
// and generated), makes them travel every way a value can, then collects
// every output a user or another process can see — every API route but
// /v1/env, the CLI's ps, describe, graph, logs and up --wait, daemon.log,
// daemon.out, and the command lines of all processes (what `ps` shows) —
// and fails if a secret appears in any of them. Positive controls show
// the values are real: /v1/env and the resource's own environment carry
// them.
func TestSecretsNeverLeak(t *testing.T) {
	tok := token(t)
	apiKey := fmt.Sprintf("envsecret%dX", time.Now().UnixNano())
	p := newProject(t, strings.ReplaceAll(secretsProject, "TOKEN", tok))
	env := []string{"APPHOSTD_E2E_API_KEY=" + apiKey}
	upOut, _ := p.runWith("", env, "up", "--wait", "--timeout", "20s", "--debug")

	// The generated secret, from where it is persisted.
	b, err := os.ReadFile(filepath.Join(p.stateDir(), "secrets.json"))
	if err != nil {
		t.Fatal(err)
	}
	var gen map[string]string
	if err := json.Unmarshal(b, &gen); err != nil {
		t.Fatal(err)
	}
	password := gen["db_password"]
	if len(password) != 32 {
		t.Fatalf("generated secret %q, want 32 characters (secrets.json: %s)", password, b)
	}
	secrets := map[string]string{"generated": password, "env-sourced": apiKey}

	// Let every path carry the values: db printed them, checker's probe
	// failed with them, waiter waits on checker, badcmd failed to start.
	p.eventually("the secrets travelled everywhere", 30*time.Second, func() bool {
		rs := p.ps()
		return rs["db"].Ready() && rs["consumer"].State == status.Running &&
			rs["checker"].Health == status.Unhealthy && strings.Contains(rs["waiter"].Reason, "login failed") &&
			rs["badcmd"].State == status.FailedToStart
	})

	// Positive controls: the values are real and reached the processes.
	var envResp map[string]string
	if code := p.api("GET", "/v1/env?resource=db_password&resource=api_key", &envResp); code != http.StatusOK {
		t.Fatalf("GET /v1/env: %d", code)
	}
	if envResp["DB_PASSWORD"] != password || envResp["API_KEY"] != apiKey {
		t.Fatalf("/v1/env lacks the real values (it is the one route meant to carry them): %v", envResp)
	}
	procEnv := readEnviron(p.pid("db"))
	if procEnv["DB_PASSWORD"] != password || !strings.Contains(procEnv["MESSAGE"], apiKey) {
		t.Fatalf("db's environment lacks the secrets: %v", procEnv)
	}
	raw, _ := os.ReadFile(filepath.Join(p.stateDir(), "logs", "db.log"))
	if !strings.Contains(string(raw), password) {
		t.Fatalf("db did not print its password (the log file, 0600, holds raw output): %q", raw)
	}

	outputs := map[string]string{"up --wait": upOut}
	get := func(path string) string {
		c := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", p.socket())
		}}, Timeout: 10 * time.Second}
		resp, err := c.Get("http://apphostd" + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode >= 500 {
			t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
		}
		return string(b)
	}
	names := []string{"api_key", "db_password", "db", "consumer", "checker", "waiter", "badcmd"}
	for _, path := range []string{"/v1/info", "/v1/resources", "/v1/config", "/v1/graph", "/v1/graph?format=dot",
		"/v1/graph?format=mermaid", "/v1/logs?tail=all"} {
		outputs["GET "+path] = get(path)
	}
	for _, n := range names {
		outputs["GET /v1/resources/"+n] = get("/v1/resources/" + n)
		outputs["describe "+n], _ = p.runWith("", nil, "describe", n)
		outputs["logs "+n], _ = p.runWith("", nil, "logs", n)
	}
	outputs["GET /v1/events"] = readEvents(t, p, 2*time.Second)
	outputs["ps"], _ = p.runWith("", nil, "ps")
	outputs["ps --json"], _ = p.runWith("", nil, "ps", "--json")
	for _, f := range []string{"dot", "mermaid", "json"} {
		outputs["graph --format "+f], _ = p.runWith("", nil, "graph", "--format", f)
	}
	// A restart and a reload produce more events and log lines.
	outputs["restart db"], _ = p.runWith("", nil, "restart", "db")
	outputs["reload"], _ = p.runWith("", nil, "reload")
	for _, f := range []string{"daemon.log", "daemon.out"} {
		b, _ := os.ReadFile(filepath.Join(p.stateDir(), f))
		outputs[f] = string(b)
	}
	if !strings.Contains(outputs["daemon.log"], `"level":"debug"`) {
		t.Error("daemon.log has no debug lines; the daemon did not run with --debug")
	}
	outputs["command lines (ps)"] = allCmdlines()

	checked := 0
	for what, out := range outputs {
		if out == "" && what != "daemon.out" && !strings.HasPrefix(what, "logs ") {
			t.Errorf("%s: empty output, nothing checked", what)
		}
		for kind, sec := range secrets {
			checked++
			if i := strings.Index(out, sec); i >= 0 {
				lo, hi := max(0, i-120), min(len(out), i+len(sec)+40)
				t.Errorf("%s secret appears in %s: ...%s...", kind, what, out[lo:hi])
			}
		}
	}
	if !strings.Contains(outputs["logs db"], "password=") {
		t.Errorf("`logs db` lacks db's output: %q", outputs["logs db"])
	}
	// The masking is what hid them: the masked forms are there.
	for what, masked := range map[string]string{
		"GET /v1/resources/db":          `"DB_PASSWORD":"********"`,
		"GET /v1/logs?tail=all":         "password=******** key=********",
		"GET /v1/resources":             "login failed: pw=******** key=********",
		"ps --json":                     "/nonexistent/********/********",
		"daemon.log":                    "login failed: pw=******** key=********",
		"describe badcmd":               "/nonexistent/********/********",
		"GET /v1/resources/db_password": "********",
	} {
		if !strings.Contains(outputs[what], masked) {
			t.Errorf("%s lacks the masked form %q: the leak path was not exercised\n%s", what, masked, trunc(outputs[what], 2000))
		}
	}
	t.Logf("checked %d outputs for 2 secrets (%d checks)", len(outputs), checked)
	p.mustRun("down")
	assertNoMarked(t, "MARK", tok)
}

// readEvents reads the event stream for d and returns what arrived.
func readEvents(t *testing.T, p *project, d time.Duration) string {
	t.Helper()
	c, err := net.Dial("unix", p.socket())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(d))
	fmt.Fprintf(c, "GET /v1/events HTTP/1.1\r\nHost: apphostd\r\n\r\n")
	var sb strings.Builder
	sc := bufio.NewScanner(c)
	sc.Buffer(make([]byte, 1<<20), 4<<20)
	for sc.Scan() {
		sb.WriteString(sc.Text())
		sb.WriteByte('\n')
	}
	if !strings.Contains(sb.String(), `"type":"config"`) {
		t.Fatalf("no event snapshot arrived: %q", sb.String())
	}
	return sb.String()
}

// allCmdlines returns the command line of every process, as ps shows them.
func allCmdlines() string {
	ents, _ := os.ReadDir("/proc")
	var sb strings.Builder
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || len(b) == 0 {
			continue
		}
		sb.WriteString(strings.ReplaceAll(string(b), "\x00", " "))
		sb.WriteByte('\n')
	}
	return sb.String()
}
