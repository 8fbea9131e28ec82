package watch

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// guard bounds waits for things that must happen; a hang guard, not a speed
// assertion.
const guard = 10 * time.Second

// missing is what settles records when the file could not be read.
const missing = "\x00missing"

// settles records the loop's settle decisions through the test hook, so
// tests can wait for "the loop has looked at content X" instead of sleeping.
type settles struct {
	mu     sync.Mutex
	got    []settled
	pos    int // next index waitSettled looks at
	notify chan struct{}
}

type settled struct {
	content   string
	delivered bool
}

func (s *settles) hook(content []byte, delivered bool) {
	c := string(content)
	if content == nil {
		c = missing
	}
	s.mu.Lock()
	s.got = append(s.got, settled{c, delivered})
	s.mu.Unlock()
	select {
	case s.notify <- struct{}{}:
	default:
	}
}

// waitSettled waits for the next settle that read want and reports whether
// it was queued for delivery.
func (s *settles) waitSettled(t *testing.T, want string) bool {
	t.Helper()
	deadline := time.After(guard)
	for {
		s.mu.Lock()
		for ; s.pos < len(s.got); s.pos++ {
			if g := s.got[s.pos]; g.content == want {
				s.pos++
				s.mu.Unlock()
				return g.delivered
			}
		}
		s.mu.Unlock()
		select {
		case <-s.notify:
		case <-deadline:
			t.Fatalf("no settle reading %q within %s", want, guard)
		}
	}
}

func newTestWatcher(t *testing.T, path string, opts ...Option) (*Watcher, *settles) {
	t.Helper()
	s := &settles{notify: make(chan struct{}, 1)}
	opts = append(opts, func(o *options) { o.onSettle = s.hook })
	w, err := New(path, 0, nil, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.Close() })
	return w, s
}

// next returns the next delivery.
func next(t *testing.T, w *Watcher) []byte {
	t.Helper()
	select {
	case b, ok := <-w.Events():
		if !ok {
			t.Fatal("Events closed")
		}
		return b
	case <-time.After(guard):
		t.Fatalf("no delivery within %s", guard)
	}
	return nil
}

// waitContent receives until a delivery equals want and returns every
// delivery seen, want last.
func waitContent(t *testing.T, w *Watcher, want string) []string {
	t.Helper()
	var seen []string
	for {
		got := string(next(t, w))
		seen = append(seen, got)
		if got == want {
			return seen
		}
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// atomicSave writes content the way most editors and the W2 benchmark do:
// a temporary file in the same directory renamed over the target.
func atomicSave(t *testing.T, path, content string) {
	t.Helper()
	if err := writeAndRename(path+".tmp~", path, content); err != nil {
		t.Fatal(err)
	}
}

func writeAndRename(tmp, path, content string) error {
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func projectFile(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "apphost.hcl")
	writeFile(t, path, content)
	return path
}

func TestWriteInPlace(t *testing.T) {
	path := projectFile(t, "v1")
	w, _ := newTestWatcher(t, path)
	writeFile(t, path, "v2")
	if got := string(next(t, w)); got != "v2" {
		t.Fatalf("got %q, want v2", got)
	}
}

func TestAtomicRenameOver(t *testing.T) {
	path := projectFile(t, "v1")
	w, _ := newTestWatcher(t, path)
	atomicSave(t, path, "v2")
	if got := string(next(t, w)); got != "v2" {
		t.Fatalf("got %q, want v2", got)
	}
	atomicSave(t, path, "v3")
	if got := string(next(t, w)); got != "v3" {
		t.Fatalf("got %q, want v3", got)
	}
}

func TestVimStyleBackupThenWrite(t *testing.T) {
	path := projectFile(t, "v1")
	w, _ := newTestWatcher(t, path)
	// vim with backupcopy=no: rename the original away, write a new file.
	if err := os.Rename(path, path+"~"); err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, "v2")
	if err := os.Remove(path + "~"); err != nil {
		t.Fatal(err)
	}
	if got := string(next(t, w)); got != "v2" {
		t.Fatalf("got %q, want v2", got)
	}
}

func TestTruncateThenWrite(t *testing.T) {
	path := projectFile(t, "version one")
	w, _ := newTestWatcher(t, path)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("version "); err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("two"); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	waitContent(t, w, "version two")
}

func TestDeleteThenRecreate(t *testing.T) {
	path := projectFile(t, "v1")
	w, s := newTestWatcher(t, path)
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if s.waitSettled(t, missing) {
		t.Fatal("a deletion was delivered")
	}
	writeFile(t, path, "v2")
	if got := string(next(t, w)); got != "v2" {
		t.Fatalf("got %q after recreate, want v2", got)
	}
}

func TestRecreateWithSameContentDeliversNothing(t *testing.T) {
	path := projectFile(t, "v1")
	w, s := newTestWatcher(t, path)
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	s.waitSettled(t, missing)
	writeFile(t, path, "v1")
	if s.waitSettled(t, "v1") {
		t.Fatal("recreating identical content was delivered")
	}
	writeFile(t, path, "v2")
	if got := string(next(t, w)); got != "v2" {
		t.Fatalf("got %q, want v2", got)
	}
}

func TestBurstCoalesces(t *testing.T) {
	path := projectFile(t, "v0")
	w, _ := newTestWatcher(t, path)
	for i := 1; i <= 20; i++ {
		writeFile(t, path, "v"+strings.Repeat("x", i))
	}
	final := "v" + strings.Repeat("x", 20)
	seen := waitContent(t, w, final)
	if len(seen) > 5 {
		t.Errorf("20 writes in a burst gave %d deliveries, want a few: %q", len(seen), seen)
	}
}

func TestUnchangedTouchDeliversNothing(t *testing.T) {
	path := projectFile(t, "v1")
	w, s := newTestWatcher(t, path)
	later := time.Now().Add(time.Hour)
	if err := os.Chtimes(path, later, later); err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, "v1") // rewrite the same bytes
	if s.waitSettled(t, "v1") {
		t.Fatal("unchanged content was queued for delivery")
	}
	// The next delivery must be the real change, not the touch.
	writeFile(t, path, "v2")
	if got := string(next(t, w)); got != "v2" {
		t.Fatalf("got %q, want v2", got)
	}
}

