package api

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap"
)

// The socket is 0600 even under a umask that would leave it world-writable.
// (Not parallel: umask is process-wide.)
func TestListenMode0600(t *testing.T) {
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	sock := filepath.Join(t.TempDir(), "apphostd.sock")
	ln, err := Listen(sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	fi, err := os.Stat(sock)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != 0o600 {
		t.Fatalf("socket mode = %v, want socket 0600", fi.Mode())
	}
	left, _ := filepath.Glob(filepath.Join(filepath.Dir(sock), ".sock-*"))
	if len(left) != 0 {
		t.Fatalf("temporary socket names left behind: %v", left)
	}
	ln.Close()
	if _, err := os.Lstat(sock); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("socket file after Close: %v", err)
	}
}

func TestListenReplacesStaleSocket(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "apphostd.sock")
	// A dead daemon's leftover: bound, then closed without unlinking.
	dead, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	dead.SetUnlinkOnClose(false)
	dead.Close()
	if _, err := os.Lstat(sock); err != nil {
		t.Fatalf("stale socket not in place: %v", err)
	}
	if _, err := Dial(sock).Info(context.Background()); !IsNoDaemon(err) {
		t.Fatalf("stale socket: IsNoDaemon(%v) = false", err)
	}
	ln, err := Listen(sock)
	if err != nil {
		t.Fatalf("Listen over stale socket: %v", err)
	}
	srv := NewServer(newFake(), zap.NewNop())
	go srv.Serve(ln)
	defer srv.Shutdown(context.Background())
	c := Dial(sock)
	defer c.Close()
	if info, err := c.Info(context.Background()); err != nil || info.PID != 99 {
		t.Fatalf("Info on replaced socket = %+v, %v", info, err)
	}
}

func TestListenRefusesLiveDaemon(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "apphostd.sock")
	first, err := Listen(sock)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	_, err = Listen(sock)
	if !errors.Is(err, ErrDaemonRunning) {
		t.Fatalf("second Listen = %v, want ErrDaemonRunning", err)
	}
	// The first daemon's socket is untouched and still accepts.
	c, err := net.DialTimeout("unix", sock, time.Second)
	if err != nil {
		t.Fatalf("first socket broken by second Listen: %v", err)
	}
	c.Close()
}

func TestListenLeavesNonSocketAlone(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "apphostd.sock")
	if err := os.WriteFile(sock, []byte("precious"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Listen(sock); err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Fatalf("Listen over a regular file = %v", err)
	}
	if b, _ := os.ReadFile(sock); string(b) != "precious" {
		t.Fatalf("regular file clobbered: %q", b)
	}
}

func TestListenPathTooLong(t *testing.T) {
	sock := filepath.Join(t.TempDir(), strings.Repeat("x", 120), "apphostd.sock")
	if _, err := Listen(sock); err == nil || !strings.Contains(err.Error(), "longer than") {
		t.Fatalf("Listen with a %d-byte path = %v", len(sock), err)
	}
}

// Closing an old listener must not delete a successor's socket.
func TestCloseKeepsSuccessorSocket(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "apphostd.sock")
	old, err := Listen(sock)
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(sock) // e.g. removed by hand while the old daemon hung
	succ, err := Listen(sock)
	if err != nil {
		t.Fatal(err)
	}
	defer succ.Close()
	old.Close()
	if _, err := os.Lstat(sock); err != nil {
		t.Fatalf("old listener's Close removed the successor's socket: %v", err)
	}
}

func TestIsNoDaemon(t *testing.T) {
	missing := Dial(filepath.Join(t.TempDir(), "none.sock"))
	if _, err := missing.Info(context.Background()); !IsNoDaemon(err) {
		t.Fatalf("missing socket: IsNoDaemon(%v) = false", err)
	}
	if IsNoDaemon(ErrNotFound) || IsNoDaemon(&APIError{Status: 404, Code: "not_found"}) || IsNoDaemon(nil) {
		t.Fatal("IsNoDaemon true for an answer from a live daemon")
	}
}

func TestPeerAllowed(t *testing.T) {
	cases := []struct {
		peer, self uint32
		want       bool
	}{
		{1000, 1000, true},
		{0, 1000, true},
		{1001, 1000, false},
		{0, 0, true},
		{1000, 0, false},
		{65534, 1000, false},
	}
	for _, c := range cases {
		if got := peerAllowed(c.peer, c.self); got != c.want {
			t.Errorf("peerAllowed(%d, %d) = %v, want %v", c.peer, c.self, got, c.want)
		}
	}
}

// The listener reads the real peer uid (ours) and admits it; a rule that
// refuses it gets the connection closed before anything is read.
func TestPeerCredOverRealSocket(t *testing.T) {
	h := startServer(t, newFake())
	if _, err := h.c.Info(context.Background()); err != nil {
		t.Fatalf("same-uid client refused: %v", err)
	}
	sock := filepath.Join(t.TempDir(), "p.sock")
	ln, err := Listen(sock)
	if err != nil {
		t.Fatal(err)
	}
	var seen []uint32
	seenc := make(chan uint32, 4)
	srv := NewServer(newFake(), nil)
	srv.allowPeer = func(uid uint32) bool { seenc <- uid; return false }
	go srv.Serve(ln)
	defer srv.Shutdown(context.Background())
	c := Dial(sock)
	defer c.Close()
	_, err = c.Info(context.Background())
	if err == nil {
		t.Fatal("refused peer got an answer")
	}
	if IsNoDaemon(err) {
		t.Fatalf("refused peer looks like no daemon: %v", err)
	}
	seen = append(seen, <-seenc)
	if seen[0] != uint32(os.Geteuid()) {
		t.Fatalf("peer uid read as %d, want %d", seen[0], os.Geteuid())
	}
}
