package api

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apphostd/apphostd/pkg/status"
	"go.uber.org/zap"
)

// harness is a Server on a real unix socket in a temp dir, with a Client.
type harness struct {
	sock string
	srv  *Server
	c    *Client
	f    *fakeBackend
	raw  *http.Client
}

func startServer(t *testing.T, f *fakeBackend, opts ...Option) *harness {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "apphostd.sock")
	ln, err := Listen(sock)
	if err != nil {
		t.Fatalf("Listen: %v", err)
	}
	srv := NewServer(f, zap.NewNop(), opts...)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	h := &harness{sock: sock, srv: srv, c: Dial(sock), f: f, raw: rawClient(sock)}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-done; err != nil {
			t.Errorf("Serve returned %v", err)
		}
		h.c.Close()
		h.raw.CloseIdleConnections()
	})
	return h
}

// rawClient is a plain http.Client over the socket, to see statuses and
// bodies exactly as the server wrote them.
func rawClient(sock string) *http.Client {
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		},
	}}
}

type rawResp struct {
	status int
	header http.Header
	body   string
}

func (h *harness) do(t *testing.T, method, path string, body io.Reader) rawResp {
	t.Helper()
	req, err := http.NewRequest(method, "http://apphostd"+path, body)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := h.raw.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return rawResp{resp.StatusCode, resp.Header, string(b)}
}

func TestRoutesHappyPath(t *testing.T) {
	h := startServer(t, newFake())
	cases := []struct {
		method, path string
		status       int
		ctype        string
		contains     []string
	}{
		{"GET", "/v1/info", 200, "application/json", []string{`"version":"1.2.3"`, `"pid":99`}},
		{"GET", "/v1/resources", 200, "application/json", []string{`"name":"api"`, `"name":"db"`, `"pid":4242`}},
		{"GET", "/v1/resources/api", 200, "application/json", []string{`"name":"api"`, `"DB_PASSWORD":"********"`, `"depends_on":["db"]`}},
		{"GET", "/v1/config", 200, "application/json", []string{`"generation":1`, `"ok":true`}},
		{"GET", "/v1/graph", 200, "application/json", []string{`"edges"`}},
		{"GET", "/v1/graph?format=dot", 200, "text/vnd.graphviz", []string{"digraph"}},
		{"GET", "/v1/graph?format=mermaid", 200, "text/plain", []string{"graph TD"}},
		{"GET", "/v1/env?resource=db", 200, "application/json", []string{`"API_HTTP":"http://127.0.0.1:5000"`}},
		{"GET", "/v1/logs?resource=db&tail=1", 200, "application/x-ndjson", []string{`"text":"db line 2"`}},
		{"POST", "/v1/resources/db/start?timeout=5s", 200, "application/json", []string{`"name":"db"`, `"state":"Running"`}},
		{"POST", "/v1/resources/db/stop", 200, "application/json", []string{`"state":"Exited"`}},
		{"POST", "/v1/resources/db/restart", 200, "application/json", []string{`"state":"Running"`}},
		{"POST", "/v1/reload", 200, "application/json", []string{`"generation":2`}},
		{"POST", "/v1/shutdown", 202, "application/json", []string{`"shutting_down"`}},
	}
	for _, c := range cases {
		r := h.do(t, c.method, c.path, nil)
		if r.status != c.status {
			t.Errorf("%s %s: status %d, want %d; body %s", c.method, c.path, r.status, c.status, r.body)
			continue
		}
		if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, c.ctype) {
			t.Errorf("%s %s: content type %q, want %q", c.method, c.path, ct, c.ctype)
		}
		for _, s := range c.contains {
			if !strings.Contains(r.body, s) {
				t.Errorf("%s %s: body lacks %s:\n%s", c.method, c.path, s, r.body)
			}
		}
	}
	want := []string{"start db", "stop db", "restart db", "reload", "shutdown"}
	if got := h.f.Calls(); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("backend calls = %q, want %q", got, want)
	}
	if n := len(h.f.shutdown); n != 1 {
		t.Errorf("shutdown signalled %d times", n)
	}
}

