package health

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestProbeHTTPStatusRange(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok":
			w.WriteHeader(http.StatusOK)
		case "/down":
			w.WriteHeader(http.StatusServiceUnavailable)
		case "/moved":
			http.Redirect(w, r, "/ok", http.StatusFound)
		}
	}))
	defer srv.Close()
	ctx := context.Background()

	if err := ProbeHTTP(ctx, nil, srv.URL+"/ok", 0, 0); err != nil {
		t.Errorf("/ok: %v", err)
	}
	err := ProbeHTTP(ctx, nil, srv.URL+"/down", 0, 0)
	if err == nil || !strings.Contains(err.Error(), "status 503, want 200-399") {
		t.Errorf("/down: got %v, want a status 503 error", err)
	}
	// The redirect target answers 200; a 302 outside [200,299] proves the
	// redirect was judged by itself, not followed.
	err = ProbeHTTP(ctx, nil, srv.URL+"/moved", 200, 299)
	if err == nil || !strings.Contains(err.Error(), "status 302") {
		t.Errorf("/moved with 200-299: got %v, want a status 302 error", err)
	}
	if err := ProbeHTTP(ctx, nil, srv.URL+"/moved", 0, 0); err != nil {
		t.Errorf("/moved with default range: %v", err)
	}
	if err := ProbeHTTP(ctx, nil, "http://"+freeAddr(t)+"/", 0, 0); err == nil {
		t.Error("probe of a closed port succeeded")
	}
	if err := ProbeHTTP(ctx, nil, "://bad url", 0, 0); err == nil {
		t.Error("probe of a malformed URL succeeded")
	}
}

func TestProbeHTTPHonoursContext(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err := ProbeHTTP(ctx, nil, srv.URL, 0, 0)
	if err == nil || !strings.Contains(err.Error(), "deadline exceeded") {
		t.Fatalf("got %v, want a deadline error", err)
	}
}

func TestProbeTCP(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_ = c.Close()
		}
	}()
	if err := ProbeTCP(context.Background(), ln.Addr().String()); err != nil {
		t.Errorf("open port: %v", err)
	}
	addr := freeAddr(t)
	err = ProbeTCP(context.Background(), addr)
	if err == nil || !strings.Contains(err.Error(), addr) {
		t.Errorf("closed port: got %v, want an error naming %s", err, addr)
	}
}

func TestProbeExec(t *testing.T) {
	ctx := context.Background()
	if err := ProbeExec(ctx, []string{"sh", "-c", "exit 0"}, nil, ""); err != nil {
		t.Errorf("exit 0: %v", err)
	}
	err := ProbeExec(ctx, []string{"sh", "-c", "echo starting; echo not ready >&2; exit 1"}, nil, "")
	if err == nil || !strings.Contains(err.Error(), "exit status 1: not ready") {
		t.Errorf("exit 1: got %v, want exit status 1 with the last output line", err)
	}
	// env and dir are applied.
	dir := t.TempDir()
	err = ProbeExec(ctx, []string{"sh", "-c", `test "$PROBE_X" = yes && test "$(pwd)" = "$1"`, "sh", dir}, []string{"PROBE_X=yes"}, dir)
	if err != nil {
		t.Errorf("env/dir: %v", err)
	}
	if err := ProbeExec(ctx, nil, nil, ""); err == nil {
		t.Error("empty argv succeeded")
	}
	if err := ProbeExec(ctx, []string{"/nonexistent/probe"}, nil, ""); err == nil {
		t.Error("missing binary succeeded")
	}
}

func TestProbeExecKillsGroupOnTimeout(t *testing.T) {
	// The shell's background child keeps the output pipe open; without the
	// group kill and WaitDelay, Run would wait for the 30 s sleep.
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- ProbeExec(ctx, []string{"sh", "-c", "sleep 30 & sleep 30; wait"}, nil, "") }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "deadline exceeded") {
			t.Fatalf("got %v, want a deadline error", err)
		}
	case <-time.After(guard):
		t.Fatal("exec probe outlived its context")
	}
}

func TestProbeExecFunc(t *testing.T) {
	ok := func(context.Context) (int, []byte, error) { return 0, nil, nil }
	bad := func(context.Context) (int, []byte, error) { return 2, []byte("pg_isready: no response\n"), nil }
	broken := func(context.Context) (int, []byte, error) { return -1, nil, context.Canceled }
	if err := probeExecFunc(context.Background(), ok); err != nil {
		t.Errorf("exit 0: %v", err)
	}
	if err := probeExecFunc(context.Background(), bad); err == nil || !strings.Contains(err.Error(), "exit status 2: pg_isready: no response") {
		t.Errorf("exit 2: got %v", err)
	}
	if err := probeExecFunc(context.Background(), broken); err == nil {
		t.Error("exec error reported as success")
	}
}

func TestCappedKeepsTail(t *testing.T) {
	c := &capped{max: 8}
	_, _ = c.Write([]byte("0123456"))
	_, _ = c.Write([]byte("789"))
	if got := string(c.Bytes()); got != "23456789" {
		t.Errorf("after two writes: %q", got)
	}
	_, _ = c.Write([]byte("abcdefghijkl"))
	if got := string(c.Bytes()); got != "efghijkl" {
		t.Errorf("after an oversized write: %q", got)
	}
}

func TestTargetValidate(t *testing.T) {
	if err := (Target{}).Validate(); err == nil {
		t.Error("empty target validated")
	}
	if err := (Target{HTTPURL: "http://x", TCPAddr: "x:1"}).Validate(); err == nil {
		t.Error("two probes validated")
	}
	if err := (Target{TCPAddr: "127.0.0.1:1"}).Validate(); err != nil {
		t.Errorf("tcp target: %v", err)
	}
}

func TestProbeHTTPReusesConnection(t *testing.T) {
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(okHandler())
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	client := NewClient()
	defer client.CloseIdleConnections()
	ctx := context.Background()
	for range 5 {
		if err := ProbeHTTP(ctx, client, srv.URL, 0, 0); err != nil {
			t.Fatal(err)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("5 probes opened %d connections, want 1", n)
	}
	// The server dropping idle connections (as Node does after 5 s) must
	// not turn into a failed probe.
	srv.CloseClientConnections()
	if err := ProbeHTTP(ctx, client, srv.URL, 0, 0); err != nil {
		t.Errorf("probe after the server closed the idle connection: %v", err)
	}
}
