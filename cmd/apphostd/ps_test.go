package main

import (
	"strings"
	"testing"
	"time"

	"github.com/apphostd/apphostd/pkg/status"
)

var testNow = time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC)

func psFixture() []status.Resource {
	one := 1
	return []status.Resource{
		{Name: "api", Kind: "executable", State: status.Running, Health: status.Healthy, Restarts: 2,
			StartedAt: testNow.Add(-90 * time.Second),
			Endpoints: []status.Endpoint{{Name: "http", URL: "http://127.0.0.1:5000", Port: 5000}, {Name: "grpc", URL: "http://127.0.0.1:5001", Port: 5001}},
			Instances: []status.Instance{{ID: "api-0", State: status.Running, PID: 4242}}},
		{Name: "db", Kind: "postgres", State: status.Exited, ExitCode: &one, StartedAt: testNow.Add(-3 * time.Hour)},
		{Name: "migrate", Kind: "executable", State: status.Waiting},
		{Name: "web", Kind: "executable", State: status.Running, Health: status.Unhealthy,
			Endpoints: []status.Endpoint{{Name: "http", URL: "http://127.0.0.1:6000", Port: 6000, Replica: 0}, {Name: "http", URL: "http://127.0.0.1:6001", Port: 6001, Replica: 1}},
			Instances: []status.Instance{
				{ID: "web-0", Replica: 0, State: status.Running, Health: status.Healthy, PID: 100, StartedAt: testNow.Add(-50 * time.Hour)},
				{ID: "web-1", Replica: 1, State: status.BackOff, Health: status.Unhealthy, ExitCode: &one, Restarts: 7, StartedAt: testNow.Add(-5 * time.Second)},
			}},
	}
}

func TestPsTable(t *testing.T) {
	var b strings.Builder
	if err := writePsTable(&b, psFixture(), testNow); err != nil {
		t.Fatal(err)
	}
	want := `NAME      KIND         STATE         HEALTH      PID    ENDPOINTS                                     RESTARTS   AGE
api       executable   Running       Healthy     4242   http://127.0.0.1:5000,http://127.0.0.1:5001   2          1m
db        postgres     Exited (1)    -           -      -                                             0          3h
migrate   executable   Waiting       -           -      -                                             0          -
web[0]    executable   Running       Healthy     100    http://127.0.0.1:6000                         0          2d
web[1]    executable   BackOff (1)   Unhealthy   -      http://127.0.0.1:6001                         7          5s
`
	if got := b.String(); got != want {
		t.Fatalf("ps table:\n%s\nwant:\n%s", got, want)
	}
}

func TestPsTableEmpty(t *testing.T) {
	var b strings.Builder
	writePsTable(&b, nil, testNow)
	if got := strings.TrimSpace(b.String()); !strings.HasPrefix(got, "NAME") || strings.Contains(got, "\n") {
		t.Fatalf("empty ps = %q, want only the header", got)
	}
}

func TestAge(t *testing.T) {
	cases := map[time.Duration]string{
		0: "0s", 59 * time.Second: "59s", time.Minute: "1m", 59 * time.Minute: "59m",
		time.Hour: "1h", 47 * time.Hour: "47h", 48 * time.Hour: "2d", -time.Second: "0s",
	}
	for d, want := range cases {
		if got := age(testNow.Add(-d), testNow); got != want {
			t.Errorf("age(%s) = %q, want %q", d, got, want)
		}
	}
	if got := age(time.Time{}, testNow); got != "-" {
		t.Errorf("age(zero) = %q", got)
	}
}
