package reconcile

import (
	"sync"
	"time"
)

// Queue is a de-duplicating work queue of resource names, with the
// semantics of client-go's workqueue that controller-runtime builds on:
//
//   - a key added while queued is not queued twice;
//   - a key added while being processed is re-queued once Done is called,
//     so one key is never processed by two workers at once;
//   - AddAfter schedules an Add; the earliest pending deadline wins.
//
// One mutex guards all fields; cond signals waiting workers.
type Queue struct {
	mu         sync.Mutex
	cond       *sync.Cond
	items      []string
	queued     map[string]bool
	processing map[string]bool
	dirty      map[string]bool // added while processing
	timers     map[string]*time.Timer
	deadlines  map[string]time.Time
	shutdown   bool
}

// NewQueue returns an empty queue.
func NewQueue() *Queue {
	q := &Queue{
		queued:     map[string]bool{},
		processing: map[string]bool{},
		dirty:      map[string]bool{},
		timers:     map[string]*time.Timer{},
		deadlines:  map[string]time.Time{},
	}
	q.cond = sync.NewCond(&q.mu)
	return q
}

// Add queues key now.
func (q *Queue) Add(key string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.addLocked(key)
}

func (q *Queue) addLocked(key string) {
	if q.shutdown {
		return
	}
	if q.processing[key] {
		q.dirty[key] = true
		return
	}
	if q.queued[key] {
		return
	}
	q.queued[key] = true
	q.items = append(q.items, key)
	q.cond.Signal()
}

// AddAfter queues key once d has passed, unless an earlier AddAfter for the
// same key is pending.
func (q *Queue) AddAfter(key string, d time.Duration) {
	if d <= 0 {
		q.Add(key)
		return
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.shutdown {
		return
	}
	at := time.Now().Add(d)
	if old, ok := q.deadlines[key]; ok && !old.After(at) {
		return
	}
	if t := q.timers[key]; t != nil {
		t.Stop()
	}
	q.deadlines[key] = at
	q.timers[key] = time.AfterFunc(d, func() {
		q.mu.Lock()
		defer q.mu.Unlock()
		if q.deadlines[key].Equal(at) {
			delete(q.deadlines, key)
			delete(q.timers, key)
		}
		q.addLocked(key)
	})
}

// Get blocks until a key is available or the queue shuts down (ok false).
// The caller must call Done(key) when finished with it.
func (q *Queue) Get() (key string, ok bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.items) == 0 && !q.shutdown {
		q.cond.Wait()
	}
	if q.shutdown {
		return "", false
	}
	key = q.items[0]
	q.items[0] = ""
	q.items = q.items[1:]
	delete(q.queued, key)
	q.processing[key] = true
	return key, true
}

// Done marks key finished; if it was added meanwhile it is queued again.
func (q *Queue) Done(key string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	delete(q.processing, key)
	if q.dirty[key] {
		delete(q.dirty, key)
		q.addLocked(key)
	}
}

// ShutDown wakes all workers; Get returns ok=false from then on.
func (q *Queue) ShutDown() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.shutdown = true
	for k, t := range q.timers {
		t.Stop()
		delete(q.timers, k)
	}
	q.cond.Broadcast()
}

// Len is the number of queued keys (for tests and metrics).
func (q *Queue) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items)
}