// The typed client mirrors the routes.
func TestClientMethods(t *testing.T) {
	h := startServer(t, newFake())
	ctx := context.Background()
	info, err := h.c.Info(ctx)
	if err != nil || info.PID != 99 || info.Version != "1.2.3" {
		t.Fatalf("Info = %+v, %v", info, err)
	}
	rs, err := h.c.Resources(ctx)
	if err != nil || len(rs) != 2 || rs[0].Name != "api" || rs[1].Name != "db" || rs[0].Env != nil {
		t.Fatalf("Resources = %+v, %v", rs, err)
	}
	r, err := h.c.Resource(ctx, "api")
	if err != nil || r.Env["DB_PASSWORD"] != "********" {
		t.Fatalf("Resource = %+v, %v", r, err)
	}
	if _, err := h.c.Resource(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Resource(nope) err = %v, want ErrNotFound", err)
	}
	var ae *APIError
	if _, err := h.c.Resource(ctx, "nope"); !errors.As(err, &ae) || ae.Status != 404 || ae.Code != "not_found" || !strings.Contains(ae.Message, `"nope"`) {
		t.Fatalf("Resource(nope) err = %#v", err)
	}
	r, err = h.c.Stop(ctx, "api", 3*time.Second)
	if err != nil || r.State != status.Exited {
		t.Fatalf("Stop = %+v, %v", r, err)
	}
	r, err = h.c.Start(ctx, "api", 0)
	if err != nil || r.State != status.Running {
		t.Fatalf("Start = %+v, %v", r, err)
	}
	if r, err = h.c.Restart(ctx, "api", time.Second); err != nil || r.State != status.Running {
		t.Fatalf("Restart = %+v, %v", r, err)
	}
	cs, err := h.c.Reload(ctx)
	if err != nil || cs.Generation != 2 {
		t.Fatalf("Reload = %+v, %v", cs, err)
	}
	cfg, err := h.c.Config(ctx)
	if err != nil || cfg.Generation != 1 || !cfg.OK {
		t.Fatalf("Config = %+v, %v", cfg, err)
	}
	g, ct, err := h.c.Graph(ctx, "dot")
	if err != nil || !strings.Contains(string(g), "api -> db") || !strings.HasPrefix(ct, "text/vnd.graphviz") {
		t.Fatalf("Graph = %q %q %v", g, ct, err)
	}
	if _, _, err := h.c.Graph(ctx, "svg"); !errors.Is(err, ErrBadRequest) {
		t.Fatalf("Graph(svg) err = %v", err)
	}
	env, err := h.c.Env(ctx, "db")
	if err != nil || !strings.Contains(env["ConnectionStrings__db"], testSecret) {
		t.Fatalf("Env = %v, %v", env, err)
	}
	if _, err := h.c.Env(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Env(nope) err = %v", err)
	}
	if err := h.c.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	select {
	case <-h.f.shutdown:
	case <-time.After(5 * time.Second):
		t.Fatal("backend Shutdown not called")
	}
}

func TestReloadInvalidConfig(t *testing.T) {
	f := newFake()
	f.reload = status.ConfigStatus{File: "/p/apphost.hcl", Generation: 1, OK: false,
		Diagnostics: []status.Diagnostic{{Severity: "error", Summary: "Unsupported argument", File: "/p/apphost.hcl", Line: 3, Column: 5}},
		Rendered:    "Error: Unsupported argument\n  on apphost.hcl line 3",
	}
	h := startServer(t, f)
	r := h.do(t, "POST", "/v1/reload", nil)
	if r.status != 422 || !strings.Contains(r.body, `"line":3`) || strings.Contains(r.body, `"error":{`) {
		t.Fatalf("raw reload = %d %s", r.status, r.body)
	}
	cs, err := h.c.Reload(context.Background())
	if !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("Reload err = %v, want ErrInvalidConfig", err)
	}
	if len(cs.Diagnostics) != 1 || cs.Diagnostics[0].Column != 5 || cs.Rendered == "" {
		t.Fatalf("Reload status = %+v", cs)
	}
}

