package logs

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Read sizes. One read is at most readChunk bytes; one poll reads at most
// pollBudget bytes before giving other work (and rotation checks) a turn.
const (
	readChunk  = 64 << 10
	pollBudget = 1 << 20
)

// TailerConfig says which file to follow and where its lines go.
type TailerConfig struct {
	Path     string
	Resource string
	Instance string
	// Offset is where to start reading, as returned by Tailer.Offset of an
	// earlier tailer of the same file (0 = from the beginning). An offset
	// beyond the end of the file means it was truncated: start at 0.
	Offset int64
	// OnLine, if set, is called for every line, in order, from the
	// tailer's goroutine after the line is in the Ring. It must not block
	// for long: it stalls this file's tailer (never the writer).
	OnLine func(Line)
}

// TailerStats is a snapshot of a Tailer's counters.
type TailerStats struct {
	Offset       int64
	Lines        uint64 // lines emitted
	SkippedBytes uint64 // bytes never read into the Ring because the tailer fell behind (see rotate)
	Rotations    uint64
	Truncations  uint64 // times the file shrank under the tailer
}

// Tailer follows one log file: it reads what is appended, splits it into
// lines and appends them to a Ring (and OnLine). It keeps the file bounded
// by rotating it (see rotate.go). A Manager drives it; Poll may also be
// called directly, e.g. for a final drain.
//
// mu serializes Poll and guards all file state; Offset and Stats may be
// called at any time without waiting for a Poll.
type Tailer struct {
	cfg  TailerConfig
	ring *Ring
	rot  rotation

	mu        sync.Mutex
	f         *os.File
	pos       int64  // next byte of f to read
	lineStart int64  // file position of the first byte of partial
	partial   []byte // bytes of an unfinished line, at most MaxLineBytes
	discard   bool   // inside an overlong line (or after a skip): drop until '\n'
	buf       []byte

	offset      atomic.Int64
	lines       atomic.Uint64
	skipped     atomic.Uint64
	rotations   atomic.Uint64
	truncations atomic.Uint64

	kick chan struct{} // buffered(1); a pending poll request
	stop chan struct{} // closed by the Manager to end the goroutine
	done chan struct{} // closed when the goroutine has ended
}

// rotation configures size-based copytruncate rotation.
type rotation struct {
	maxSize int64 // <= 0: never rotate
	keep    int
}

func newTailer(cfg TailerConfig, ring *Ring, rot rotation) *Tailer {
	t := &Tailer{
		cfg:       cfg,
		ring:      ring,
		rot:       rot,
		pos:       cfg.Offset,
		lineStart: cfg.Offset,
		kick:      make(chan struct{}, 1),
		stop:      make(chan struct{}),
		done:      make(chan struct{}),
	}
	t.offset.Store(cfg.Offset)
	return t
}

// Path returns the followed file.
func (t *Tailer) Path() string { return t.cfg.Path }

// Ring returns the Ring the tailer appends to.
func (t *Tailer) Ring() *Ring { return t.ring }

// Offset returns the file position just after the last complete line
// emitted. Persist it and pass it as TailerConfig.Offset to continue after
// a daemon restart without emitting any line twice.
func (t *Tailer) Offset() int64 { return t.offset.Load() }

// Stats returns the tailer's counters.
func (t *Tailer) Stats() TailerStats {
	return TailerStats{
		Offset:       t.offset.Load(),
		Lines:        t.lines.Load(),
		SkippedBytes: t.skipped.Load(),
		Rotations:    t.rotations.Load(),
		Truncations:  t.truncations.Load(),
	}
}

// wake requests a poll without blocking; requests coalesce.
func (t *Tailer) wake() {
	select {
	case t.kick <- struct{}{}:
	default:
	}
}

// run is the tailer's goroutine: it polls when woken until stop is
// closed, then drains once more so output written just before an
// instance exited is not lost.
func (t *Tailer) run(onErr func(error)) {
	defer close(t.done)
	var lastErr string // report a persistent error once, not every poll
	for {
		select {
		case <-t.stop:
			for range 4 { // bounded final drain
				more, err := t.Poll()
				if err != nil || !more {
					break
				}
			}
			t.close()
			return
		case <-t.kick:
		}
		more, err := t.Poll()
		if err != nil && err.Error() != lastErr {
			onErr(err)
		}
		lastErr = ""
		if err != nil {
			lastErr = err.Error()
		}
		if more {
			t.wake()
		}
	}
}

func (t *Tailer) close() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.f != nil {
		t.f.Close()
		t.f = nil
	}
}

