package discovery

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/apphostd/apphostd/pkg/fsutil"
)

// Port allocation failures, for errors.Is on a *PortError.
var (
	// ErrPortInUse: something outside this allocator is bound to the port.
	ErrPortInUse = errors.New("port in use")
	// ErrPortAssigned: the port is handed to another key.
	ErrPortAssigned = errors.New("port assigned to another endpoint")
)

// PortError says why a fixed port cannot be had, in words a user can act
// on: "port 8080 for api/http/0 is in use by pid 1234 (nginx)".
type PortError struct {
	Port int
	Key  string
	// Kind is ErrPortInUse, ErrPortAssigned or nil (another bind error,
	// such as permission denied for a port below 1024).
	Kind error
	// Holder names who has the port: a key for ErrPortAssigned; "pid N
	// (comm)" or "" for ErrPortInUse.
	Holder string
	Err    error // the bind error, if any
}

func (e *PortError) Error() string {
	switch e.Kind {
	case ErrPortAssigned:
		return fmt.Sprintf("port %d for %s is already assigned to %s", e.Port, e.Key, e.Holder)
	case ErrPortInUse:
		if e.Holder != "" {
			return fmt.Sprintf("port %d for %s is in use by %s", e.Port, e.Key, e.Holder)
		}
		return fmt.Sprintf("port %d for %s is in use", e.Port, e.Key)
	}
	return fmt.Sprintf("port %d for %s cannot be bound: %v", e.Port, e.Key, e.Err)
}

// Unwrap exposes both the kind and the bind error.
func (e *PortError) Unwrap() []error {
	var errs []error
	if e.Kind != nil {
		errs = append(errs, e.Kind)
	}
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	return errs
}

// portsFileVersion is written to the state file so a later format can be
// told apart.
const portsFileVersion = 1

// freshAttempts bounds how many kernel-chosen ports are tried before
// giving up; a collision with an assigned port is rare, so this is never
// reached unless the ephemeral range is nearly exhausted.
const freshAttempts = 100

var _ Ports = (*PortAllocator)(nil)

// PortAllocator hands out host ports per key ("api/http/0":
// resource/endpoint/replica) and keeps them stable across reloads and
// daemon restarts by persisting the assignments.
//
// A key keeps its port for the allocator's lifetime once it was handed out
// (Allocate, Reserve): later calls return it without checking that it can
// be bound, because by then the key's own instance is normally the one
// listening on it. A port loaded from the state file is checked first and
// replaced if something else now holds it. No port is ever handed to two
// keys, and a fresh port never reuses one persisted for another key, so a
// stopped resource gets its port back.
//
// Persistence is explicit: call Save after a round of Allocate/Reserve
// (it skips the write when nothing changed). All methods are safe for
// concurrent use; mu is the only lock and no method calls out while
// holding it except for short socket binds.
type PortAllocator struct {
	path    string
	warning error

	saveMu sync.Mutex // serializes Save; taken before mu

	mu     sync.Mutex
	ports  map[string]int  // key → port, persisted and handed out
	owner  map[int]string  // port → key, the inverse of ports
	handed map[string]bool // keys handed out since load: no bind re-check
	dirty  bool
}

// portsFile is the on-disk state.
type portsFile struct {
	Version int            `json:"version"`
	Ports   map[string]int `json:"ports"`
}

// NewPortAllocator loads the assignments persisted at statePath. A missing
// file is an empty state. A file that cannot be parsed (or holds invalid
// entries) is not fatal: those assignments are dropped, Warning reports
// why, and the next Save overwrites the file. The error is only for a file
// that exists but cannot be read.
func NewPortAllocator(statePath string) (*PortAllocator, error) {
	a := &PortAllocator{
		path:   statePath,
		ports:  map[string]int{},
		owner:  map[int]string{},
		handed: map[string]bool{},
	}
	b, err := os.ReadFile(statePath)
	if errors.Is(err, os.ErrNotExist) {
		return a, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read port state: %w", err)
	}
	var f portsFile
	if err := json.Unmarshal(b, &f); err != nil {
		a.warning = fmt.Errorf("port state %s is corrupt, starting with fresh ports: %w", statePath, err)
		a.dirty = true
		return a, nil
	}
	var bad []string
	keys := make([]string, 0, len(f.Ports))
	for k := range f.Ports {
		keys = append(keys, k)
	}
	sort.Strings(keys) // on a duplicate port, the first key in order keeps it
	for _, k := range keys {
		p := f.Ports[k]
		switch {
		case k == "" || p < 1 || p > 65535:
			bad = append(bad, fmt.Sprintf("%q: %d", k, p))
		case a.owner[p] != "":
			bad = append(bad, fmt.Sprintf("%q: %d (also %q)", k, p, a.owner[p]))
		default:
			a.ports[k], a.owner[p] = p, k
		}
	}
	if len(bad) > 0 {
		a.warning = fmt.Errorf("port state %s: dropped invalid entries %s", statePath, strings.Join(bad, ", "))
		a.dirty = true
	}
	return a, nil
}