func TestLatestWinsForSlowReceiver(t *testing.T) {
	path := projectFile(t, "v1")
	w, s := newTestWatcher(t, path)
	writeFile(t, path, "v2")
	s.waitSettled(t, "v2") // queued, not yet taken
	writeFile(t, path, "v3")
	s.waitSettled(t, "v3")
	if got := string(next(t, w)); got != "v3" {
		t.Fatalf("got %q, want only the newest, v3", got)
	}
	// An edit undone before it was taken is not delivered at all.
	writeFile(t, path, "v4")
	s.waitSettled(t, "v4")
	writeFile(t, path, "v3")
	if s.waitSettled(t, "v3") {
		t.Error("content equal to the last taken was queued")
	}
	writeFile(t, path, "v5")
	if got := string(next(t, w)); got != "v5" {
		t.Fatalf("got %q, want v5", got)
	}
}

func TestPollFallbackAlone(t *testing.T) {
	path := projectFile(t, "v1")
	w, _ := newTestWatcher(t, path, WithoutFsnotify(), WithPollInterval(20*time.Millisecond))
	writeFile(t, path, "v2-longer")
	waitContent(t, w, "v2-longer")
	atomicSave(t, path, "v3")
	waitContent(t, w, "v3")
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, "v4")
	waitContent(t, w, "v4")
}

func TestFileAbsentAtStart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "apphost.yaml")
	w, _ := newTestWatcher(t, path)
	atomicSave(t, path, "")
	if got := next(t, w); len(got) != 0 {
		t.Fatalf("got %q, want the empty first content", got)
	}
}

func TestBaselineCatchesEditBeforeNew(t *testing.T) {
	path := projectFile(t, "v2")
	w, _ := newTestWatcher(t, path, WithBaseline([]byte("v1")))
	if got := string(next(t, w)); got != "v2" {
		t.Fatalf("got %q, want v2 (differs from the baseline)", got)
	}
	// Same content as the baseline: nothing at start, then a real change.
	path = projectFile(t, "v1")
	w, s := newTestWatcher(t, path, WithBaseline([]byte("v1")))
	writeFile(t, path, "v1")
	if s.waitSettled(t, "v1") {
		t.Fatal("content equal to the baseline was queued")
	}
	writeFile(t, path, "v3")
	if got := string(next(t, w)); got != "v3" {
		t.Fatalf("got %q, want v3", got)
	}
}

func TestNewErrors(t *testing.T) {
	if _, err := New(filepath.Join(t.TempDir(), "missing", "apphost.hcl"), 0, nil); err == nil {
		t.Error("New with a missing parent directory succeeded")
	}
	path := projectFile(t, "x")
	if _, err := New(path, 0, nil, WithoutFsnotify(), WithPollInterval(0)); err == nil {
		t.Error("New with neither fsnotify nor polling succeeded")
	}
}

func TestCloseEndsGoroutines(t *testing.T) {
	path := projectFile(t, "v1")
	before := runtime.NumGoroutine()
	w, err := New(path, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, "v2") // leave a delivery pending: Close must not block on it
	time.Sleep(50 * time.Millisecond)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-w.done:
	default:
		t.Fatal("loop still running after Close returned")
	}
	for range w.Events() { // must end: Events is closed
	}
	if err := w.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	// fsnotify's reader goroutine exits asynchronously after its Close.
	deadline := time.Now().Add(guard)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Errorf("%d goroutines after Close, %d before New", n, before)
	}
}
