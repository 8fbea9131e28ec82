package reconcile

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestQueueDedup(t *testing.T) {
	q := NewQueue()
	q.Add("a")
	q.Add("a")
	q.Add("b")
	if q.Len() != 2 {
		t.Fatalf("len = %d, want 2", q.Len())
	}
	k, _ := q.Get()
	if k != "a" {
		t.Fatalf("got %q", k)
	}
	q.Add("a") // while processing: deferred
	if q.Len() != 1 {
		t.Fatalf("len while processing = %d, want 1", q.Len())
	}
	q.Done("a")
	if q.Len() != 2 {
		t.Fatalf("len after Done = %d, want 2 (a re-queued)", q.Len())
	}
}

func TestQueueNeverConcurrentPerKey(t *testing.T) {
	q := NewQueue()
	var active sync.Map
	var bad, processed atomic.Int32
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				k, ok := q.Get()
				if !ok {
					return
				}
				if _, loaded := active.LoadOrStore(k, true); loaded {
					bad.Add(1)
				}
				time.Sleep(100 * time.Microsecond)
				active.Delete(k)
				processed.Add(1)
				q.Done(k)
			}
		}()
	}
	for i := 0; i < 2000; i++ {
		q.Add([]string{"a", "b", "c"}[i%3])
	}
	deadline := time.Now().Add(5 * time.Second)
	for q.Len() > 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond)
	q.ShutDown()
	wg.Wait()
	if bad.Load() != 0 {
		t.Fatalf("%d concurrent processings of one key", bad.Load())
	}
	if processed.Load() == 0 {
		t.Fatal("nothing processed")
	}
}

func TestQueueAddAfterEarliestWins(t *testing.T) {
	q := NewQueue()
	q.AddAfter("a", time.Hour)
	q.AddAfter("a", 10*time.Millisecond)
	got := make(chan string, 1)
	go func() {
		k, _ := q.Get()
		got <- k
	}()
	select {
	case k := <-got:
		if k != "a" {
			t.Fatalf("got %q", k)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("AddAfter with the earlier deadline never fired")
	}
	q.ShutDown()
}