// Warning says what NewPortAllocator had to drop from a corrupt or invalid
// state file; nil when the file was fine or absent. The daemon logs it.
func (a *PortAllocator) Warning() error { return a.warning }

// Allocate returns key's port: the one already handed to it, else its
// persisted port if that can still be bound on 127.0.0.1, else a fresh
// free port that no other key holds (see freshPort for where it is taken
// from).
func (a *PortAllocator) Allocate(key string) (int, error) {
	if key == "" {
		return 0, errors.New("allocate port: empty key")
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if p, ok := a.ports[key]; ok {
		if a.handed[key] || canBind(p) == nil {
			a.hand(key, p)
			return p, nil
		}
		// Persisted, but something else took it meanwhile.
		a.forget(key)
	}
	for range freshAttempts {
		p, err := freshPort()
		if err != nil {
			return 0, fmt.Errorf("allocate port for %s: %w", key, err)
		}
		if _, taken := a.owner[p]; taken {
			continue
		}
		a.hand(key, p)
		return p, nil
	}
	return 0, fmt.Errorf("allocate port for %s: no free port after %d attempts", key, freshAttempts)
}

// Reserve assigns a fixed port to key. It fails if another key was handed
// the port or if the port cannot be bound on 127.0.0.1, with a *PortError
// (Kind ErrPortAssigned or ErrPortInUse; an in-use message names the
// holding process when /proc shows it). A persisted, not yet handed out, assignment of the port to another
// key yields to the fixed port; that key gets a fresh port later. Reserving
// the port key already holds succeeds without a bind check; reserving a
// different one replaces key's old port.
func (a *PortAllocator) Reserve(key string, port int) error {
	if key == "" {
		return errors.New("reserve port: empty key")
	}
	if port < 1 || port > 65535 {
		return fmt.Errorf("port %d for %s is out of range 1-65535", port, key)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if owner, ok := a.owner[port]; ok {
		switch {
		case owner == key && a.handed[key]:
			return nil
		case owner != key && a.handed[owner]:
			return &PortError{Port: port, Key: key, Kind: ErrPortAssigned, Holder: owner}
		}
	}
	if err := canBind(port); err != nil {
		pe := &PortError{Port: port, Key: key, Err: err}
		if errors.Is(err, syscall.EADDRINUSE) {
			pe.Kind, pe.Holder = ErrPortInUse, portHolder(port)
		}
		return pe
	}
	if owner, ok := a.owner[port]; ok && owner != key {
		a.forget(owner)
	}
	a.forget(key)
	a.hand(key, port)
	return nil
}

// Release forgets key's port, here and (after the next Save) on disk: the
// resource is gone from the project. Releasing an unknown key does nothing.
func (a *PortAllocator) Release(key string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.forget(key)
}

// Snapshot returns a copy of every assignment, persisted or handed out.
func (a *PortAllocator) Snapshot() map[string]int {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make(map[string]int, len(a.ports))
	for k, p := range a.ports {
		out[k] = p
	}
	return out
}

// Save writes the assignments to the state file atomically (temp file,
// fsync, rename; mode 0600). It does nothing if nothing changed since the
// last load or Save.
func (a *PortAllocator) Save() error {
	a.saveMu.Lock()
	defer a.saveMu.Unlock()
	a.mu.Lock()
	if !a.dirty {
		a.mu.Unlock()
		return nil
	}
	f := portsFile{Version: portsFileVersion, Ports: make(map[string]int, len(a.ports))}
	for k, p := range a.ports {
		f.Ports[k] = p
	}
	a.dirty = false
	a.mu.Unlock()

	if err := fsutil.WriteJSONAtomic(a.path, f); err != nil {
		a.mu.Lock()
		a.dirty = true
		a.mu.Unlock()
		return fmt.Errorf("save port state: %w", err)
	}
	return nil
}

// hand records key → port as handed out. Caller holds mu and has made sure
// no other key owns port.
func (a *PortAllocator) hand(key string, port int) {
	if old, ok := a.ports[key]; !ok || old != port {
		a.dirty = true
	}
	a.ports[key], a.owner[port], a.handed[key] = port, key, true
}

// forget drops key's assignment. Caller holds mu.
func (a *PortAllocator) forget(key string) {
	p, ok := a.ports[key]
	if !ok {
		return
	}
	delete(a.ports, key)
	delete(a.handed, key)
	if a.owner[p] == key {
		delete(a.owner, p)
	}
	a.dirty = true
}

// canBind reports whether a TCP listener could be opened on
// 127.0.0.1:port right now, as the service itself would open it (with
// SO_REUSEADDR, as Go and most servers do): a listener on the wildcard
// address holds the port and makes this fail; connections of a previous
// run lingering in TIME_WAIT do not, so a persisted port stays the
// resource's across a quick restart.
func canBind(port int) error {
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return err
	}
	return ln.Close()
}

// canReserve is canBind without SO_REUSEADDR: it also refuses a port with
// connections in TIME_WAIT. A fresh port is chosen with it, because the
// daemon reserves a waiting instance's port by binding it this way, which
// would fail on such a port and leave it unguarded.
func canReserve(port int) error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if err := unix.Bind(fd, &unix.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		return &net.OpError{Op: "listen", Net: "tcp", Addr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port}, Err: os.NewSyscallError("bind", err)}
	}
	return nil
}

