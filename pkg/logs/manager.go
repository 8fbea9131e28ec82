package logs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"
	"go.uber.org/zap"
)

// DefaultPollInterval is how often every tailer is polled when fsnotify
// is unavailable. With fsnotify working, files are still polled, but
// notifiedPollFactor times less often: a safety net for lost events that
// keeps idle CPU near zero with hundreds of files.
const DefaultPollInterval = 250 * time.Millisecond

const notifiedPollFactor = 8

// Options configures a Manager. Zero values select the defaults.
type Options struct {
	MaxFileSize  int64         // rotate a file once it exceeds this; < 0 disables rotation
	Keep         int           // rotated copies kept (FILE.1..FILE.Keep); < 0 keeps none
	RingLines    int           // per-resource history, in lines
	RingBytes    int           // per-resource history, in bytes of text
	PollInterval time.Duration // see DefaultPollInterval
	// PollOnly skips fsnotify (for filesystems without inotify, such as
	// NFS); files are then only polled.
	PollOnly bool
}

func (o Options) withDefaults() Options {
	if o.MaxFileSize == 0 {
		o.MaxFileSize = DefaultMaxFileSize
	}
	if o.Keep == 0 {
		o.Keep = DefaultKeep
	} else if o.Keep < 0 {
		o.Keep = 0
	}
	if o.PollInterval <= 0 {
		o.PollInterval = DefaultPollInterval
	}
	return o
}

// Manager follows many log files with one fsnotify watcher (on their
// directories) and one poll ticker, and owns one Ring per resource.
// Each file has a Tailer goroutine that sleeps until woken, so idle cost
// is one ticker and a stat per file per PollInterval.
//
// Lifecycle: NewManager, then Add/Remove any number of times, then Close
// (which stops every tailer after a final drain). mu guards tailers,
// dirs, rings and closed; it is never held while a tailer reads.
type Manager struct {
	log     *zap.Logger
	opts    Options
	watcher *fsnotify.Watcher // nil if fsnotify is unavailable: poll only

	mu      sync.Mutex
	tailers map[string]*Tailer // by cleaned path
	dirs    map[string]int     // watched directory -> tailers in it
	rings   map[string]*Ring   // by resource
	closed  bool

	stop chan struct{} // closed by Close
	done chan struct{} // closed when the event loop has ended
}