func TestEventsSnapshotThenLive(t *testing.T) {
	h := startServer(t, newFake())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	got := make(chan status.Event, 64)
	done := make(chan error, 1)
	go func() {
		done <- h.c.Events(ctx, func(e status.Event) error { got <- e; return nil })
	}()
	next := func() status.Event {
		t.Helper()
		select {
		case e := <-got:
			return e
		case <-time.After(10 * time.Second):
			t.Fatal("no event")
		}
		return status.Event{}
	}
	// Snapshot: resources by name, then the config event that ends it.
	for _, want := range []string{"api", "db"} {
		e := next()
		if e.Type != status.EventResource || e.Resource == nil || e.Resource.Name != want || e.Seq != 0 {
			t.Fatalf("snapshot event = %+v, want resource %s", e, want)
		}
		if e.Resource.Env != nil {
			t.Fatalf("snapshot event carries env: %v", e.Resource.Env)
		}
	}
	if e := next(); e.Type != status.EventConfig || e.Config == nil || e.Config.Generation != 1 {
		t.Fatalf("end of snapshot = %+v, want config", e)
	}
	// Live events in store order.
	h.f.store.Update("cache", func(r *status.Resource) {
		r.State = status.Starting
		r.Env = map[string]string{"PW": testSecret}
	})
	h.f.store.Remove("db")
	h.f.store.SetConfig(status.ConfigStatus{Generation: 7, OK: true})
	e1, e2, e3 := next(), next(), next()
	if e1.Type != status.EventResource || e1.Resource.Name != "cache" || e1.Resource.State != status.Starting || e1.Resource.Env != nil {
		t.Fatalf("live 1 = %+v", e1)
	}
	if e2.Type != status.EventRemoved || e2.Resource.Name != "db" || e2.Seq != e1.Seq+1 {
		t.Fatalf("live 2 = %+v (after seq %d)", e2, e1.Seq)
	}
	if e3.Type != status.EventConfig || e3.Config.Generation != 7 || e3.Seq != e2.Seq+1 {
		t.Fatalf("live 3 = %+v", e3)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Events after cancel = %v", err)
	}
}

// Streams and long actions must outlive the server's WriteTimeout.
func TestStreamsOutliveWriteTimeout(t *testing.T) {
	l := DefaultLimits()
	l.WriteTimeout = 200 * time.Millisecond
	f := newFake()
	f.slow["db"] = 3 * l.WriteTimeout
	h := startServer(t, f, WithLimits(l))

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	got := make(chan status.Event, 64)
	go h.c.Events(ctx, func(e status.Event) error { got <- e; return nil })
	for i := 0; i < 3; i++ { // snapshot: api, db, config
		<-got
	}
	// A start that takes three WriteTimeouts still gets its answer.
	r, err := h.c.Start(context.Background(), "db", 10*time.Second)
	if err != nil || r.State != status.Running {
		t.Fatalf("slow Start = %+v, %v", r, err)
	}
	// The stream, idle or busy, is still open well past WriteTimeout.
	h.f.store.Update("late", func(r *status.Resource) { r.State = status.Running })
	deadline := time.After(10 * time.Second)
	for {
		select {
		case e := <-got:
			if e.Resource != nil && e.Resource.Name == "late" {
				return
			}
		case <-deadline:
			t.Fatal("event stream died after WriteTimeout")
		}
	}
}

func TestErrorClassesRoundTrip(t *testing.T) {
	for _, sentinel := range []error{ErrNotFound, ErrBadRequest, ErrConflict, ErrResourceFailed, ErrTimeout, ErrInvalidConfig, ErrInternal} {
		ae := toAPIError(fmt.Errorf("wrapped: %w", sentinel))
		if !errors.Is(ae, sentinel) {
			t.Errorf("%v: rendered as %+v, which does not match its sentinel", sentinel, ae)
		}
		for _, other := range []error{ErrNotFound, ErrResourceFailed, ErrTimeout} {
			if other != sentinel && errors.Is(ae, other) {
				t.Errorf("%v: rendered %+v also matches %v", sentinel, ae, other)
			}
		}
	}
	if ae := toAPIError(errors.New("disk on fire")); ae.Status != 500 || ae.Code != "internal" {
		t.Errorf("plain error rendered as %+v", ae)
	}
	if ae := toAPIError(context.DeadlineExceeded); ae.Status != 504 || ae.Code != "timeout" {
		t.Errorf("deadline rendered as %+v", ae)
	}
}

