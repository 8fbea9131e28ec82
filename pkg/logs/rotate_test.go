package logs

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestRotationKeepsFilesAndRingBounded writes ~30 MiB of numbered lines
// from a real process and checks that the files stay bounded, the daemon's
// ring stays under its cap, and what the ring holds is in order.
func TestRotationKeepsFilesAndRingBounded(t *testing.T) {
	const (
		maxSize   = 4 << 20
		ringBytes = 256 << 10
		bursts    = 5
		perBurst  = 60000 // lines of 8 digits + space + 100 + newline = 110 bytes: 6.3 MiB
		nLines    = bursts * perBurst
	)
	m := newManager(t, Options{MaxFileSize: maxSize, RingBytes: ringBytes, RingLines: 100000})
	path := filepath.Join(t.TempDir(), "logs", "noisy-0.log")
	var last int
	ordered := true
	tl, err := m.Add(TailerConfig{Path: path, Resource: "noisy", Instance: "noisy-0", OnLine: func(l Line) {
		n, err := strconv.Atoi(strings.Fields(l.Text)[0])
		if err != nil || n <= last {
			ordered = false
		}
		last = n
	}})
	if err != nil {
		t.Fatal(err)
	}
	ring := m.Ring("noisy")
	// Each burst exceeds the limit, so each forces at least one rotation
	// once the tailer looks; waiting for its last line between bursts
	// makes the count deterministic without timing anything.
	for b := range bursts {
		from, to := b*perBurst+1, (b+1)*perBurst
		runSh(t, path, fmt.Sprintf(`awk 'BEGIN { pad = sprintf("%%0100d", 0); for (i = %d; i <= %d; i++) printf "%%08d %%s\n", i, pad }'`, from, to))
		eventually(t, "the burst's last line", func() bool {
			tail := ring.Tail(1)
			return len(tail) == 1 && strings.HasPrefix(tail[0].Text, fmt.Sprintf("%08d ", to))
		})
		if st := ring.Stats(); st.Bytes > ringBytes {
			t.Fatalf("burst %d: ring holds %d bytes, cap %d", b, st.Bytes, ringBytes)
		}
	}
	m.Remove(path) // the callback's variables are final once the tailer stopped

	if !ordered {
		t.Fatal("lines arrived out of order or duplicated")
	}
	st := ring.Stats()
	if st.Bytes > ringBytes {
		t.Fatalf("ring holds %d bytes, cap %d", st.Bytes, ringBytes)
	}
	prev := 0
	for _, l := range ring.Tail(0) {
		n, _ := strconv.Atoi(strings.Fields(l.Text)[0])
		if n <= prev {
			t.Fatalf("ring out of order: %d after %d", n, prev)
		}
		prev = n
	}
	ts := tl.Stats()
	if ts.Rotations < bursts {
		t.Fatalf("%d rotations for %d bursts above the limit", ts.Rotations, bursts)
	}
	// Each kept copy is bounded (see rotate's doc), only Keep are kept,
	// and the live file is back under the limit once the tailer caught up.
	bound := int64(rotateCopyFactor * maxSize)
	var total int64
	for i, p := range []string{path, path + ".1", path + ".2", path + ".3"} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatalf("file %d: %v", i, err)
		}
		if i == 0 && fi.Size() > maxSize {
			t.Errorf("live file is %d bytes after catching up, limit %d", fi.Size(), maxSize)
		}
		if fi.Size() > bound {
			t.Errorf("%s is %d bytes, bound %d", filepath.Base(p), fi.Size(), bound)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v", filepath.Base(p), fi.Mode().Perm())
		}
		total += fi.Size()
	}
	if _, err := os.Stat(path + ".4"); !os.IsNotExist(err) {
		t.Fatalf("a 4th rotated file exists: %v", err)
	}
	if _, err := os.Stat(path + ".1.tmp"); !os.IsNotExist(err) {
		t.Fatalf("temporary rotation file left behind: %v", err)
	}
	// The newest rotated file continues where FILE.2 ended, in order.
	firstOf := func(p string) int {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		n, _ := strconv.Atoi(strings.Fields(string(data[:min(len(data), 200)]))[0])
		return n
	}
	if a, b := firstOf(path+".2"), firstOf(path+".1"); a >= b {
		t.Fatalf("FILE.2 starts at %d, FILE.1 at %d: rotation order wrong", a, b)
	}
	t.Logf("rotations=%d skipped=%d ring=%+v files=%d bytes lines-in-files≈%d", ts.Rotations, ts.SkippedBytes, st, total, total/110)
}

// TestRotationWhileWriting writes 30 MiB in one burst, faster than the
// tailer reads: the writer keeps appending through rotations (O_APPEND
// lands at the new end) and is never blocked; files and ring stay bounded.
func TestRotationWhileWriting(t *testing.T) {
	const maxSize = 4 << 20
	m := newManager(t, Options{MaxFileSize: maxSize, RingBytes: 64 << 10})
	path := filepath.Join(t.TempDir(), "w-0.log")
	tl, _ := m.Add(TailerConfig{Path: path, Resource: "w", Instance: "w-0"})
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd := exec.Command("sh", "-c", `yes 'the quick brown fox jumps over the lazy dog' | head -c 31457280; echo; echo done`)
	cmd.Stdout = f
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	ring := m.Ring("w")
	// The final line can reach the ring just before the tailer rotates
	// the oversized file: wait for both.
	eventually(t, "the final line and a rotation", func() bool {
		tail := ring.Tail(1)
		return len(tail) == 1 && tail[0].Text == "done" && tl.Stats().Rotations > 0
	})
	if tl.Stats().Rotations == 0 {
		t.Fatal("no rotation")
	}
	for i, p := range []string{path, path + ".1", path + ".2", path + ".3"} {
		fi, err := os.Stat(p)
		if i >= 2 && os.IsNotExist(err) {
			continue // how often a burst this fast rotates depends on timing
		}
		if err != nil {
			t.Fatal(err)
		}
		if fi.Size() > rotateCopyFactor*maxSize {
			t.Errorf("%s is %d bytes", filepath.Base(p), fi.Size())
		}
	}
	if st := ring.Stats(); st.Bytes > 64<<10 {
		t.Fatalf("ring holds %d bytes", st.Bytes)
	}
	t.Logf("stats %+v ring %+v", tl.Stats(), ring.Stats())
	for _, l := range ring.Tail(0)[:ring.Stats().Lines-2] {
		if l.Text != "the quick brown fox jumps over the lazy dog" {
			t.Fatalf("corrupt line %q", l.Text)
		}
	}
}
