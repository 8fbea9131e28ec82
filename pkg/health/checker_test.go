package health

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

func TestCheckerHealthyHTTP(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if r.URL.Path != "/healthz" {
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	defer srv.Close()

	c, rec := startChecker(t, Spec{Target: Target{HTTPURL: srv.URL + "/healthz"}, Interval: 5 * time.Millisecond})
	res, idx := rec.waitFor(t, 0, StatusHealthy)
	if idx != 0 {
		t.Errorf("first result %+v, want Healthy at once", rec.all()[0])
	}
	if res.Error != "" || res.ConsecutiveFailures != 0 || res.Time.IsZero() {
		t.Errorf("healthy result %+v", res)
	}
	// Let several more probes run: onChange must not repeat an unchanged
	// status.
	for hits.Load() < 5 {
		time.Sleep(5 * time.Millisecond)
	}
	if n := len(rec.all()); n != 1 {
		t.Errorf("onChange called %d times for a steady Healthy, want 1: %+v", n, rec.all())
	}
	if got := c.Result(); got.Status != StatusHealthy {
		t.Errorf("Result() = %+v", got)
	}
}

func TestCheckerWrongStatus(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
	}))
	defer srv.Close()

	_, rec := startChecker(t, Spec{Target: Target{HTTPURL: srv.URL}, Interval: 10 * time.Millisecond, Retries: 2})
	res, _ := rec.waitFor(t, 0, StatusUnhealthy)
	if !strings.Contains(res.Error, "status 500") || res.ConsecutiveFailures != 2 {
		t.Errorf("unhealthy result %+v, want status 500 after 2 failures", res)
	}
	first := rec.all()[0]
	if first.Status != StatusUnknown || !strings.Contains(first.Error, "status 500") {
		t.Errorf("first result %+v, want Unknown carrying the error", first)
	}
	for _, r := range rec.all() {
		if r.Status == StatusHealthy {
			t.Errorf("reported Healthy for a 500: %+v", r)
		}
	}
}

func TestCheckerServerStartsLate(t *testing.T) {
	addr := freeAddr(t)
	bound, _ := serveLater(t, addr, 200*time.Millisecond, okHandler())

	_, rec := startChecker(t, Spec{Target: Target{HTTPURL: "http://" + addr + "/"}, Interval: time.Second})
	res, idx := rec.waitFor(t, 0, StatusHealthy)
	boundAt := <-bound
	if idx == 0 {
		t.Fatalf("first result already Healthy; the server was not up yet: %+v", rec.all())
	}
	if first := rec.all()[0]; first.Status != StatusUnknown || first.Error == "" {
		t.Errorf("first result %+v, want Unknown with the connect error", first)
	}
	if res.Time.Before(boundAt) {
		t.Errorf("healthy at %v, before the server bound at %v", res.Time, boundAt)
	}
	// Fast probing must not have counted those early refusals against a
	// 1 s interval.
	for _, r := range rec.all() {
		if r.Status == StatusUnhealthy {
			t.Errorf("went Unhealthy while starting: %+v", r)
		}
	}
}

func TestCheckerUnhealthyAndRecovery(t *testing.T) {
	var failing atomic.Bool
	var failedHits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if failing.Load() {
			failedHits.Add(1)
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()

	_, rec := startChecker(t, Spec{Target: Target{HTTPURL: srv.URL}, Interval: 10 * time.Millisecond, Retries: 3})
	_, i := rec.waitFor(t, 0, StatusHealthy)

	failing.Store(true)
	res, j := rec.waitFor(t, i+1, StatusUnhealthy)
	if res.ConsecutiveFailures != 3 {
		t.Errorf("unhealthy after %d failures, want 3", res.ConsecutiveFailures)
	}
	if n := failedHits.Load(); n < 3 {
		t.Errorf("unhealthy after %d failed probes, want at least 3", n)
	}
	if !strings.Contains(res.Error, "status 503") {
		t.Errorf("unhealthy error %q", res.Error)
	}

	failing.Store(false)
	res, _ = rec.waitFor(t, j+1, StatusHealthy)
	if res.ConsecutiveFailures != 0 || res.Error != "" {
		t.Errorf("recovered result %+v", res)
	}
	// Transitions only: Healthy, Unhealthy, Healthy.
	var got []Status
	for _, r := range rec.all() {
		got = append(got, r.Status)
	}
	if strings.Join(statusStrings(got), ",") != "Healthy,Unhealthy,Healthy" {
		t.Errorf("transitions %v", got)
	}
}

func statusStrings(ss []Status) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = string(s)
	}
	return out
}

