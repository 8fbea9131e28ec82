// Package watch delivers a file's new content each time an edit settles.
//
// Editors save in many ways: in place, truncate then write, write a
// temporary file and rename it over the original (atomic save), or rename
// the original to a backup and write a fresh file (vim). So the Watcher
// watches the parent directory with fsnotify and filters by base name,
// treats every kind of event on the name as "something changed", waits for
// the changes to settle (trailing-edge debounce), then reads the file and
// delivers its bytes if they differ from what was last delivered. A
// missing file is a moment inside a save, never an error. A slow stat poll
// runs alongside, for filesystems where inotify sees nothing (network and
// some container mounts, a symlinked file) and for when fsnotify cannot be
// set up at all (inotify instance limits).
package watch

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"
	"go.uber.org/zap"
)

// Watcher watches one file.
//
// Lifecycle: New starts one goroutine (the loop), which owns the fsnotify
// watcher, the debounce timer and the poll ticker. Close stops the loop and
// waits for it. The loop is the only sender on Events and closes it when it
// exits, so a receiver ranging over Events ends after Close; receivers
// never close it.
//
// Delivery is latest-wins: if the receiver has not taken one content yet
// when a newer one settles, the newer replaces it, and a content equal to
// the last one taken is dropped. The loop never blocks on the receiver.
type Watcher struct {
	path   string
	base   string
	events chan []byte
	quit   chan struct{} // closed by Close to stop the loop
	done   chan struct{} // closed by the loop when it has exited
	once   sync.Once
	log    *zap.Logger
}

// New starts watching path. The parent directory must exist; the file
// need not (its first appearance is delivered). debounce <= 0 means
// DefaultDebounce; log nil means zap.NewNop().
func New(path string, debounce time.Duration, log *zap.Logger, opts ...Option) (*Watcher, error) {
	o := options{poll: DefaultPollInterval}
	for _, opt := range opts {
		opt(&o)
	}
	if debounce <= 0 {
		debounce = DefaultDebounce
	}
	if log == nil {
		log = zap.NewNop()
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("watch %s: %w", path, err)
	}
	dir := filepath.Dir(abs)
	if fi, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("watch %s: %w", path, err)
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("watch %s: %s is not a directory", path, dir)
	}

	var fsw *fsnotify.Watcher
	if !o.noFsnotify {
		fsw, err = newFsnotify(dir)
		if err != nil {
			if o.poll <= 0 {
				return nil, fmt.Errorf("watch %s: %w", path, err)
			}
			log.Warn("fsnotify unavailable, polling only", zap.String("path", abs),
				zap.Duration("interval", o.poll), zap.Error(err))
			fsw = nil
		}
	} else if o.poll <= 0 {
		return nil, fmt.Errorf("watch %s: neither fsnotify nor polling enabled", path)
	}

	w := &Watcher{
		path:   abs,
		base:   filepath.Base(abs),
		events: make(chan []byte),
		quit:   make(chan struct{}),
		done:   make(chan struct{}),
		log:    log,
	}
	l := &loop{w: w, fsw: fsw, debounce: debounce, poll: o.poll, onSettle: o.onSettle}
	// Read the starting content after the watch is set, so an edit between
	// the two is seen either as an event or in this read.
	cur, curErr := os.ReadFile(abs)
	l.fp = statFile(abs)
	switch {
	case o.hasBaseline:
		l.last = o.baseline
		if curErr == nil && !bytes.Equal(cur, o.baseline) {
			l.pending, l.hasPending = cur, true
		}
	case curErr == nil:
		l.last = cur
	default:
		// No content yet: whatever appears first is new.
		l.last = nil
		l.noLast = true
	}
	go l.run()
	return w, nil
}

func newFsnotify(dir string) (*fsnotify.Watcher, error) {
	fsw, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, fmt.Errorf("create fsnotify watcher: %w", err)
	}
	if err := fsw.Add(dir); err != nil {
		_ = fsw.Close()
		return nil, fmt.Errorf("watch directory %s: %w", dir, err)
	}
	return fsw, nil
}

// Events delivers the file's full content after each settled change. It is
// closed after Close.
func (w *Watcher) Events() <-chan []byte { return w.events }

// Path is the absolute path being watched.
func (w *Watcher) Path() string { return w.path }

// Close stops watching, waits for the loop to exit and closes Events. It
// is safe to call more than once and from any goroutine.
func (w *Watcher) Close() error {
	w.once.Do(func() { close(w.quit) })
	<-w.done
	return nil
}

// loop is the Watcher's goroutine state; only run touches it.
type loop struct {
	w        *Watcher
	fsw      *fsnotify.Watcher // nil: polling only
	debounce time.Duration
	poll     time.Duration
	onSettle func(content []byte, delivered bool)

	fp         fingerprint // last polled
	last       []byte      // last content taken by the receiver (or the baseline)
	noLast     bool        // no content has existed yet
	pending    []byte      // settled content not yet taken
	hasPending bool
}

func (l *loop) run() {
	w := l.w
	defer close(w.done)
	defer close(w.events)
	if l.fsw != nil {
		defer l.fsw.Close()
	}

	settle := time.NewTimer(l.debounce)
	settle.Stop()
	defer settle.Stop()

	var pollC <-chan time.Time
	if l.poll > 0 {
		t := time.NewTicker(l.poll)
		defer t.Stop()
		pollC = t.C
	}
	var fsEvents <-chan fsnotify.Event
	var fsErrors <-chan error
	if l.fsw != nil {
		fsEvents, fsErrors = l.fsw.Events, l.fsw.Errors
	}

	for {
		var out chan<- []byte
		if l.hasPending {
			out = w.events
		}
		select {
		case <-w.quit:
			return
		case out <- l.pending:
			l.last, l.noLast = l.pending, false
			l.pending, l.hasPending = nil, false
		case ev, ok := <-fsEvents:
			if !ok {
				fsEvents = nil
				continue
			}
			if filepath.Base(ev.Name) == w.base {
				settle.Reset(l.debounce)
			}
		case err, ok := <-fsErrors:
			if !ok {
				fsErrors = nil
				continue
			}
			// An overflow means events were dropped: assume the file changed.
			w.log.Warn("fsnotify error", zap.String("path", w.path), zap.Error(err))
			if errors.Is(err, fsnotify.ErrEventOverflow) {
				settle.Reset(l.debounce)
			}
		case <-pollC:
			if fp := statFile(w.path); fp != l.fp {
				l.fp = fp
				settle.Reset(l.debounce)
			}
		case <-settle.C:
			l.settle()
		}
	}
}

// settle reads the file once changes have been quiet for the debounce and
// queues its content if it is new.
func (l *loop) settle() {
	w := l.w
	l.fp = statFile(w.path) // what we read is now the polled baseline too
	content, err := os.ReadFile(w.path)
	delivered := false
	switch {
	case errors.Is(err, fs.ErrNotExist):
		// Mid-save or deleted: wait for the file to come back.
		w.log.Debug("watched file missing", zap.String("path", w.path))
	case err != nil:
		w.log.Warn("read watched file", zap.String("path", w.path), zap.Error(err))
	case !l.noLast && bytes.Equal(content, l.last):
		// Back to what the receiver has (a touch, or an edit undone
		// before it was taken).
		l.pending, l.hasPending = nil, false
	default:
		l.pending, l.hasPending = content, true
		delivered = true
	}
	if l.onSettle != nil {
		l.onSettle(content, delivered)
	}
}