// NewManager starts a Manager. log may be nil. If fsnotify cannot be set
// up, the Manager still works by polling.
func NewManager(log *zap.Logger, opts Options) *Manager {
	if log == nil {
		log = zap.NewNop()
	}
	m := &Manager{
		log:     log.Named("logs"),
		opts:    opts.withDefaults(),
		tailers: make(map[string]*Tailer),
		dirs:    make(map[string]int),
		rings:   make(map[string]*Ring),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	if !m.opts.PollOnly {
		w, err := fsnotify.NewWatcher()
		if err != nil {
			m.log.Warn("fsnotify unavailable, polling log files", zap.Error(err))
		} else {
			m.watcher = w
		}
	}
	go m.loop()
	return m
}

// Ring returns the resource's Ring, creating it if needed.
func (m *Manager) Ring(resource string) *Ring {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.ringLocked(resource)
}

func (m *Manager) ringLocked(resource string) *Ring {
	r := m.rings[resource]
	if r == nil {
		r = NewRing(m.opts.RingLines, m.opts.RingBytes)
		m.rings[resource] = r
	}
	return r
}

// CloseRing closes and forgets the resource's Ring (ending its followers),
// for a resource removed from the graph. Its tailers should be removed
// first.
func (m *Manager) CloseRing(resource string) {
	m.mu.Lock()
	r := m.rings[resource]
	delete(m.rings, resource)
	m.mu.Unlock()
	if r != nil {
		r.Close()
	}
}

// Add starts following cfg.Path into the Ring of cfg.Resource. The file
// need not exist yet; its directory is created (0700) so it can be
// watched. Adding a path that is already followed returns the existing
// Tailer unchanged.
func (m *Manager) Add(cfg TailerConfig) (*Tailer, error) {
	if cfg.Path == "" {
		return nil, errors.New("add tailer: empty path")
	}
	cfg.Path = filepath.Clean(cfg.Path)
	dir := filepath.Dir(cfg.Path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("add tailer %s: %w", cfg.Path, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, fmt.Errorf("add tailer %s: manager closed", cfg.Path)
	}
	if t := m.tailers[cfg.Path]; t != nil {
		return t, nil
	}
	if m.dirs[dir] == 0 && m.watcher != nil {
		if err := m.watcher.Add(dir); err != nil {
			// Polling still covers it.
			m.log.Warn("cannot watch log directory", zap.String("dir", dir), zap.Error(err))
		}
	}
	m.dirs[dir]++
	rot := rotation{maxSize: m.opts.MaxFileSize, keep: m.opts.Keep}
	t := newTailer(cfg, m.ringLocked(cfg.Resource), rot)
	m.tailers[cfg.Path] = t
	go t.run(func(err error) {
		m.log.Warn("tail failed", zap.String("path", cfg.Path), zap.Error(err))
	})
	t.wake()
	return t, nil
}

// Remove stops following path after a final drain and returns the
// Tailer's final offset. Unknown paths are a no-op returning 0.
func (m *Manager) Remove(path string) int64 {
	path = filepath.Clean(path)
	m.mu.Lock()
	t := m.tailers[path]
	if t == nil {
		m.mu.Unlock()
		return 0
	}
	delete(m.tailers, path)
	dir := filepath.Dir(path)
	m.dirs[dir]--
	if m.dirs[dir] <= 0 {
		delete(m.dirs, dir)
		if m.watcher != nil {
			_ = m.watcher.Remove(dir)
		}
	}
	m.mu.Unlock()
	close(t.stop)
	<-t.done
	return t.Offset()
}

// Tailer returns the tailer of path, or nil.
func (m *Manager) Tailer(path string) *Tailer {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.tailers[filepath.Clean(path)]
}

// Offsets returns the current offset of every followed file, for the
// daemon to persist.
func (m *Manager) Offsets() map[string]int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string]int64, len(m.tailers))
	for p, t := range m.tailers {
		out[p] = t.Offset()
	}
	return out
}

// Close stops every tailer (after a final drain) and the watcher. Rings
// stay readable.
func (m *Manager) Close() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	tailers := make([]*Tailer, 0, len(m.tailers))
	for _, t := range m.tailers {
		tailers = append(tailers, t)
	}
	m.tailers = map[string]*Tailer{}
	m.mu.Unlock()

	close(m.stop)
	<-m.done
	for _, t := range tailers {
		close(t.stop)
	}
	for _, t := range tailers {
		<-t.done
	}
	if m.watcher != nil {
		return m.watcher.Close()
	}
	return nil
}

// loop turns notifications and ticks into tailer wake-ups.
func (m *Manager) loop() {
	defer close(m.done)
	interval := m.opts.PollInterval
	if m.watcher != nil {
		interval *= notifiedPollFactor
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	var events chan fsnotify.Event
	var errs chan error
	if m.watcher != nil {
		events, errs = m.watcher.Events, m.watcher.Errors
	}
	for {
		select {
		case <-m.stop:
			return
		case ev, ok := <-events:
			if !ok {
				events = nil
				continue
			}
			m.mu.Lock()
			t := m.tailers[filepath.Clean(ev.Name)]
			m.mu.Unlock()
			if t != nil {
				t.wake()
			}
		case err, ok := <-errs:
			if !ok {
				errs = nil
				continue
			}
			// Overflow means lost events: poll everything now.
			m.log.Debug("fsnotify error", zap.Error(err))
			m.wakeAll()
		case <-tick.C:
			m.wakeAll()
		}
	}
}

func (m *Manager) wakeAll() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, t := range m.tailers {
		t.wake()
	}
}
