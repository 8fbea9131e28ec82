package daemon

import (
	"fmt"
	"sync"

	"github.com/apphostd/apphostd/pkg/discovery"
)

// stickyPorts keeps a key's port for the daemon's lifetime. The allocator
// below it checks that a persisted port can still be bound, which is right
// for a port nobody uses yet but wrong for one our own running instance
// holds (after a reload, or after adopting instances of a crashed daemon).
// Pinned keys skip that check.
type stickyPorts struct {
	next discovery.Ports
	mu   sync.Mutex
	held map[string]int
}

func newStickyPorts(next discovery.Ports) *stickyPorts {
	return &stickyPorts{next: next, held: map[string]int{}}
}

// Pin records a port already in use by one of our instances.
func (s *stickyPorts) Pin(key string, port int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.held[key] = port
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
