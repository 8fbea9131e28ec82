package discovery

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func portsPath(t *testing.T) string {
	t.Helper()
	return filepath.Join(t.TempDir(), ".apphost", "ports.json")
}

func newAllocator(t *testing.T, path string) *PortAllocator {
	t.Helper()
	a, err := NewPortAllocator(path)
	if err != nil {
		t.Fatal(err)
	}
	if w := a.Warning(); w != nil {
		t.Fatalf("unexpected warning: %v", w)
	}
	return a
}

func mustAllocate(t *testing.T, a *PortAllocator, key string) int {
	t.Helper()
	p, err := a.Allocate(key)
	if err != nil {
		t.Fatalf("allocate %s: %v", key, err)
	}
	if p < 1 || p > 65535 {
		t.Fatalf("allocate %s: port %d out of range", key, p)
	}
	return p
}

// listenOn holds port on 127.0.0.1 until the test ends, as a foreign
// process would.
func listenOn(t *testing.T, port int) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatalf("listen on %d: %v", port, err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	return ln
}

// heldPort returns a port that a listener of this test holds.
func heldPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	return ln.Addr().(*net.TCPAddr).Port
}

func TestPortsStableAcrossInstances(t *testing.T) {
	path := portsPath(t)
	a := newAllocator(t, path)
	api := mustAllocate(t, a, "api/http/0")
	web := mustAllocate(t, a, "web/http/0")
	if api == web {
		t.Fatalf("two keys got port %d", api)
	}
	if again := mustAllocate(t, a, "api/http/0"); again != api {
		t.Errorf("same allocator, second Allocate: %d, want %d", again, api)
	}
	if err := a.Save(); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if mode := fi.Mode().Perm(); mode != 0o600 {
		t.Errorf("state file mode %o, want 600", mode)
	}

	b := newAllocator(t, path) // a daemon restart
	if got := b.Snapshot(); got["api/http/0"] != api || got["web/http/0"] != web || len(got) != 2 {
		t.Errorf("reloaded snapshot %v, want api=%d web=%d", got, api, web)
	}
	// Reverse order: stability must not depend on allocation order.
	if got := mustAllocate(t, b, "web/http/0"); got != web {
		t.Errorf("web after restart: %d, want %d", got, web)
	}
	if got := mustAllocate(t, b, "api/http/0"); got != api {
		t.Errorf("api after restart: %d, want %d", got, api)
	}
}

func TestPortsHandedOutPortKeptWhileItsInstanceListens(t *testing.T) {
	a := newAllocator(t, portsPath(t))
	p := mustAllocate(t, a, "api/http/0")
	listenOn(t, p) // the instance started and bound it; then a reload re-resolves
	if got := mustAllocate(t, a, "api/http/0"); got != p {
		t.Errorf("after the instance bound it: %d, want %d", got, p)
	}
	if err := a.Reserve("api/http/0", p); err != nil {
		t.Errorf("reserve of the key's own bound port: %v", err)
	}
}

func TestPortsPersistedPortTakenIsReallocated(t *testing.T) {
	path := portsPath(t)
	a := newAllocator(t, path)
	p := mustAllocate(t, a, "api/http/0")
	if err := a.Save(); err != nil {
		t.Fatal(err)
	}
	listenOn(t, p) // someone else took it while the daemon was down

	b := newAllocator(t, path)
	got := mustAllocate(t, b, "api/http/0")
	if got == p {
		t.Fatalf("got persisted port %d although it is taken", p)
	}
	if err := b.Save(); err != nil {
		t.Fatal(err)
	}
	if snap := newAllocator(t, path).Snapshot(); snap["api/http/0"] != got {
		t.Errorf("new port not persisted: %v, want %d", snap, got)
	}
}

func TestPortsReserveInUseNamesPortAndHolder(t *testing.T) {
	a := newAllocator(t, portsPath(t))
	port := heldPort(t)
	err := a.Reserve("api/http/0", port)
	if err == nil {
		t.Fatal("reserve of a bound port succeeded")
	}
	if !errors.Is(err, ErrPortInUse) {
		t.Errorf("error %v is not ErrPortInUse", err)
	}
	want := fmt.Sprintf("port %d for api/http/0 is in use", port)
	if !strings.HasPrefix(err.Error(), want) {
		t.Errorf("error %q, want it to start with %q", err, want)
	}
	// The listener is this test process's own socket, so /proc must find it.
	if holder := fmt.Sprintf("by pid %d", os.Getpid()); !strings.Contains(err.Error(), holder) {
		t.Errorf("error %q does not name the holder (%s)", err, holder)
	}
	if _, ok := a.Snapshot()["api/http/0"]; ok {
		t.Error("failed reserve left an assignment")
	}
}