// Poll reads what has been appended since the last call (at most
// pollBudget bytes) and emits the complete lines. It reports whether more
// data is waiting. A missing file is not an error: it has not been
// created yet.
func (t *Tailer) Poll() (more bool, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.reopenIfReplaced(); err != nil {
		return false, err
	}
	if t.f == nil {
		return false, nil
	}
	fi, err := t.f.Stat()
	if err != nil {
		return false, fmt.Errorf("tail %s: %w", t.cfg.Path, err)
	}
	size := fi.Size()
	if size < t.pos {
		// Truncated by someone else (or our saved offset is stale).
		t.truncations.Add(1)
		t.resetTo(0)
	}
	if t.rot.maxSize > 0 && size > t.rot.maxSize {
		if err := t.rotate(size); err != nil {
			return false, fmt.Errorf("rotate %s: %w", t.cfg.Path, err)
		}
		return true, nil // the file now starts over; read what came since
	}
	return t.readUpTo(pollBudget)
}

// reopenIfReplaced opens the file if it is not open, and switches to a
// new file at the path if the old one was removed or renamed, after
// draining what is left of the old one.
func (t *Tailer) reopenIfReplaced() error {
	pfi, err := os.Stat(t.cfg.Path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil // keep reading an open file that was unlinked
		}
		return fmt.Errorf("tail %s: %w", t.cfg.Path, err)
	}
	if t.f != nil {
		ofi, err := t.f.Stat()
		if err == nil && os.SameFile(pfi, ofi) {
			return nil
		}
		_, _ = t.readUpTo(pollBudget) // drain the old file
		t.f.Close()
		t.f = nil
		t.truncations.Add(1)
		t.resetTo(0)
	}
	f, err := os.Open(t.cfg.Path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("tail %s: %w", t.cfg.Path, err)
	}
	t.f = f
	return nil
}

// resetTo restarts reading at pos, forgetting any unfinished line.
func (t *Tailer) resetTo(pos int64) {
	t.pos = pos
	t.lineStart = pos
	t.partial = t.partial[:0]
	t.discard = false
	t.offset.Store(pos)
}

// readUpTo reads and splits at most budget bytes from t.pos.
func (t *Tailer) readUpTo(budget int) (more bool, err error) {
	if t.buf == nil {
		t.buf = make([]byte, readChunk)
	}
	for read := 0; read < budget; {
		n, err := t.f.ReadAt(t.buf, t.pos)
		if n > 0 {
			t.feed(t.buf[:n], time.Now())
			read += n
		}
		if err == io.EOF || (err == nil && n == 0) {
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("tail %s: %w", t.cfg.Path, err)
		}
	}
	return true, nil
}

// feed splits b, the bytes at t.pos, into lines and advances t.pos.
func (t *Tailer) feed(b []byte, now time.Time) {
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			t.pos += int64(len(b))
			t.addPartial(b)
			return
		}
		t.pos += int64(i + 1)
		seg := b[:i]
		b = b[i+1:]
		if t.discard {
			t.discard = false
			t.partial = t.partial[:0]
		} else {
			var text []byte
			if len(t.partial) > 0 {
				t.addPartial(seg)
				if t.discard { // seg overflowed: the line was emitted truncated
					t.discard = false
					t.partial = t.partial[:0]
					t.lineStart = t.pos
					t.offset.Store(t.pos)
					continue
				}
				text = t.partial
			} else {
				text = seg
			}
			t.emit(text, now)
			t.partial = t.partial[:0]
		}
		t.lineStart = t.pos
		t.offset.Store(t.pos)
	}
}

// addPartial appends b to the unfinished line; once it would exceed
// MaxLineBytes the line is emitted truncated and the rest discarded.
func (t *Tailer) addPartial(b []byte) {
	if t.discard {
		return
	}
	if len(t.partial)+len(b) <= MaxLineBytes {
		t.partial = append(t.partial, b...)
		return
	}
	line := append(t.partial, b...)
	t.emit(line, time.Now()) // emit truncates
	t.partial = t.partial[:0]
	t.discard = true
}

func (t *Tailer) emit(text []byte, now time.Time) {
	text = bytes.TrimSuffix(text, []byte{'\r'})
	l := Line{Resource: t.cfg.Resource, Instance: t.cfg.Instance, Time: now, Text: truncateText(text)}
	t.ring.Append(l)
	t.lines.Add(1)
	if t.cfg.OnLine != nil {
		t.cfg.OnLine(l)
	}
}
