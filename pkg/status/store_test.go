package status

import (
	"fmt"
	"sync"
	"testing"
)

func TestSubscribeSnapshotThenEvents(t *testing.T) {
	s := NewStore()
	s.Update("a", func(r *Resource) { r.State = Running })
	snap, _, ch, cancel := s.Subscribe(16)
	defer cancel()
	if len(snap) != 1 || snap[0].Name != "a" || snap[0].State != Running {
		t.Fatalf("snapshot = %+v", snap)
	}
	s.Update("b", func(r *Resource) { r.State = Waiting })
	s.Remove("a")
	e := <-ch
	if e.Type != EventResource || e.Resource.Name != "b" {
		t.Fatalf("first event = %+v", e)
	}
	e2 := <-ch
	if e2.Type != EventRemoved || e2.Resource.Name != "a" || e2.Seq != e.Seq+1 {
		t.Fatalf("second event = %+v", e2)
	}
}

// Concurrent writers and subscribers: every subscriber sees a gap-free
// sequence after its snapshot, or is dropped with its channel closed.
func TestConcurrentNoGaps(t *testing.T) {
	s := NewStore()
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < 500; i++ {
				s.Update(fmt.Sprintf("r%d", w), func(r *Resource) { r.Restarts++ })
			}
		}(w)
	}
	for k := 0; k < 4; k++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, ch, cancel := s.Subscribe(4096)
			defer cancel()
			var last uint64
			for i := 0; i < 100; i++ {
				e, ok := <-ch
				if !ok {
					return
				}
				if last != 0 && e.Seq != last+1 {
					t.Errorf("gap: %d after %d", e.Seq, last)
					return
				}
				last = e.Seq
			}
		}()
	}
	wg.Wait()
	for _, r := range s.List() {
		if r.Restarts != 500 {
			t.Fatalf("%s restarts = %d, want 500", r.Name, r.Restarts)
		}
	}
}

func TestSlowSubscriberDropped(t *testing.T) {
	s := NewStore()
	_, _, ch, cancel := s.Subscribe(2)
	defer cancel()
	for i := 0; i < 5; i++ {
		s.Update("a", func(r *Resource) { r.Restarts++ })
	}
	n := 0
	for range ch {
		n++
	}
	if n != 2 {
		t.Fatalf("got %d buffered events before close, want 2", n)
	}
	cancel() // safe after drop
}

func TestCopiesAreIndependent(t *testing.T) {
	s := NewStore()
	code := 3
	s.Update("a", func(r *Resource) {
		r.ExitCode = &code
		r.Instances = []Instance{{ID: "a-0"}}
	})
	got, _ := s.Get("a")
	*got.ExitCode = 9
	got.Instances[0].ID = "mutated"
	again, _ := s.Get("a")
	if *again.ExitCode != 3 || again.Instances[0].ID != "a-0" {
		t.Fatalf("store mutated through a copy: %+v", again)
	}
}

func TestReady(t *testing.T) {
	cases := []struct {
		r    Resource
		want bool
	}{
		{Resource{State: Running, Health: HealthNotProbed}, true},
		{Resource{State: Running, Health: Healthy}, true},
		{Resource{State: Running, Health: Unhealthy}, false},
		{Resource{State: Running, Health: HealthUnknown}, false},
		{Resource{State: Finished}, true},
		{Resource{State: Waiting}, false},
	}
	for i, c := range cases {
		if got := c.r.Ready(); got != c.want {
			t.Errorf("case %d: Ready() = %v, want %v", i, got, c.want)
		}
	}
}

func TestUnchangedUpdateEmitsNothing(t *testing.T) {
	s := NewStore()
	s.Update("a", func(r *Resource) { r.State = Running })
	_, _, ch, cancel := s.Subscribe(8)
	defer cancel()
	s.Update("a", func(r *Resource) { r.State = Running })
	s.Update("a", func(r *Resource) { r.State = Stopping })
	e := <-ch
	if e.Resource.State != Stopping {
		t.Fatalf("first event after a no-op update = %+v, want the Stopping change", e.Resource)
	}
}