func TestPortsReserveAssignedToAnotherKey(t *testing.T) {
	a := newAllocator(t, portsPath(t))
	p := mustAllocate(t, a, "api/http/0")
	err := a.Reserve("web/http/0", p)
	if !errors.Is(err, ErrPortAssigned) {
		t.Fatalf("error %v, want ErrPortAssigned", err)
	}
	want := fmt.Sprintf("port %d for web/http/0 is already assigned to api/http/0", p)
	if err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
	var pe *PortError
	if !errors.As(err, &pe) || pe.Port != p || pe.Holder != "api/http/0" {
		t.Errorf("PortError %+v", pe)
	}
}

func TestPortsReserveFixed(t *testing.T) {
	path := portsPath(t)
	a := newAllocator(t, path)
	old := mustAllocate(t, a, "api/http/0")
	fixed := mustAllocate(t, a, "scratch/x/0")
	a.Release("scratch/x/0")

	// The endpoint changed from an allocated port to a fixed one.
	if err := a.Reserve("api/http/0", fixed); err != nil {
		t.Fatal(err)
	}
	snap := a.Snapshot()
	if snap["api/http/0"] != fixed || len(snap) != 1 {
		t.Errorf("snapshot %v, want only api=%d", snap, fixed)
	}
	// Its old port is free for others again; the new one is not.
	if err := a.Reserve("web/http/0", old); err != nil {
		t.Errorf("reserve of the released old port: %v", err)
	}
	if err := a.Reserve("web/http/0", fixed); !errors.Is(err, ErrPortAssigned) {
		t.Errorf("reserve of api's fixed port: %v, want ErrPortAssigned", err)
	}
	for _, bad := range []int{0, -1, 65536} {
		if err := a.Reserve("x/y/0", bad); err == nil {
			t.Errorf("reserve of port %d succeeded", bad)
		}
	}
	if err := a.Reserve("", fixed+1); err == nil {
		t.Error("reserve with an empty key succeeded")
	}
	if _, err := a.Allocate(""); err == nil {
		t.Error("allocate with an empty key succeeded")
	}
}

func TestPortsFixedPortBeatsPersistedAssignment(t *testing.T) {
	path := portsPath(t)
	a := newAllocator(t, path)
	p := mustAllocate(t, a, "old/http/0")
	if err := a.Save(); err != nil {
		t.Fatal(err)
	}
	b := newAllocator(t, path)
	// After a restart, a fixed port claims what was old's remembered port.
	if err := b.Reserve("new/http/0", p); err != nil {
		t.Fatalf("reserve over a persisted, not handed out, port: %v", err)
	}
	if got := mustAllocate(t, b, "old/http/0"); got == p {
		t.Errorf("old got %d, which is now new's fixed port", got)
	}
}

func TestPortsFreshPortSkipsAssignedPorts(t *testing.T) {
	path := portsPath(t)
	a := newAllocator(t, path)
	persisted := mustAllocate(t, a, "stopped/http/0")
	handed := mustAllocate(t, a, "api/http/0")
	if err := a.Save(); err != nil {
		t.Fatal(err)
	}
	b := newAllocator(t, path)
	if got := mustAllocate(t, b, "api/http/0"); got != handed {
		t.Fatalf("api: %d, want %d", got, handed)
	}
	// Make the kernel "choose" ports held by other keys first: the
	// allocator must skip them.
	other := heldPort(t) // distinct from both while the test holds it
	choices := []int{persisted, handed, other}
	orig := freshPort
	t.Cleanup(func() { freshPort = orig })
	freshPort = func() (int, error) {
		p := choices[0]
		choices = choices[1:]
		return p, nil
	}
	if got := mustAllocate(t, b, "web/http/0"); got != other {
		t.Errorf("web: %d, want %d (skipping %d persisted for stopped, %d handed to api)", got, other, persisted, handed)
	}
}

