package daemon

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestActionsCoalesceSameVerb(t *testing.T) {
	a := newActions()
	var runs atomic.Int32
	release := make(chan struct{})
	fn := func(context.Context) error { runs.Add(1); <-release; return nil }
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i := range errs {
		wg.Add(1)
		go func(i int) { defer wg.Done(); errs[i] = a.do(context.Background(), "api", "restart", fn) }(i)
	}
	deadline := time.Now().Add(5 * time.Second)
	for runs.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond) // the others join meanwhile
	close(release)
	wg.Wait()
	if n := runs.Load(); n != 1 {
		t.Fatalf("three concurrent restarts ran %d times, want 1", n)
	}
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestActionsQueueOtherVerbs(t *testing.T) {
	a := newActions()
	var mu sync.Mutex
	var order []string
	stopRelease := make(chan struct{})
	rec := func(s string, wait chan struct{}) func(context.Context) error {
		return func(context.Context) error {
			mu.Lock()
			order = append(order, s+":begin")
			mu.Unlock()
			if wait != nil {
				<-wait
			}
			mu.Lock()
			order = append(order, s+":end")
			mu.Unlock()
			return nil
		}
	}
	done := make(chan struct{})
	go func() { _ = a.do(context.Background(), "api", "stop", rec("stop", stopRelease)); close(done) }()
	time.Sleep(10 * time.Millisecond)
	startDone := make(chan struct{})
	go func() { _ = a.do(context.Background(), "api", "start", rec("start", nil)); close(startDone) }()
	// Another resource is not held up.
	if err := a.do(context.Background(), "db", "start", rec("db", nil)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Millisecond)
	close(stopRelease)
	<-done
	<-startDone
	mu.Lock()
	defer mu.Unlock()
	want := []string{"stop:begin", "db:begin", "db:end", "stop:end", "start:begin", "start:end"}
	if len(order) != len(want) {
		t.Fatalf("order %v", order)
	}
	for i := range want {
		if order[i] != want[i] {
			t.Fatalf("order %v, want %v", order, want)
		}
	}
}

func TestActionsCallerTimeoutAndAbandon(t *testing.T) {
	a := newActions()
	started := make(chan context.Context, 1)
	fn := func(ctx context.Context) error { started <- ctx; <-ctx.Done(); return ctx.Err() }
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	err := a.do(ctx, "api", "start", fn)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
	// The last waiter gave up: the command's own context ends.
	select {
	case c := <-started:
		select {
		case <-c.Done():
		case <-time.After(5 * time.Second):
			t.Fatal("abandoned command kept running")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("command never started")
	}
	// A new command on the resource runs (not joined to the abandoned one).
	if err := a.do(context.Background(), "api", "start", func(context.Context) error { return nil }); err != nil {
		t.Fatalf("after abandon: %v", err)
	}
}