func TestActionTimeout(t *testing.T) {
	f := newFake()
	f.slow["api"] = time.Hour
	h := startServer(t, f)
	_, err := h.c.Stop(context.Background(), "api", 50*time.Millisecond)
	var ae *APIError
	if !errors.Is(err, ErrTimeout) || !errors.As(err, &ae) || ae.Status != http.StatusGatewayTimeout {
		t.Fatalf("Stop err = %#v, want 504 timeout", err)
	}
	if !strings.Contains(ae.Message, "stop api") {
		t.Fatalf("timeout message %q does not name the action", ae.Message)
	}
}

func TestLogsTailAndFollow(t *testing.T) {
	h := startServer(t, newFake())
	var lines []string
	err := h.c.Logs(context.Background(), LogQuery{Tail: 2}, func(l LogLine) error {
		lines = append(lines, l.Resource+":"+l.Text)
		return nil
	})
	want := "api:api line 1,db:db line 1,api:api line 2,db:db line 2"
	if err != nil || strings.Join(lines, ",") != want {
		t.Fatalf("Logs tail=2 = %q, %v; want %q", lines, err, want)
	}
	lines = nil
	if err := h.c.Logs(context.Background(), LogQuery{Tail: -1, Resources: []string{"db"}}, func(l LogLine) error {
		lines = append(lines, l.Text)
		return nil
	}); err != nil || len(lines) != 3 {
		t.Fatalf("Logs all db = %q, %v", lines, err)
	}
	if err := h.c.Logs(context.Background(), LogQuery{Resources: []string{"nope"}}, func(LogLine) error { return nil }); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Logs(nope) = %v, want ErrNotFound", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	got := make(chan LogLine, 16)
	done := make(chan error, 1)
	go func() {
		done <- h.c.Logs(ctx, LogQuery{Resources: []string{"api"}, Tail: 1, Follow: true}, func(l LogLine) error { got <- l; return nil })
	}()
	recv := func() LogLine {
		t.Helper()
		select {
		case l := <-got:
			return l
		case <-time.After(10 * time.Second):
			t.Fatal("no log line")
		}
		return LogLine{}
	}
	if l := recv(); l.Text != "api line 2" {
		t.Fatalf("tail line = %+v", l)
	}
	h.f.live <- LogLine{Resource: "db", Text: "not selected"}
	h.f.live <- LogLine{Resource: "api", Instance: "api-0", Text: "live one"}
	h.f.live <- LogLine{Resource: "api", Instance: "api-0", Text: "live two"}
	if l := recv(); l.Text != "live one" {
		t.Fatalf("first live line = %+v", l)
	}
	if l := recv(); l.Text != "live two" {
		t.Fatalf("second live line = %+v", l)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Logs follow after cancel = %v", err)
	}
}

func TestShutdownEndsStreams(t *testing.T) {
	f := newFake()
	sock := filepath.Join(t.TempDir(), "s.sock")
	ln, err := Listen(sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := NewServer(f, nil)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	c := Dial(sock)
	defer c.Close()
	started := make(chan struct{}, 8)
	evDone := make(chan error, 1)
	logDone := make(chan error, 1)
	go func() {
		evDone <- c.Events(context.Background(), func(e status.Event) error {
			if e.Type == status.EventConfig {
				started <- struct{}{}
			}
			return nil
		})
	}()
	go func() {
		logDone <- c.Logs(context.Background(), LogQuery{Tail: 1, Resources: []string{"db"}, Follow: true}, func(LogLine) error {
			started <- struct{}{}
			return nil
		})
	}()
	<-started
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown with open streams: %v", err)
	}
	if err := <-evDone; !errors.Is(err, ErrStreamEnded) {
		t.Fatalf("Events after Shutdown = %v, want ErrStreamEnded", err)
	}
	if err := <-logDone; !errors.Is(err, ErrStreamEnded) {
		t.Fatalf("Logs after Shutdown = %v, want ErrStreamEnded", err)
	}
	if err := <-served; err != nil {
		t.Fatalf("Serve = %v", err)
	}
	if _, err := c.Info(context.Background()); !IsNoDaemon(err) {
		t.Fatalf("Info after shutdown = %v, want no-daemon error", err)
	}
}

