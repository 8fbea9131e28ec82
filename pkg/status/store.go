package status

import (
	"reflect"
	"sort"
	"sync"
	"time"
)

// Store is the observed state of a project. All methods are safe for
// concurrent use. One mutex guards the map, the sequence counter and the
// subscriber set, so a subscriber gets a snapshot and then every later
// event, with nothing missed or repeated between them.
type Store struct {
	mu        sync.Mutex
	resources map[string]*Resource
	config    ConfigStatus
	seq       uint64
	subs      map[*subscriber]struct{}
}

type subscriber struct {
	ch chan Event
}

// NewStore returns an empty store.
func NewStore() *Store {
	return &Store{resources: map[string]*Resource{}, subs: map[*subscriber]struct{}{}}
}

// Update applies fn to the named resource (creating it if absent) and
// publishes the result. fn runs under the store lock: keep it short and
// never call back into the store.
func (s *Store) Update(name string, fn func(r *Resource)) Resource {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.resources[name]
	if !ok {
		r = &Resource{Name: name, State: NotStarted}
		s.resources[name] = r
	}
	before := r.Clone()
	fn(r)
	c := r.Clone()
	if ok && reflect.DeepEqual(before, c) {
		// Nothing changed: no event. Reloads re-derive every resource's
		// status; without this, each would flood subscribers.
		return c
	}
	s.publishLocked(Event{Type: EventResource, Resource: &c})
	return c
}

// Remove deletes a resource and publishes its removal.
func (s *Store) Remove(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.resources[name]
	if !ok {
		return
	}
	delete(s.resources, name)
	c := r.Clone()
	s.publishLocked(Event{Type: EventRemoved, Resource: &c})
}

// SetConfig records the outcome of a config load and publishes it.
func (s *Store) SetConfig(c ConfigStatus) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.config = c
	cc := c
	s.publishLocked(Event{Type: EventConfig, Config: &cc})
}

// Config returns the last config status.
func (s *Store) Config() ConfigStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.config
}

// Get returns a copy of one resource.
func (s *Store) Get(name string) (Resource, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.resources[name]
	if !ok {
		return Resource{}, false
	}
	return r.Clone(), true
}

// List returns copies of all resources sorted by name.
func (s *Store) List() []Resource {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.listLocked()
}

func (s *Store) listLocked() []Resource {
	out := make([]Resource, 0, len(s.resources))
	for _, r := range s.resources {
		c := r.Clone()
		c.Env = nil
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Subscribe returns the current resources and config, and a channel of every
// event after that snapshot. buf bounds the channel; a subscriber that falls
// more than buf events behind is dropped: its channel is closed (by the
// store) and it must resubscribe. cancel unsubscribes and closes the channel;
// it is safe to call more than once and after a drop.
func (s *Store) Subscribe(buf int) (snapshot []Resource, cfg ConfigStatus, events <-chan Event, cancel func()) {
	if buf < 1 {
		buf = 1
	}
	sub := &subscriber{ch: make(chan Event, buf)}
	s.mu.Lock()
	snapshot = s.listLocked()
	cfg = s.config
	s.subs[sub] = struct{}{}
	s.mu.Unlock()
	var once sync.Once
	cancel = func() {
		once.Do(func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			if _, ok := s.subs[sub]; ok {
				delete(s.subs, sub)
				close(sub.ch)
			}
		})
	}
	return snapshot, cfg, sub.ch, cancel
}

// publishLocked numbers e and offers it to every subscriber without
// blocking. Caller holds s.mu.
func (s *Store) publishLocked(e Event) {
	s.seq++
	e.Seq = s.seq
	e.Time = time.Now()
	for sub := range s.subs {
		select {
		case sub.ch <- e:
		default:
			delete(s.subs, sub)
			close(sub.ch)
		}
	}
}
