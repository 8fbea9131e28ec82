package daemon

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestStateSaverCoversEveryChange: whatever a caller changed before save
// is in a write that completed before save returned, and concurrent
// callers share writes.
func TestStateSaverCoversEveryChange(t *testing.T) {
	var changes, persisted, writes atomic.Int64
	s := newStateSaver(func() {
		v := changes.Load()
		time.Sleep(2 * time.Millisecond) // a slow disk
		persisted.Store(v)
		writes.Add(1)
	})
	done := make(chan struct{})
	loopDone := make(chan struct{})
	go func() { defer close(loopDone); s.loop(done) }()

	const callers, rounds = 8, 25
	var wg sync.WaitGroup
	var violations atomic.Int64
	for c := 0; c < callers; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < rounds; i++ {
				mine := changes.Add(1)
				s.save()
				if persisted.Load() < mine {
					violations.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if v := violations.Load(); v > 0 {
		t.Fatalf("%d saves returned before their change was written", v)
	}
	if w := writes.Load(); w >= callers*rounds {
		t.Errorf("%d writes for %d saves: concurrent saves were not shared", w, callers*rounds)
	}
	t.Logf("%d saves, %d writes", callers*rounds, writes.Load())

	// After the loop stops, save returns at once instead of hanging.
	close(done)
	<-loopDone
	returned := make(chan struct{})
	go func() { s.save(); close(returned) }()
	select {
	case <-returned:
	case <-time.After(5 * time.Second):
		t.Fatal("save hangs after the saver stopped")
	}
}
