package process

import (
	"context"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	rt "github.com/apphostd/apphostd/pkg/runtime"
)

// freePort returns a port nothing listens on right now.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func TestSocketActivationPassesHeldListener(t *testing.T) {
	ls := NewListeners()
	defer ls.Close()
	d := NewWithOptions(Options{Listeners: ls})
	t.Cleanup(func() { stopAll(d) })
	port := freePort(t)
	if err := ls.Hold(port); err != nil {
		t.Fatal(err)
	}
	// Held: nobody else can bind it between allocation and start.
	if ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port)); err == nil {
		ln.Close()
		t.Fatal("another listener could bind a held port")
	}
	// The child sees LISTEN_PID = its own PID (set by the shim after
	// fork), LISTEN_FDS=1, the endpoint's name, and fd 3 is the socket.
	spec := shSpec(t, "sock", `echo "pid=$$ listen_pid=$LISTEN_PID fds=$LISTEN_FDS names=$LISTEN_FDNAMES fd3=$(readlink /proc/$$/fd/3)"; sleep 300`)
	spec.Env = append(spec.Env, "LISTEN_PID=1", "LISTEN_FDS=9") // inherited junk is replaced
	spec.Ports = []rt.PortMapping{{Name: "http", HostIP: "127.0.0.1", HostPort: port, ContainerPort: port, Protocol: "tcp", Socket: true}}
	st := mustStart(t, d, spec)
	var line string
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		b, _ := os.ReadFile(spec.LogPath)
		if line = strings.TrimSpace(string(b)); line != "" {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	want := "pid=" + strconv.Itoa(st.PID) + " listen_pid=" + strconv.Itoa(st.PID) + " fds=1 names=http fd3=socket:["
	if !strings.HasPrefix(line, want) {
		t.Fatalf("child saw %q, want prefix %q", line, want)
	}
	// The listener accepts connections (the backlog holds them until the
	// program accepts), and stays held after the instance stops.
	c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), time.Second)
	if err != nil {
		t.Fatalf("dial the held socket: %v", err)
	}
	c.Close()
	if err := d.Stop(context.Background(), "sock", time.Second); err != nil {
		t.Fatal(err)
	}
	if !ls.Held(port) {
		t.Fatal("the port was released when the instance stopped")
	}
	ls.Release(port)
	ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		t.Fatalf("port not free after Release: %v", err)
	}
	ln.Close()
}

func TestSocketConflictNamesHolder(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	d := newDriver(t)
	spec := shSpec(t, "sock", "sleep 300")
	spec.Ports = []rt.PortMapping{{Name: "http", HostPort: port, Socket: true}}
	_, err = d.Start(context.Background(), spec)
	if err == nil || !IsAddrInUse(err) || !strings.Contains(err.Error(), "pid "+strconv.Itoa(os.Getpid())) {
		t.Fatalf("Start on a taken socket port: %v; want EADDRINUSE naming pid %d", err, os.Getpid())
	}
}

func TestListenersAdoptTakesSocketFromProcess(t *testing.T) {
	ls := NewListeners()
	d := NewWithOptions(Options{Listeners: ls})
	t.Cleanup(func() { stopAll(d) })
	port := freePort(t)
	spec := shSpec(t, "sock", "sleep 300")
	spec.Ports = []rt.PortMapping{{Name: "http", HostPort: port, Socket: true}}
	mustStart(t, d, spec)
	ls.Close() // the daemon is gone; only the child holds the socket

	ls2 := NewListeners()
	defer ls2.Close()
	if err := ls2.Hold(port); err == nil || !IsAddrInUse(err) {
		t.Fatalf("Hold while the child holds it: %v, want EADDRINUSE", err)
	}
	if err := ls2.Adopt(port); err != nil {
		t.Fatal(err)
	}
	if !ls2.Held(port) {
		t.Fatal("Adopt did not hold the port")
	}
	c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), time.Second)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	c.Close()
}

func TestReservationHoldsPortUntilStart(t *testing.T) {
	ls := NewListeners()
	defer ls.Close()
	d := NewWithOptions(Options{Listeners: ls})
	t.Cleanup(func() { stopAll(d) })
	port := freePort(t)
	other := freePort(t)
	if n := ls.SetReservations(map[string][]int{"api": {port}, "web": {other}}); n != 2 {
		t.Fatalf("reserved %d ports, want 2", n)
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	// Held: no bind, even with SO_REUSEADDR (Go's net.Listen sets it) or
	// on the wildcard address; connections are refused (nothing listens).
	for _, a := range []string{addr, "0.0.0.0:" + strconv.Itoa(port)} {
		if ln, err := net.Listen("tcp4", a); err == nil {
			ln.Close()
			t.Fatalf("could bind reserved %s", a)
		}
	}
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Fatal("a reserved port accepted a connection")
	}
	// Starting the instance releases its ports (the program binds them).
	mustStart(t, d, shSpec(t, "api", "sleep 300"))
	if ls.Reserved("api", port) {
		t.Fatal("still reserved after the instance started")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("port not free for the started instance: %v", err)
	}
	ln.Close()
	if !ls.Reserved("web", other) {
		t.Fatal("another instance's reservation was released")
	}
	// Dropping it from the wanted set releases it.
	ls.SetReservations(nil)
	if ls.Reserved("web", other) {
		t.Fatal("reservation kept after SetReservations(nil)")
	}
}