func TestErrorShapes(t *testing.T) {
	h := startServer(t, newFake())
	cases := []struct {
		method, path string
		status       int
		code         string
	}{
		{"GET", "/v1/nope", 404, "not_found"},
		{"GET", "/v2/info", 404, "not_found"},
		{"GET", "/", 404, "not_found"},
		{"GET", "/v1/resources/nope", 404, "not_found"},
		{"POST", "/v1/resources/nope/start", 404, "not_found"},
		{"POST", "/v1/info", 405, "method_not_allowed"},
		{"DELETE", "/v1/resources/api", 405, "method_not_allowed"},
		{"GET", "/v1/resources/api/start", 405, "method_not_allowed"},
		{"GET", "/v1/reload", 405, "method_not_allowed"},
		{"GET", "/v1/logs?tail=abc", 400, "bad_request"},
		{"GET", "/v1/logs?tail=-2", 400, "bad_request"},
		{"GET", "/v1/logs?follow=maybe", 400, "bad_request"},
		{"GET", "/v1/logs?tail=1&tail=2", 400, "bad_request"},
		{"GET", "/v1/logs?resource=%zz", 400, "bad_request"},
		{"GET", "/v1/graph?format=svg", 400, "bad_request"},
		{"POST", "/v1/resources/api/stop?timeout=soon", 400, "bad_request"},
		{"POST", "/v1/resources/api/stop?timeout=-1s", 400, "bad_request"},
		{"POST", "/v1/resources/api/stop?timeout=1000h", 400, "bad_request"},
		{"GET", "/v1/resources/panic", 500, "internal"},
	}
	for _, c := range cases {
		r := h.do(t, c.method, c.path, nil)
		if r.status != c.status {
			t.Errorf("%s %s: status %d, want %d (%s)", c.method, c.path, r.status, c.status, r.body)
			continue
		}
		checkErrorBody(t, c.method+" "+c.path, r, c.code)
		if c.status == 405 && r.header.Get("Allow") == "" {
			t.Errorf("%s %s: 405 without Allow header", c.method, c.path)
		}
	}
	if calls := h.f.Calls(); len(calls) != 0 {
		t.Errorf("rejected requests reached the backend: %q", calls)
	}
}

func checkErrorBody(t *testing.T, what string, r rawResp, code string) {
	t.Helper()
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("%s: error content type %q", what, ct)
	}
	var eb struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal([]byte(r.body), &eb); err != nil {
		t.Errorf("%s: error body is not JSON: %v: %q", what, err, r.body)
		return
	}
	if eb.Error.Code != code || eb.Error.Message == "" {
		t.Errorf("%s: error = %+v, want code %s and a message", what, eb.Error, code)
	}
	if strings.Contains(r.body, testSecret) {
		t.Errorf("%s: error body leaks the secret: %s", what, r.body)
	}
}

