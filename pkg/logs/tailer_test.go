package logs

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// runSh runs script with sh, its stdout appended to path (O_APPEND, as the
// process driver does), and waits for it.
func runSh(t testing.TB, path, script string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd := exec.Command("sh", "-c", script)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Run(); err != nil {
		t.Fatalf("sh -c %q: %v", script, err)
	}
}

// eventually polls cond until it holds, failing the test after 30s.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func newManager(t testing.TB, opts Options) *Manager {
	t.Helper()
	m := NewManager(nil, opts)
	t.Cleanup(func() { m.Close() })
	return m
}

// recorder collects OnLine callbacks.
type recorder struct {
	mu    sync.Mutex
	lines []string
}

func (r *recorder) add(l Line) {
	r.mu.Lock()
	r.lines = append(r.lines, l.Instance+"|"+l.Text)
	r.mu.Unlock()
}

func (r *recorder) get() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.lines...)
}

func wantSeq(t *testing.T, got []string, prefix string, from, to int) {
	t.Helper()
	if len(got) != to-from+1 {
		t.Fatalf("got %d lines, want %d (first %q)", len(got), to-from+1, first(got))
	}
	for i, s := range got {
		if want := prefix + strconv.Itoa(from+i); s != want {
			t.Fatalf("line %d = %q, want %q", i, s, want)
		}
	}
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

func TestAllLinesArriveInOrder(t *testing.T) {
	for _, pollOnly := range []bool{false, true} {
		t.Run(fmt.Sprintf("pollOnly=%v", pollOnly), func(t *testing.T) {
			m := newManager(t, Options{PollOnly: pollOnly})
			path := filepath.Join(t.TempDir(), "logs", "api-0.log")
			rec := &recorder{}
			tl, err := m.Add(TailerConfig{Path: path, Resource: "api", Instance: "api-0", OnLine: rec.add})
			if err != nil {
				t.Fatal(err)
			}
			runSh(t, path, `for i in $(seq 1 1000); do echo line $i; done`)
			ring := m.Ring("api")
			eventually(t, "1000 lines", func() bool { return ring.Stats().Lines == 1000 })
			wantSeq(t, texts(ring.Tail(0)), "line ", 1, 1000)
			eventually(t, "1000 callbacks", func() bool { return len(rec.get()) == 1000 })
			wantSeq(t, rec.get(), "api-0|line ", 1, 1000)
			wantSeq(t, texts(ring.Tail(10)), "line ", 991, 1000)
			fi, _ := os.Stat(path)
			if tl.Offset() != fi.Size() {
				t.Fatalf("Offset = %d, file size %d", tl.Offset(), fi.Size())
			}
			for _, l := range ring.Tail(3) {
				if l.Resource != "api" || l.Instance != "api-0" || l.Time.IsZero() {
					t.Fatalf("line metadata %+v", l)
				}
			}
		})
	}
}

func TestFollowerSeesNewLines(t *testing.T) {
	m := newManager(t, Options{})
	path := filepath.Join(t.TempDir(), "web-0.log")
	if _, err := m.Add(TailerConfig{Path: path, Resource: "web", Instance: "web-0"}); err != nil {
		t.Fatal(err)
	}
	runSh(t, path, `echo old1; echo old2`)
	ring := m.Ring("web")
	eventually(t, "old lines", func() bool { return ring.Stats().Lines == 2 })
	tail, ch, cancel := ring.TailAndSubscribe(1)
	defer cancel()
	if len(tail) != 1 || tail[0].Text != "old2" {
		t.Fatalf("tail = %v", texts(tail))
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd := exec.Command("sh", "-c", `for i in 1 2 3; do echo new$i; sleep 0.05; done`)
	cmd.Stdout = f
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	for i := 1; i <= 3; i++ {
		select {
		case l := <-ch:
			if l.Text != "new"+strconv.Itoa(i) {
				t.Fatalf("follower got %q, want new%d", l.Text, i)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("follower got no new%d", i)
		}
	}
}

func TestPartialAndLongLines(t *testing.T) {
	m := newManager(t, Options{})
	path := filepath.Join(t.TempDir(), "p-0.log")
	tl, _ := m.Add(TailerConfig{Path: path, Resource: "p", Instance: "p-0"})
	ring := m.Ring("p")
	runSh(t, path, `printf 'abc'`)
	eventually(t, "partial read", func() bool {
		tl.mu.Lock()
		defer tl.mu.Unlock()
		return tl.pos == 3
	})
	if n := ring.Stats().Lines; n != 0 {
		t.Fatalf("an unfinished line was emitted (%d lines)", n)
	}
	if tl.Offset() != 0 {
		t.Fatalf("Offset %d moved past an unfinished line", tl.Offset())
	}
	// Finish it, then a 40 KiB line, then a CRLF line.
	runSh(t, path, `printf 'def\n'; head -c 40000 /dev/zero | tr '\0' x; printf '\nnext\r\n'`)
	eventually(t, "3 lines", func() bool { return ring.Stats().Lines == 3 })
	got := ring.Tail(0)
	if got[0].Text != "abcdef" {
		t.Fatalf("line 1 = %q", got[0].Text)
	}
	if want := strings.Repeat("x", MaxLineBytes) + TruncatedMarker; got[1].Text != want {
		t.Fatalf("long line is %d bytes, want %d ending in the marker", len(got[1].Text), len(want))
	}
	if got[2].Text != "next" {
		t.Fatalf("line 3 = %q", got[2].Text)
	}
}

func TestRestartFromSavedOffsetDoesNotDuplicate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db-0.log")
	m1 := NewManager(nil, Options{})
	if _, err := m1.Add(TailerConfig{Path: path, Resource: "db", Instance: "db-0"}); err != nil {
		t.Fatal(err)
	}
	runSh(t, path, `for i in $(seq 1 100); do echo l$i; done; printf 'l1'`) // l101 unfinished
	ring1 := m1.Ring("db")
	eventually(t, "first 100", func() bool { return ring1.Stats().Lines == 100 })
	saved := m1.Remove(path)
	m1.Close()
	wantSeq(t, texts(ring1.Tail(0)), "l", 1, 100)

	// While the daemon is down, output continues.
	runSh(t, path, `printf '01\n'; for i in $(seq 102 150); do echo l$i; done`)

	m2 := newManager(t, Options{})
	rec := &recorder{}
	if _, err := m2.Add(TailerConfig{Path: path, Resource: "db", Instance: "db-0", Offset: saved, OnLine: rec.add}); err != nil {
		t.Fatal(err)
	}
	ring2 := m2.Ring("db")
	eventually(t, "lines after restart", func() bool { return ring2.Stats().Lines == 50 })
	wantSeq(t, texts(ring2.Tail(0)), "l", 101, 150)
	wantSeq(t, rec.get(), "db-0|l", 101, 150)
}

func TestTruncationRestartsAtZero(t *testing.T) {
	m := newManager(t, Options{})
	path := filepath.Join(t.TempDir(), "t-0.log")
	tl, _ := m.Add(TailerConfig{Path: path, Resource: "t", Instance: "t-0"})
	ring := m.Ring("t")
	runSh(t, path, `for i in $(seq 1 50); do echo before$i; done`)
	eventually(t, "50 lines", func() bool { return ring.Stats().Lines == 50 })
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	runSh(t, path, `echo after1; echo after2`)
	eventually(t, "lines after truncation", func() bool { return ring.Stats().Lines == 52 })
	got := texts(ring.Tail(2))
	if got[0] != "after1" || got[1] != "after2" {
		t.Fatalf("after truncation got %v", got)
	}
	if tl.Stats().Truncations == 0 {
		t.Fatal("truncation not counted")
	}

	// A stale saved offset beyond the end also starts at 0.
	m.Remove(path)
	tl2, _ := m.Add(TailerConfig{Path: path, Resource: "t2", Instance: "t-0", Offset: 1 << 20})
	ring2 := m.Ring("t2")
	eventually(t, "re-read from 0", func() bool { return ring2.Stats().Lines == 2 })
	if tl2.Offset() != int64(len("after1\nafter2\n")) {
		t.Fatalf("offset %d", tl2.Offset())
	}
}

func TestFileCreatedAfterAddAndReplaced(t *testing.T) {
	m := newManager(t, Options{})
	dir := filepath.Join(t.TempDir(), "not-yet")
	path := filepath.Join(dir, "late-0.log")
	if _, err := m.Add(TailerConfig{Path: path, Resource: "late", Instance: "late-0"}); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("log dir not created 0700: %v %v", fi, err)
	}
	ring := m.Ring("late")
	runSh(t, path, `echo one`)
	eventually(t, "line from a late file", func() bool { return ring.Stats().Lines == 1 })
	// An external tool renames the file away and a new one appears.
	if err := os.Rename(path, path+".old"); err != nil {
		t.Fatal(err)
	}
	runSh(t, path, `echo two`)
	eventually(t, "line from the new file", func() bool { return ring.Stats().Lines == 2 })
	if got := texts(ring.Tail(0)); got[1] != "two" {
		t.Fatalf("got %v", got)
	}
}

func TestManyFilesOneWatcher(t *testing.T) {
	m := newManager(t, Options{})
	dir := filepath.Join(t.TempDir(), "logs")
	const n = 40
	var paths []string
	for i := range n {
		p := filepath.Join(dir, fmt.Sprintf("svc%d-0.log", i))
		paths = append(paths, p)
		if _, err := m.Add(TailerConfig{Path: p, Resource: fmt.Sprintf("svc%d", i), Instance: fmt.Sprintf("svc%d-0", i)}); err != nil {
			t.Fatal(err)
		}
	}
	var script strings.Builder
	for i, p := range paths {
		fmt.Fprintf(&script, "echo hello %d >> %s; echo bye %d >> %s;", i, p, i, p)
	}
	cmd := exec.Command("sh", "-c", script.String())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	for i := range n {
		ring := m.Ring(fmt.Sprintf("svc%d", i))
		eventually(t, "2 lines", func() bool { return ring.Stats().Lines == 2 })
		if got := texts(ring.Tail(0)); got[0] != fmt.Sprintf("hello %d", i) || got[1] != fmt.Sprintf("bye %d", i) {
			t.Fatalf("svc%d got %v", i, got)
		}
	}
	if got := len(m.Offsets()); got != n {
		t.Fatalf("Offsets has %d entries", got)
	}
	m.mu.Lock()
	dirs := len(m.dirs)
	m.mu.Unlock()
	if dirs != 1 {
		t.Fatalf("watching %d directories, want 1", dirs)
	}
}
