package process

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// Port reservations close the check-then-bind race for ordinary endpoints
// too: an allocated port is only checked free (bound and closed again),
// and the instance may wait a long time for its dependencies before it
// binds the port itself. Meanwhile the daemon holds it with a socket that
// is bound but not listening — connections to it are refused, as to any
// unused port, but no other program can bind it (the socket has no
// SO_REUSEADDR, so not even a program that sets it can share the port) —
// and closes that socket right before it execs the instance, which then
// binds the port as usual. The window left is the exec itself, not the
// whole wait.

// SetReservations makes the reservations exactly want: instance ID →
// ports. Ports no longer wanted are released; new ones are bound where
// possible (a port in use or in TIME_WAIT is skipped: reservation is best
// effort). It returns how many ports are reserved afterwards.
func (l *Listeners) SetReservations(want map[string][]int) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	for owner, ports := range l.reserved {
		keep := map[int]bool{}
		for _, p := range want[owner] {
			keep[p] = true
		}
		for p, f := range ports {
			if !keep[p] {
				f.Close()
				delete(ports, p)
			}
		}
		if len(ports) == 0 {
			delete(l.reserved, owner)
		}
	}
	n := 0
	for owner, ports := range want {
		for _, p := range ports {
			if l.byPort[p] != nil {
				continue // a socket endpoint's listener holds it already
			}
			if l.reserved[owner][p] != nil {
				n++
				continue
			}
			f, err := reserveTCP4(p)
			if err != nil {
				continue
			}
			if l.reserved[owner] == nil {
				l.reserved[owner] = map[int]*os.File{}
			}
			l.reserved[owner][p] = f
			n++
		}
	}
	return n
}

// Reserved reports whether port is reserved for owner.
func (l *Listeners) Reserved(owner string, port int) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.reserved[owner][port] != nil
}

// releaseFor closes owner's reservations: its instance is about to exec.
func (l *Listeners) releaseFor(owner string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, f := range l.reserved[owner] {
		f.Close()
	}
	delete(l.reserved, owner)
}

// reserveTCP4 binds 127.0.0.1:port without listening and without
// SO_REUSEADDR.
func reserveTCP4(port int) (*os.File, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("socket for port %d: %w", port, err)
	}
	if err := unix.Bind(fd, &unix.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("reserve 127.0.0.1:%d: %w", port, err)
	}
	return os.NewFile(uintptr(fd), fmt.Sprintf("reserved:127.0.0.1:%d", port)), nil
}
