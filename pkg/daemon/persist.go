package daemon

import "sync"

// stateSaver writes state.json from one goroutine (loop) and lets callers
// wait until a write that covers their change has completed (group
// commit): after save returns, a daemon killed with SIGKILL leaves a
// state.json that records the change. The reconciler calls save after an
// instance starts and before it publishes the instance as Running, so
// whatever the API has shown running is adopted by the next daemon.
// Concurrent callers share writes: 8 workers starting 8 instances wait for
// one or two writes, not eight.
//
// Lifecycle: loop runs until stop; save after stop returns at once. mu
// guards every field.
type stateSaver struct {
	write func()

	mu      sync.Mutex
	cond    *sync.Cond
	wake    chan struct{} // holds one pending request
	asked   uint64        // requests made
	written uint64        // requests covered by a completed write
	stopped bool
}

func newStateSaver(write func()) *stateSaver {
	s := &stateSaver{write: write, wake: make(chan struct{}, 1)}
	s.cond = sync.NewCond(&s.mu)
	return s
}

// request asks for a write without waiting for it.
func (s *stateSaver) request() uint64 {
	s.mu.Lock()
	s.asked++
	n := s.asked
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
	return n
}

// save asks for a write and waits until one that began after the request
// has completed (or the saver stopped).
func (s *stateSaver) save() {
	n := s.request()
	s.mu.Lock()
	for s.written < n && !s.stopped {
		s.cond.Wait()
	}
	s.mu.Unlock()
}

// loop writes whenever asked until done is closed. A write covers every
// request made before it read the state, so requests arriving during a
// write are served together by the next one.
func (s *stateSaver) loop(done <-chan struct{}) {
	defer func() {
		s.mu.Lock()
		s.stopped = true
		s.cond.Broadcast()
		s.mu.Unlock()
	}()
	for {
		select {
		case <-done:
			return
		case <-s.wake:
		}
		s.mu.Lock()
		n := s.asked
		s.mu.Unlock()
		s.write()
		s.mu.Lock()
		s.written = n
		s.cond.Broadcast()
		s.mu.Unlock()
	}
}
