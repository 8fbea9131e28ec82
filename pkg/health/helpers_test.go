package health

import (
	"context"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"
)

// guard bounds how long a test waits for something that must happen. It is
// a hang guard, not a speed assertion.
const guard = 10 * time.Second

// recorder collects onChange results.
type recorder struct {
	mu      sync.Mutex
	results []Result
	notify  chan struct{}
}

func newRecorder() *recorder { return &recorder{notify: make(chan struct{}, 1)} }

func (r *recorder) onChange(res Result) {
	r.mu.Lock()
	r.results = append(r.results, res)
	r.mu.Unlock()
	select {
	case r.notify <- struct{}{}:
	default:
	}
}

func (r *recorder) all() []Result {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Result(nil), r.results...)
}

// waitFor waits until a result with status want has been recorded after
// index from, and returns it with its index.
func (r *recorder) waitFor(t testing.TB, from int, want Status) (Result, int) {
	t.Helper()
	deadline := time.NewTimer(guard)
	defer deadline.Stop()
	for {
		rs := r.all()
		for i := from; i < len(rs); i++ {
			if rs[i].Status == want {
				return rs[i], i
			}
		}
		select {
		case <-r.notify:
		case <-deadline.C:
			t.Fatalf("no %s result within %s; got %+v", want, guard, rs)
		}
	}
}

// startChecker starts a checker and stops it when the test ends.
func startChecker(t testing.TB, spec Spec) (*Checker, *recorder) {
	t.Helper()
	rec := newRecorder()
	c := NewChecker(spec, rec.onChange)
	c.Start(context.Background())
	t.Cleanup(func() { c.Stop(); <-c.Done() })
	return c, rec
}

// freeAddr returns a loopback address nothing listens on right now.
func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

// serveLater binds addr after delay and serves h there until stop is
// called or the test ends. bound receives the time the listener opened.
func serveLater(t testing.TB, addr string, delay time.Duration, h http.Handler) (bound <-chan time.Time, stop func()) {
	t.Helper()
	boundc := make(chan time.Time, 1)
	srv := &http.Server{Handler: h}
	done := make(chan struct{})
	go func() {
		defer close(done)
		time.Sleep(delay)
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			t.Errorf("late listen on %s: %v", addr, err)
			return
		}
		boundc <- time.Now()
		_ = srv.Serve(ln)
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			// Close before Serve has started makes Serve return at once.
			_ = srv.Close()
			<-done
		})
	}
	t.Cleanup(stop)
	return boundc, stop
}

func okHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
}
