package process

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// Listeners holds the listening sockets of socket-activated endpoints
// (endpoint { socket = true }): the daemon binds each port once, when it
// is allocated, and keeps it for as long as the endpoint exists. Every
// instance started on it gets a copy as fd 3 (systemd's convention), so
// no other program can take the port between allocation and start, or
// while the instance restarts (connections wait in the backlog).
//
// Sockets are created blocking, as systemd creates them: the daemon never
// accepts on them, and a child that calls accept(2) without setting
// O_NONBLOCK itself expects it to block (O_NONBLOCK lives in the open file
// description, which the child shares).
//
// All methods are safe for concurrent use; mu guards byPort.
//
// It also keeps port reservations for ordinary endpoints (reserve.go).
type Listeners struct {
	mu     sync.Mutex
	byPort map[int]*os.File
	// reserved: bound, not listening sockets holding a port for an
	// instance that has not started yet, by instance ID.
	reserved map[string]map[int]*os.File
}

// NewListeners returns an empty registry.
func NewListeners() *Listeners {
	return &Listeners{byPort: map[int]*os.File{}, reserved: map[string]map[int]*os.File{}}
}

// listenBacklog is the accept queue asked for; the kernel caps it at
// net.core.somaxconn.
const listenBacklog = 4096

// Hold binds 127.0.0.1:port and keeps the listening socket, unless it is
// held already. The error wraps unix.EADDRINUSE when the port is taken.
func (l *Listeners) Hold(port int) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.byPort[port] != nil {
		return nil
	}
	f, err := bindTCP4(port)
	if err != nil {
		return err
	}
	l.byPort[port] = f
	return nil
}

// Held reports whether port's socket is held.
func (l *Listeners) Held(port int) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.byPort[port] != nil
}

// Ports lists the held ports, sorted.
func (l *Listeners) Ports() []int {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]int, 0, len(l.byPort))
	for p := range l.byPort {
		out = append(out, p)
	}
	sort.Ints(out)
	return out
}

// Release closes port's socket (the endpoint is gone). Instances started
// on it keep their own copies.
func (l *Listeners) Release(port int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if f := l.byPort[port]; f != nil {
		f.Close()
		delete(l.byPort, port)
	}
}

// Close releases every socket and reservation.
func (l *Listeners) Close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for p, f := range l.byPort {
		f.Close()
		delete(l.byPort, p)
	}
	for owner, ports := range l.reserved {
		for _, f := range ports {
			f.Close()
		}
		delete(l.reserved, owner)
	}
}

// file returns a duplicate of port's socket for a child, binding the port
// first if it is not held (an endpoint whose allocation could not hold
// it, e.g. while an adopted instance still had it).
func (l *Listeners) file(port int) (*os.File, error) {
	if err := l.Hold(port); err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	f := l.byPort[port]
	fd, err := unix.FcntlInt(f.Fd(), unix.F_DUPFD_CLOEXEC, 3)
	if err != nil {
		return nil, fmt.Errorf("duplicate socket of port %d: %w", port, err)
	}
	return os.NewFile(uintptr(fd), f.Name()), nil
}

// Adopt takes over the listening socket on port from the process that
// holds it (an instance a previous daemon started, which got it as fd 3):
// it finds the socket in /proc and copies it with pidfd_getfd(2). This
// needs ptrace access to the process (root, or the same user where
// kernel.yama.ptrace_scope allows it).
func (l *Listeners) Adopt(port int) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.byPort[port] != nil {
		return nil
	}
	pid, fd, err := findListenerFD(port, true)
	if err != nil {
		return err
	}
	pidfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return fmt.Errorf("adopt socket of port %d from pid %d: %w", port, pid, err)
	}
	defer unix.Close(pidfd)
	nfd, err := unix.PidfdGetfd(pidfd, fd, 0)
	if err != nil {
		return fmt.Errorf("adopt socket of port %d from pid %d: %w", port, pid, err)
	}
	unix.CloseOnExec(nfd)
	l.byPort[port] = os.NewFile(uintptr(nfd), fmt.Sprintf("tcp:127.0.0.1:%d", port))
	return nil
}

// bindTCP4 creates a blocking TCP socket listening on 127.0.0.1:port with
// SO_REUSEADDR (as Go's net.Listen sets it, so a port in TIME_WAIT after a
// restart can be bound again), close-on-exec in the daemon.
func bindTCP4(port int) (*os.File, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("socket for port %d: %w", port, err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("socket for port %d: %w", port, err)
	}
	if err := unix.Bind(fd, &unix.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("bind 127.0.0.1:%d: %w", port, err)
	}
	if err := unix.Listen(fd, listenBacklog); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("listen on 127.0.0.1:%d: %w", port, err)
	}
	return os.NewFile(uintptr(fd), fmt.Sprintf("tcp:127.0.0.1:%d", port)), nil
}

// IsAddrInUse reports whether err says the port is taken.
func IsAddrInUse(err error) bool { return errors.Is(err, unix.EADDRINUSE) }

// findListenerFD finds a process and its descriptor number for the TCP
// socket listening on port, through /proc/net/tcp{,6} and /proc/*/fd,
// skipping the daemon itself if skipSelf.
func findListenerFD(port int, skipSelf bool) (pid, fd int, err error) {
	inodes := map[string]bool{}
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for i, line := range strings.Split(string(b), "\n") {
			fs := strings.Fields(line)
			if i == 0 || len(fs) < 10 || fs[3] != "0A" {
				continue
			}
			j := strings.LastIndexByte(fs[1], ':')
			if p, err := strconv.ParseUint(fs[1][j+1:], 16, 16); err == nil && int(p) == port {
				inodes["socket:["+fs[9]+"]"] = true
			}
		}
	}
	if len(inodes) == 0 {
		return 0, 0, fmt.Errorf("no listener on port %d", port)
	}
	procs, _ := os.ReadDir("/proc")
	for _, pe := range procs {
		p, err := strconv.Atoi(pe.Name())
		if err != nil || (skipSelf && p == os.Getpid()) {
			continue
		}
		dir := filepath.Join("/proc", pe.Name(), "fd")
		fds, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, fe := range fds {
			if link, err := os.Readlink(filepath.Join(dir, fe.Name())); err == nil && inodes[link] {
				n, _ := strconv.Atoi(fe.Name())
				return p, n, nil
			}
		}
	}
	return 0, 0, fmt.Errorf("no process found holding port %d", port)
}
