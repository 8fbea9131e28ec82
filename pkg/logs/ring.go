package logs

import "sync"

// Default Ring capacities. A ring holds at most this many lines and this
// many bytes of text, whichever limit is reached first.
const (
	DefaultRingLines = 5000
	DefaultRingBytes = 1 << 20
)

// subscriberBuffer is how many lines a follower may lag behind before
// lines are dropped for it.
const subscriberBuffer = 1024

// Ring is a bounded history of lines with live subscribers. Memory is
// bounded by MaxLines slots plus MaxBytes of text. Appending never blocks:
// a subscriber that does not keep up loses lines, which are counted.
//
// All methods are safe for concurrent use. mu guards every field; it is
// held only for in-memory work and non-blocking channel sends.
type Ring struct {
	mu       sync.Mutex
	maxLines int
	maxBytes int
	buf      []Line // circular once len(buf) == maxLines
	start    int    // index of the oldest line in buf
	n        int    // lines held
	bytes    int    // sum of len(Text) of held lines
	evicted  uint64 // lines pushed out by the capacity limits
	dropped  uint64 // lines not delivered to a slow subscriber (per subscriber)
	subs     map[*subscriber]struct{}
	closed   bool
}

type subscriber struct {
	ch      chan Line
	dropped uint64
}

// RingStats is a snapshot of a Ring's counters.
type RingStats struct {
	Lines, Bytes       int
	MaxLines, MaxBytes int
	Evicted            uint64 // lines pushed out of the history by capacity
	Dropped            uint64 // lines lost by slow subscribers (summed over them)
	Subscribers        int
}

// NewRing returns a Ring holding at most maxLines lines and maxBytes bytes
// of text; values <= 0 select the defaults.
func NewRing(maxLines, maxBytes int) *Ring {
	if maxLines <= 0 {
		maxLines = DefaultRingLines
	}
	if maxBytes <= 0 {
		maxBytes = DefaultRingBytes
	}
	return &Ring{maxLines: maxLines, maxBytes: maxBytes, subs: make(map[*subscriber]struct{})}
}

// Append adds l to the history, evicting the oldest lines as needed, and
// offers it to every subscriber without blocking. Text longer than
// MaxLineBytes is truncated. Appending to a closed Ring is a no-op.
func (r *Ring) Append(l Line) {
	if len(l.Text) > MaxLineBytes {
		l.Text = truncateText([]byte(l.Text))
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	for r.n > 0 && (r.n >= r.maxLines || r.bytes+len(l.Text) > r.maxBytes) {
		r.evictOldest()
	}
	if len(l.Text) <= r.maxBytes {
		r.push(l)
	} else {
		r.evicted++ // a single line larger than the whole ring
	}
	for s := range r.subs {
		select {
		case s.ch <- l:
		default:
			s.dropped++
			r.dropped++
		}
	}
}

func (r *Ring) push(l Line) {
	if len(r.buf) < r.maxLines {
		// Grow lazily: most resources never fill their ring.
		r.buf = append(r.buf, l)
	} else {
		r.buf[(r.start+r.n)%r.maxLines] = l
	}
	r.n++
	r.bytes += len(l.Text)
}

func (r *Ring) evictOldest() {
	r.bytes -= len(r.buf[r.start].Text)
	r.buf[r.start] = Line{} // release the text
	r.start = (r.start + 1) % len(r.buf)
	r.n--
	r.evicted++
	if r.n == 0 {
		r.start = 0
		if len(r.buf) < r.maxLines {
			r.buf = r.buf[:0]
		}
	}
}

// Tail returns a copy of the last n lines, oldest first (all of them if
// n <= 0).
func (r *Ring) Tail(n int) []Line {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.tailLocked(n)
}

func (r *Ring) tailLocked(n int) []Line {
	if n <= 0 || n > r.n {
		n = r.n
	}
	out := make([]Line, n)
	for i := range n {
		out[i] = r.buf[(r.start+r.n-n+i)%len(r.buf)]
	}
	return out
}

// Subscribe returns a channel that receives every line appended from now
// on, and a cancel func that ends the subscription and closes the channel
// (safe to call more than once). Lines are dropped for a subscriber whose
// buffer is full. Closing the Ring closes the channel too.
func (r *Ring) Subscribe() (<-chan Line, func()) {
	_, ch, cancel := r.TailAndSubscribe(-1)
	return ch, cancel
}

// TailAndSubscribe returns the last n lines (none if n < 0, all if n == 0)
// and a subscription starting right after them, taken under one lock so
// that `logs -f` neither misses nor repeats a line between the two.
func (r *Ring) TailAndSubscribe(n int) ([]Line, <-chan Line, func()) {
	s := &subscriber{ch: make(chan Line, subscriberBuffer)}
	r.mu.Lock()
	defer r.mu.Unlock()
	var tail []Line
	if n >= 0 {
		tail = r.tailLocked(n)
	}
	if r.closed {
		close(s.ch)
		return tail, s.ch, func() {}
	}
	r.subs[s] = struct{}{}
	cancel := func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		if _, ok := r.subs[s]; ok {
			delete(r.subs, s)
			close(s.ch)
		}
	}
	return tail, s.ch, cancel
}

// Close ends every subscription (closing their channels) and makes later
// Appends no-ops. The history stays readable with Tail.
func (r *Ring) Close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	r.closed = true
	for s := range r.subs {
		delete(r.subs, s)
		close(s.ch)
	}
}

// Stats returns the Ring's current counters.
func (r *Ring) Stats() RingStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	return RingStats{
		Lines: r.n, Bytes: r.bytes, MaxLines: r.maxLines, MaxBytes: r.maxBytes,
		Evicted: r.evicted, Dropped: r.dropped, Subscribers: len(r.subs),
	}
}

// Dropped returns how many lines slow subscribers have lost in total.
func (r *Ring) Dropped() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.dropped
}
