package api

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// ErrDaemonRunning is returned by Listen when a live daemon already answers
// on the socket path.
var ErrDaemonRunning = errors.New("a daemon is already running")

// maxSocketPath is sun_path's capacity on Linux minus the NUL.
const maxSocketPath = 107

// staleProbeTimeout bounds the dial that tells a live socket from a stale one.
const staleProbeTimeout = 500 * time.Millisecond

// Listen creates the API socket at socketPath with mode 0600.
//
// The socket is bound under a temporary name in the same directory,
// chmodded, then renamed into place, so the final path never exists with a
// umask-derived mode, not even for an instant. If a socket file already
// exists, Listen dials it: a live daemon gives an error wrapping
// ErrDaemonRunning; a refused connection means a dead daemon left it behind,
// and it is replaced. Anything at the path that is not a socket is left
// alone and reported.
//
// The directory must exist (project.EnsureStateDir makes it 0700). Closing
// the listener removes the socket file, unless another listener has
// replaced it meanwhile.
func Listen(socketPath string) (net.Listener, error) {
	if len(socketPath) > maxSocketPath {
		return nil, fmt.Errorf("listen %s: socket path is %d bytes, longer than the %d a unix socket allows", socketPath, len(socketPath), maxSocketPath)
	}
	if err := clearStale(socketPath); err != nil {
		return nil, err
	}
	dir := filepath.Dir(socketPath)
	tmp := filepath.Join(dir, ".sock-"+strconv.Itoa(os.Getpid()))
	if len(tmp) > maxSocketPath {
		tmp = socketPath // no shorter name fits; fall back to bind+chmod in the (0700) directory
	}
	_ = os.Remove(tmp) // a leftover from a crashed daemon with our PID
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: tmp, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", socketPath, err)
	}
	ln.SetUnlinkOnClose(false)
	fail := func(err error) (net.Listener, error) {
		ln.Close()
		os.Remove(tmp)
		return nil, fmt.Errorf("listen %s: %w", socketPath, err)
	}
	if err := os.Chmod(tmp, 0o600); err != nil {
		return fail(err)
	}
	if tmp != socketPath {
		if err := os.Rename(tmp, socketPath); err != nil {
			return fail(err)
		}
	}
	fi, err := os.Stat(socketPath)
	if err != nil {
		return fail(err)
	}
	return &socketListener{UnixListener: ln, path: socketPath, fi: fi}, nil
}

// clearStale removes a socket file nobody answers on.
func clearStale(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("listen %s: %w", path, err)
	}
	if fi.Mode()&os.ModeSocket == 0 {
		return fmt.Errorf("listen %s: exists and is not a socket (%s); remove it by hand", path, fi.Mode())
	}
	conn, err := net.DialTimeout("unix", path, staleProbeTimeout)
	if err == nil {
		conn.Close()
		return fmt.Errorf("listen %s: %w", path, ErrDaemonRunning)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) && !errors.Is(err, os.ErrNotExist) {
		// EACCES (another user's socket), a timeout (a wedged daemon):
		// not provably stale, so not ours to delete.
		return fmt.Errorf("listen %s: probe existing socket: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("listen %s: remove stale socket: %w", path, err)
	}
	return nil
}

// socketListener removes its socket file on Close, but only if the file is
// still the one it bound: a successor daemon's socket is never deleted.
type socketListener struct {
	*net.UnixListener
	path string
	fi   os.FileInfo
	once sync.Once
}

func (l *socketListener) Close() error {
	err := l.UnixListener.Close()
	l.once.Do(func() {
		if cur, serr := os.Stat(l.path); serr == nil && os.SameFile(cur, l.fi) {
			os.Remove(l.path)
		}
	})
	return err
}