func TestCheckerStartPeriodIgnoresFailures(t *testing.T) {
	const startPeriod = 300 * time.Millisecond
	addr := freeAddr(t)
	began := time.Now()
	_, rec := startChecker(t, Spec{
		Target:      Target{TCPAddr: addr},
		Interval:    10 * time.Millisecond,
		Retries:     1,
		StartPeriod: startPeriod,
	})
	res, idx := rec.waitFor(t, 0, StatusUnhealthy)
	if idx == 0 {
		t.Errorf("first result is already Unhealthy: %+v", res)
	}
	// A failure inside the start period must not count, so with Retries 1
	// Unhealthy cannot come before the period is over.
	if elapsed := res.Time.Sub(began); elapsed < startPeriod {
		t.Errorf("unhealthy after %v, inside the %v start period", elapsed, startPeriod)
	}
	if !strings.Contains(res.Error, addr) {
		t.Errorf("error %q does not name %s", res.Error, addr)
	}
}

func TestCheckerStartPeriodEndsAtFirstSuccess(t *testing.T) {
	var failing atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if failing.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	_, rec := startChecker(t, Spec{
		Target:      Target{HTTPURL: srv.URL},
		Interval:    10 * time.Millisecond,
		Retries:     1,
		StartPeriod: time.Hour,
	})
	_, i := rec.waitFor(t, 0, StatusHealthy)
	failing.Store(true)
	rec.waitFor(t, i+1, StatusUnhealthy) // would hang for an hour if the period still applied
}

func TestCheckerTCP(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_ = c.Close()
		}
	}()
	_, rec := startChecker(t, Spec{Target: Target{TCPAddr: ln.Addr().String()}, Interval: 10 * time.Millisecond, Retries: 2})
	_, i := rec.waitFor(t, 0, StatusHealthy)
	_ = ln.Close()
	res, _ := rec.waitFor(t, i+1, StatusUnhealthy)
	if !strings.Contains(res.Error, "refused") {
		t.Errorf("error %q, want connection refused", res.Error)
	}
}

func TestCheckerExec(t *testing.T) {
	_, rec := startChecker(t, Spec{Target: Target{Command: []string{"sh", "-c", "exit 0"}}, Interval: time.Second})
	rec.waitFor(t, 0, StatusHealthy)

	_, rec = startChecker(t, Spec{Target: Target{Command: []string{"sh", "-c", "echo nope; exit 1"}}, Interval: 10 * time.Millisecond, Retries: 1})
	res, _ := rec.waitFor(t, 0, StatusUnhealthy)
	if !strings.Contains(res.Error, "exit status 1: nope") {
		t.Errorf("error %q", res.Error)
	}

	var calls atomic.Int64
	exec := func(context.Context) (int, []byte, error) {
		if calls.Add(1) < 3 {
			return 1, []byte("booting"), nil
		}
		return 0, nil, nil
	}
	_, rec = startChecker(t, Spec{Target: Target{Exec: exec}, Interval: time.Second})
	rec.waitFor(t, 0, StatusHealthy)
	if n := calls.Load(); n < 3 {
		t.Errorf("healthy after %d exec calls, want 3", n)
	}
}

func TestCheckerTimeoutCountsAsFailure(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)

	_, rec := startChecker(t, Spec{
		Target:   Target{HTTPURL: srv.URL},
		Interval: 10 * time.Millisecond,
		Timeout:  50 * time.Millisecond,
		Retries:  1,
	})
	res, _ := rec.waitFor(t, 0, StatusUnhealthy)
	if !strings.Contains(res.Error, "timed out after 50ms") {
		t.Errorf("error %q, want a timeout", res.Error)
	}
}

func waitDone(t *testing.T, c *Checker) {
	t.Helper()
	select {
	case <-c.Done():
	case <-time.After(guard):
		t.Fatal("checker goroutine still running")
	}
}

func TestCheckerStopEndsGoroutine(t *testing.T) {
	srv := httptest.NewServer(okHandler())
	defer srv.Close()
	rec := newRecorder()
	c := NewChecker(Spec{Target: Target{HTTPURL: srv.URL}, Interval: 5 * time.Millisecond}, rec.onChange)
	c.Start(context.Background())
	rec.waitFor(t, 0, StatusHealthy)
	c.Stop()
	waitDone(t, c)
	n := len(rec.all())
	c.Stop() // idempotent
	c.Start(context.Background())
	time.Sleep(20 * time.Millisecond) // several intervals: a restarted loop would report
	if len(rec.all()) != n {
		t.Error("onChange called after Stop")
	}
	select {
	case <-c.Done():
	default:
		t.Fatal("Start after Stop reopened the checker")
	}
}