// freshPort returns a port that can be bound on 127.0.0.1 right now
// (a variable so a test can make it collide with assigned ports).
//
// It prefers ports below the kernel's ephemeral range
// (net.ipv4.ip_local_port_range, 32768-60999 by default), because connect()
// takes its source ports only from that range: a port outside it cannot be
// taken by some outgoing connection in the gap between allocation and the
// service binding it, or while the service restarts on a reload, or while
// the daemon is down. It starts at 20000 to stay clear of the dense block
// of well-known development ports. When the ephemeral range leaves no room
// (or is unknown), the kernel chooses (bind :0), as most tools do.
var freshPort = func() (int, error) {
	lo, hi := allocRange()
	if hi-lo >= minAllocRange {
		for range 32 {
			p := lo + rand.IntN(hi-lo+1)
			if canReserve(p) == nil {
				return p, nil
			}
		}
	}
	return kernelPort()
}

const (
	allocRangeLow = 20000
	minAllocRange = 1000 // fewer ports than this: not worth preferring
)

var allocRange = sync.OnceValues(func() (lo, hi int) {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 0, 0
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return 0, 0
	}
	ephLo, err := strconv.Atoi(f[0])
	if err != nil {
		return 0, 0
	}
	return allocRangeLow, ephLo - 1
})

// kernelPort asks the kernel for a free port by binding port 0.
func kernelPort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	port := ln.Addr().(*net.TCPAddr).Port
	if err := ln.Close(); err != nil {
		return 0, err
	}
	return port, nil
}

// PortHolder names the process listening on TCP port ("pid 1234
// (nginx)"), or "" when /proc does not tell. For error messages.
func PortHolder(port int) string { return portHolder(port) }

// portHolder names the process listening on port ("pid 1234 (nginx)"),
// from /proc/net/tcp{,6} and /proc/*/fd, or "" if that cannot be told
// (not Linux, or the process belongs to someone we may not inspect). It
// only runs on the error path.
func portHolder(port int) string {
	inodes := map[string]bool{}
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		listeningInodes(f, port, inodes)
	}
	if len(inodes) == 0 {
		return ""
	}
	procs, err := os.ReadDir("/proc")
	if err != nil {
		return ""
	}
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil {
			continue
		}
		fdDir := filepath.Join("/proc", p.Name(), "fd")
		fds, err := os.ReadDir(fdDir)
		if err != nil {
			continue
		}
		for _, fd := range fds {
			link, err := os.Readlink(filepath.Join(fdDir, fd.Name()))
			if err != nil || !strings.HasPrefix(link, "socket:[") {
				continue
			}
			if inodes[strings.TrimSuffix(strings.TrimPrefix(link, "socket:["), "]")] {
				comm, _ := os.ReadFile(filepath.Join("/proc", p.Name(), "comm"))
				if c := strings.TrimSpace(string(comm)); c != "" {
					return fmt.Sprintf("pid %d (%s)", pid, c)
				}
				return fmt.Sprintf("pid %d", pid)
			}
		}
	}
	return ""
}

// listeningInodes adds the socket inodes of listeners on port found in a
// /proc/net/tcp-format file.
func listeningInodes(path string, port int, into map[string]bool) {
	f, err := os.Open(path)
	if err != nil {
		return
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	for sc.Scan() {
		// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
		fields := strings.Fields(sc.Text())
		if len(fields) < 10 || fields[3] != "0A" { // 0A: TCP_LISTEN
			continue
		}
		i := strings.LastIndexByte(fields[1], ':')
		if i < 0 {
			continue
		}
		p, err := strconv.ParseUint(fields[1][i+1:], 16, 16)
		if err != nil || int(p) != port {
			continue
		}
		into[fields[9]] = true
	}
}
