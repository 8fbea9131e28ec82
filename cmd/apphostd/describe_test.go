package main

import (
	"strings"
	"testing"
	"time"

	"github.com/apphostd/apphostd/pkg/status"
)

func TestDescribeOutput(t *testing.T) {
	two := 2
	r := status.Resource{
		Name: "api", Kind: "executable", BaseKind: "executable", State: status.BackOff, Health: status.Unhealthy,
		ExitCode: &two, Reason: "restarting in 4s (crash loop)", Restarts: 3,
		StartedAt: testNow.Add(-10 * time.Minute), LastError: "exit status 2", SpecHash: "abc123",
		DependsOn: []string{"cache", "db"},
		Endpoints: []status.Endpoint{{Name: "http", URL: "http://127.0.0.1:5000", Port: 5000, TargetPort: 5100}},
		Instances: []status.Instance{{ID: "api-0", State: status.BackOff, PID: 0, Restarts: 3, ExitCode: &two, LastError: "exit status 2\nstderr: boom"}},
		Env:       map[string]string{"DB_PASSWORD": "********", "API_HTTP": "http://127.0.0.1:5000"},
		Warnings:  []string{"bind mount /etc outside the project"},
	}
	var b strings.Builder
	if err := writeDescribe(&b, r, testNow); err != nil {
		t.Fatal(err)
	}
	got := b.String()
	for _, want := range []string{
		"Name:        api\n",
		"Kind:        executable\n",
		"State:       BackOff (2)\n",
		"Health:      Unhealthy\n",
		"Reason:      restarting in 4s (crash loop)\n",
		"(10m ago)\n",
		"Restarts:    3\n",
		"Last error:  exit status 2\n",
		"Depends on:  cache, db\n",
		"Spec hash:   abc123\n",
		"\nEndpoints:\n  NAME  REPLICA  URL                    PORT  TARGET PORT\n  http  0        http://127.0.0.1:5000  5000  5100\n",
		"  api-0  0        BackOff (2)  -       -    3         -    exit status 2 stderr: boom\n",
		"\nEnvironment (secrets masked):\n  API_HTTP=http://127.0.0.1:5000\n  DB_PASSWORD=********\n",
		"\nWarnings:\n  - bind mount /etc outside the project\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("describe output lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "Waiting on") {
		t.Errorf("empty section printed:\n%s", got)
	}
}

func TestDescribeMinimal(t *testing.T) {
	var b strings.Builder
	writeDescribe(&b, status.Resource{Name: "job", Kind: "executable", State: status.NotStarted}, testNow)
	got := b.String()
	for _, absent := range []string{"Endpoints:", "Instances:", "Environment", "Warnings:", "Started:"} {
		if strings.Contains(got, absent) {
			t.Errorf("minimal describe prints %q:\n%s", absent, got)
		}
	}
	if !strings.Contains(got, "State:      NotStarted\n") {
		t.Errorf("minimal describe:\n%s", got)
	}
}
