package daemon

import (
	"fmt"
	"sync"

	"github.com/apphostd/apphostd/pkg/discovery"
	"github.com/apphostd/apphostd/pkg/runtime/process"
)

// stickyPorts keeps a key's port for the daemon's lifetime. The allocator
// below it checks that a persisted port can still be bound, which is right
// for a port nobody uses yet but wrong for one our own running instance
// holds (after a reload, or after adopting instances of a crashed daemon).
// Pinned keys skip that check.
//
// It also implements discovery.SocketPorts: a socket endpoint's port is
// bound (and held in listeners) as it is allocated.
type stickyPorts struct {
	next discovery.Ports
	mu   sync.Mutex
	held map[string]int
	// pinned keys are held by adopted instances (their processes have the
	// port, and for a socket endpoint the listening socket).
	pinned map[string]bool
	// listeners holds socket endpoints' sockets; nil: no socket support
	// (the process driver then binds at start). Set once before use.
	listeners *process.Listeners
}

var _ discovery.SocketPorts = (*stickyPorts)(nil)

func newStickyPorts(next discovery.Ports) *stickyPorts {
	return &stickyPorts{next: next, held: map[string]int{}, pinned: map[string]bool{}}
}

// Pin records a port already in use by one of our instances.
func (s *stickyPorts) Pin(key string, port int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.held[key] = port
	s.pinned[key] = true
}

func (s *stickyPorts) Allocate(key string) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p, ok := s.held[key]; ok {
		return p, nil
	}
	p, err := s.next.Allocate(key)
	if err != nil {
		return 0, err
	}
	s.held[key] = p
	return p, nil
}

func (s *stickyPorts) Reserve(key string, port int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p, ok := s.held[key]; ok && p == port {
		return nil
	}
	for k, p := range s.held {
		if p == port && k != key {
			return fmt.Errorf("already assigned to %s", k)
		}
	}
	if err := s.next.Reserve(key, port); err != nil {
		return err
	}
	s.held[key] = port
	return nil
}

// listenAttempts bounds how often AllocateListener picks another port
// because the one chosen was taken before it could be bound.
const listenAttempts = 8

// AllocateListener allocates key's port and binds it at once, so nothing
// else can take it before the instance starts. A port that turns out to be
// taken in between (the allocator's check and the bind are two steps) is
// given up for a fresh one.
func (s *stickyPorts) AllocateListener(key string) (int, error) {
	for i := 0; ; i++ {
		p, err := s.Allocate(key)
		if err != nil {
			return 0, err
		}
		err = s.hold(key, p)
		if err == nil {
			return p, nil
		}
		if !process.IsAddrInUse(err) || i == listenAttempts-1 {
			return 0, err
		}
		s.mu.Lock()
		pinned := s.pinned[key]
		if !pinned {
			delete(s.held, key)
		}
		s.mu.Unlock()
		if pinned {
			return 0, err
		}
		if r, ok := s.next.(interface{ Release(string) }); ok {
			r.Release(key)
		}
	}
}

// ReserveListener reserves a fixed port for key and binds it. A port
// someone else holds is an error naming the holder's PID where /proc
// shows it.
func (s *stickyPorts) ReserveListener(key string, port int) error {
	if err := s.Reserve(key, port); err != nil {
		return err
	}
	if err := s.hold(key, port); err != nil {
		if process.IsAddrInUse(err) {
			return &discovery.PortError{Port: port, Key: key, Kind: discovery.ErrPortInUse, Holder: discovery.PortHolder(port), Err: err}
		}
		return err
	}
	return nil
}

// hold binds port for key. For a port an adopted instance holds, the
// socket is taken over from that process (pidfd_getfd); failing that the
// instance keeps serving on its copy and the next start binds anew.
func (s *stickyPorts) hold(key string, port int) error {
	if s.listeners == nil {
		return nil
	}
	err := s.listeners.Hold(port)
	if err == nil || !process.IsAddrInUse(err) {
		return err
	}
	s.mu.Lock()
	pinned := s.pinned[key]
	s.mu.Unlock()
	if !pinned {
		return err
	}
	_ = s.listeners.Adopt(port) // failing, the adopted instance has it; see above
	return nil
}