func TestPortsCorruptStateRecovered(t *testing.T) {
	path := portsPath(t)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(`{"version":1,"ports":{"api/http/0":`), 0o600); err != nil {
		t.Fatal(err)
	}
	a, err := NewPortAllocator(path)
	if err != nil {
		t.Fatalf("corrupt state was fatal: %v", err)
	}
	if w := a.Warning(); w == nil || !strings.Contains(w.Error(), "corrupt") {
		t.Errorf("warning %v, want one saying the file is corrupt", w)
	}
	p := mustAllocate(t, a, "api/http/0")
	if err := a.Save(); err != nil {
		t.Fatal(err)
	}
	b := newAllocator(t, path) // the rewritten file loads cleanly
	if got := mustAllocate(t, b, "api/http/0"); got != p {
		t.Errorf("after recovery: %d, want %d", got, p)
	}
}

func TestPortsInvalidEntriesDropped(t *testing.T) {
	path := portsPath(t)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	state, _ := json.Marshal(portsFile{Version: 1, Ports: map[string]int{
		"a/http/0": 0, "b/http/0": 70000, "c/http/0": 40123, "d/http/0": 40123, "": 40124,
	}})
	if err := os.WriteFile(path, state, 0o600); err != nil {
		t.Fatal(err)
	}
	a, err := NewPortAllocator(path)
	if err != nil {
		t.Fatal(err)
	}
	if a.Warning() == nil {
		t.Error("no warning for invalid entries")
	}
	snap := a.Snapshot()
	if len(snap) != 1 || snap["c/http/0"] != 40123 {
		t.Errorf("snapshot %v, want only c=40123 (the first key keeps a duplicate)", snap)
	}
}

func TestPortsUnreadableStateIsAnError(t *testing.T) {
	path := portsPath(t)
	if err := os.MkdirAll(path, 0o700); err != nil { // a directory where the file should be
		t.Fatal(err)
	}
	if _, err := NewPortAllocator(path); err == nil {
		t.Error("unreadable state file accepted")
	}
}

func TestPortsReleaseAndSave(t *testing.T) {
	path := portsPath(t)
	a := newAllocator(t, path)
	if err := a.Save(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Save with nothing to save wrote the file (stat: %v)", err)
	}
	mustAllocate(t, a, "api/http/0")
	web := mustAllocate(t, a, "web/http/0")
	a.Release("api/http/0")
	a.Release("never/allocated/0")
	if err := a.Save(); err != nil {
		t.Fatal(err)
	}
	snap := newAllocator(t, path).Snapshot()
	if len(snap) != 1 || snap["web/http/0"] != web {
		t.Errorf("after release and save: %v, want only web=%d", snap, web)
	}
}

func TestPortsConcurrentAllocateDistinct(t *testing.T) {
	a := newAllocator(t, portsPath(t))
	const n = 64
	ports := make([]int, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			ports[i], errs[i] = a.Allocate(fmt.Sprintf("svc%d/http/0", i))
			if i%8 == 0 {
				_ = a.Save()
			}
		})
	}
	wg.Wait()
	seen := map[int]int{}
	for i, p := range ports {
		if errs[i] != nil {
			t.Fatalf("allocate %d: %v", i, errs[i])
		}
		if j, dup := seen[p]; dup {
			t.Errorf("port %d handed to svc%d and svc%d", p, j, i)
		}
		seen[p] = i
	}
	if len(a.Snapshot()) != n {
		t.Errorf("snapshot has %d keys, want %d", len(a.Snapshot()), n)
	}
}

func TestPortsFreshPortsAvoidEphemeralRange(t *testing.T) {
	lo, hi := allocRange()
	if hi-lo < minAllocRange {
		t.Skipf("ephemeral range leaves no room below it (%d-%d); the kernel chooses", lo, hi)
	}
	a := newAllocator(t, portsPath(t))
	for i := range 20 {
		p := mustAllocate(t, a, fmt.Sprintf("svc%d/http/0", i))
		if p < lo || p > hi {
			t.Errorf("port %d outside %d-%d, so an outgoing connection could take it", p, lo, hi)
		}
	}
}
