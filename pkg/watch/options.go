package watch

import "time"

// Defaults. The debounce is short because an edit-to-new-process budget
// of 150 ms (BENCHMARKS.md W2) includes it; editors finish a save in well
// under a millisecond, so 30 ms of quiet is plenty to call it settled.
const (
	DefaultDebounce     = 30 * time.Millisecond
	DefaultPollInterval = time.Second
)

// Option adjusts a Watcher.
type Option func(*options)

type options struct {
	poll        time.Duration // <= 0: no polling
	noFsnotify  bool
	baseline    []byte
	hasBaseline bool
	// onSettle is a test hook called on the loop goroutine after each
	// settle with what was read (nil: missing or unreadable) and whether it
	// was queued.
	onSettle func(content []byte, delivered bool)
}

// WithPollInterval sets how often the file is stat'ed as a fallback for
// missed or unavailable fsnotify events; d <= 0 turns polling off.
func WithPollInterval(d time.Duration) Option {
	return func(o *options) { o.poll = d }
}

// WithoutFsnotify makes the Watcher rely on polling alone.
func WithoutFsnotify() Option {
	return func(o *options) { o.noFsnotify = true }
}

// WithBaseline sets the content the caller has already loaded. If the file
// differs from it when New reads it, that content is delivered at once, so
// an edit landing between the caller's read and New is not lost. Without
// it, the content New reads is the baseline.
func WithBaseline(content []byte) Option {
	return func(o *options) {
		o.baseline = append([]byte{}, content...)
		o.hasBaseline = true
	}
}