// The reconciler stops probers while holding the lock its onChange takes;
// Stop must not wait for a callback that is blocked on that lock.
func TestCheckerStopWhileCallbackBlocked(t *testing.T) {
	srv := httptest.NewServer(okHandler())
	defer srv.Close()
	var mu sync.Mutex
	entered := make(chan struct{}, 1)
	calls := 0
	c := NewChecker(Spec{Target: Target{HTTPURL: srv.URL}}, func(Result) {
		entered <- struct{}{}
		mu.Lock()
		calls++
		mu.Unlock()
	})
	mu.Lock()
	c.Start(context.Background())
	<-entered // the first result's callback now waits for mu
	stopped := make(chan struct{})
	go func() { c.Stop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(guard):
		t.Fatal("Stop deadlocked on a callback blocked on the caller's lock")
	}
	mu.Unlock()
	waitDone(t, c)
	mu.Lock()
	defer mu.Unlock()
	if calls != 1 {
		t.Errorf("%d callbacks, want the 1 already under way", calls)
	}
}

func TestCheckerContextCancelEndsGoroutine(t *testing.T) {
	// A server that never answers, so cancellation lands mid-probe.
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	ctx, cancel := context.WithCancel(context.Background())
	c := NewChecker(Spec{Target: Target{HTTPURL: srv.URL}, Timeout: time.Hour}, nil)
	c.Start(ctx)
	time.Sleep(20 * time.Millisecond) // let the first probe start
	cancel()
	waitDone(t, c)
	if r := c.Result(); r.Status != StatusUnknown || !r.Time.IsZero() {
		t.Errorf("a cancelled probe produced a result: %+v", r)
	}
	c.Stop()
}

func TestCheckerStopBeforeStart(t *testing.T) {
	c := NewChecker(Spec{Target: Target{TCPAddr: "127.0.0.1:1"}}, nil)
	c.Stop()
	c.Start(context.Background())
	select {
	case <-c.Done():
	default:
		t.Fatal("Done open after Stop before Start")
	}
	if r := c.Result(); r.Status != StatusUnknown {
		t.Errorf("result %+v", r)
	}
}

func TestCheckerInvalidSpec(t *testing.T) {
	rec := newRecorder()
	c := NewChecker(Spec{}, rec.onChange)
	c.Start(context.Background())
	select {
	case <-c.Done():
	case <-time.After(guard):
		t.Fatal("checker with an invalid spec kept running")
	}
	rs := rec.all()
	if len(rs) != 1 || rs[0].Status != StatusUnhealthy || !strings.Contains(rs[0].Error, "no probe set") {
		t.Errorf("results %+v, want one Unhealthy naming the problem", rs)
	}
	c.Stop()
}

func TestSpecDefaults(t *testing.T) {
	s := Spec{Target: Target{TCPAddr: "127.0.0.1:1"}}.withDefaults()
	if s.Interval != DefaultInterval || s.Timeout != DefaultTimeout || s.Retries != DefaultRetries ||
		s.StartPeriod != 0 || s.FastInitial != DefaultFastInitial || s.Log == nil {
		t.Errorf("defaults: %+v", s)
	}
	s = Spec{Target: Target{TCPAddr: "127.0.0.1:1"}, Interval: time.Millisecond, FastInitial: time.Second}.withDefaults()
	if s.FastInitial != time.Millisecond {
		t.Errorf("FastInitial %v not capped at Interval", s.FastInitial)
	}
	if err := (Spec{Target: Target{TCPAddr: "127.0.0.1:1"}, Retries: -1}).Validate(); err == nil {
		t.Error("negative retries validated")
	}
}

func TestFastSchedule(t *testing.T) {
	refused := ProbeTCP(context.Background(), freeAddr(t))
	if !errors.Is(refused, syscall.ECONNREFUSED) {
		t.Fatalf("probe of a closed port: %v, want ECONNREFUSED in the chain", refused)
	}
	answered := errors.New("get http://x: status 503, want 200-399")

	next, grown := fastSchedule(5*time.Millisecond, time.Second, answered)
	if next != 5*time.Millisecond || grown != 7500*time.Microsecond {
		t.Errorf("5ms: next %v grown %v, want 5ms and 7.5ms", next, grown)
	}
	next, grown = fastSchedule(800*time.Millisecond, time.Second, answered)
	if next != 800*time.Millisecond || grown != time.Second {
		t.Errorf("800ms: next %v grown %v, want 800ms and the 1s interval", next, grown)
	}
	next, _ = fastSchedule(800*time.Millisecond, time.Second, refused)
	if next != refusedMaxDelay {
		t.Errorf("refused: next %v, want the %v cap", next, refusedMaxDelay)
	}
}