func TestBodyLimit(t *testing.T) {
	l := DefaultLimits()
	h := startServer(t, newFake(), WithLimits(l))
	// Within the limit: accepted (and ignored).
	if r := h.do(t, "POST", "/v1/reload", strings.NewReader(`{"x":1}`)); r.status != 200 {
		t.Fatalf("small body: %d %s", r.status, r.body)
	}
	// Declared too large: refused from the headers alone, body never sent.
	conn := dialRaw(t, h.sock)
	io.WriteString(conn, "POST /v1/reload HTTP/1.1\r\nHost: x\r\nContent-Length: 2097152\r\n\r\n")
	resp := readResp(t, conn)
	if resp.status != 413 {
		t.Fatalf("declared 2 MiB: status %d %s", resp.status, resp.body)
	}
	checkErrorBody(t, "declared 2 MiB", resp, "too_large")
	// Chunked, no length: refused once the limit is crossed.
	conn = dialRaw(t, h.sock)
	go func() {
		io.WriteString(conn, "POST /v1/reload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
		chunk := strings.Repeat("a", 64<<10)
		for i := 0; i < 40; i++ { // 2.5 MiB
			if _, err := io.WriteString(conn, "10000\r\n"+chunk+"\r\n"); err != nil {
				return // server closed after answering: expected
			}
		}
		io.WriteString(conn, "0\r\n\r\n")
	}()
	resp = readResp(t, conn)
	if resp.status != 413 {
		t.Fatalf("chunked 2.5 MiB: status %d %s", resp.status, resp.body)
	}
	checkErrorBody(t, "chunked 2.5 MiB", resp, "too_large")
	if calls := h.f.Calls(); len(calls) != 1 {
		t.Fatalf("oversized requests reached the backend: %q", calls)
	}
}

func dialRaw(t *testing.T, sock string) net.Conn {
	t.Helper()
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	return c
}

func readResp(t *testing.T, c net.Conn) rawResp {
	t.Helper()
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return rawResp{resp.StatusCode, resp.Header, string(b)}
}

// A client that sends half its headers and stalls is disconnected by
// ReadHeaderTimeout without an answer.
func TestSlowLorisCutOff(t *testing.T) {
	l := DefaultLimits()
	l.ReadHeaderTimeout = 150 * time.Millisecond
	h := startServer(t, newFake(), WithLimits(l))
	c := dialRaw(t, h.sock) // 10 s deadline: far beyond the server's limit
	if _, err := io.WriteString(c, "GET /v1/info HTTP/1.1\r\nHost: apphostd\r\nX-Slow: "); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 512)
	n, err := c.Read(buf)
	if err == nil {
		t.Fatalf("server answered a stalled request: %q", buf[:n])
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("server kept the stalled connection open for 10 s (ReadHeaderTimeout %s)", l.ReadHeaderTimeout)
	}
	if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) && !strings.Contains(err.Error(), "reset") {
		t.Fatalf("read from stalled connection: %v, want EOF", err)
	}
	// The server is still fine for everyone else.
	if _, err := h.c.Info(context.Background()); err != nil {
		t.Fatalf("Info after slow loris: %v", err)
	}
}

func TestOversizedHeadersRefused(t *testing.T) {
	h := startServer(t, newFake())
	c := dialRaw(t, h.sock)
	big := strings.Repeat("a", 80<<10)
	go io.WriteString(c, "GET /v1/info HTTP/1.1\r\nHost: x\r\nX-Big: "+big+"\r\n\r\n")
	resp := readResp(t, c)
	if resp.status != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("80 KiB header: status %d, want 431", resp.status)
	}
}

// No response but /v1/env carries the secret the fake planted, even
// though the store itself holds it raw.
func TestNoSecretLeaks(t *testing.T) {
	h := startServer(t, newFake())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Live events too: a resource event carrying raw env.
	var events strings.Builder
	evDone := make(chan struct{})
	go func() {
		defer close(evDone)
		h.c.Events(ctx, func(e status.Event) error {
			b, _ := json.Marshal(e)
			events.Write(b)
			if e.Resource != nil && e.Resource.Name == "api" && e.Resource.State == status.Exited {
				return io.EOF // seen the live event; stop
			}
			return nil
		})
	}()
	for _, p := range []struct{ m, path string }{
		{"GET", "/v1/info"}, {"GET", "/v1/resources"}, {"GET", "/v1/resources/api"}, {"GET", "/v1/config"},
		{"GET", "/v1/graph"}, {"GET", "/v1/graph?format=dot"}, {"GET", "/v1/graph?format=mermaid"},
		{"GET", "/v1/logs"}, {"POST", "/v1/resources/api/stop"}, {"POST", "/v1/reload"},
		{"GET", "/v1/resources/panic"}, {"GET", "/v1/resources/nope"},
	} {
		r := h.do(t, p.m, p.path, nil)
		if r.status >= 500 && p.path != "/v1/resources/panic" {
			t.Errorf("%s %s: %d", p.m, p.path, r.status)
		}
		if strings.Contains(r.body, testSecret) {
			t.Errorf("%s %s leaks the secret: %s", p.m, p.path, r.body)
		}
	}
	<-evDone
	if strings.Contains(events.String(), testSecret) {
		t.Errorf("event stream leaks the secret: %s", events.String())
	}
	if !strings.Contains(events.String(), `"state":"Exited"`) {
		t.Errorf("event stream missed the live event: %s", events.String())
	}
	// The one route meant to carry secrets does.
	if r := h.do(t, "GET", "/v1/env", nil); !strings.Contains(r.body, testSecret) || r.header.Get("Cache-Control") != "no-store" {
		t.Errorf("/v1/env = %d %v %s", r.status, r.header, r.body)
	}
}
