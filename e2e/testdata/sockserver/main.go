// Command sockserver is the end-to-end tests' socket-activated workload:
// it serves HTTP on the listening socket it inherits as fd 3, checking
// the systemd convention exactly as github.com/coreos/go-systemd's
// activation.Files does: LISTEN_PID must be its own PID and LISTEN_FDS
// must be 1. It never binds a port itself, so answering at all proves the
// socket came from the daemon. /healthz answers "ok <pid> <fdnames>".
package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
)

func main() {
	pid, err := strconv.Atoi(os.Getenv("LISTEN_PID"))
	if err != nil || pid != os.Getpid() {
		fmt.Fprintf(os.Stderr, "LISTEN_PID=%q, want %d\n", os.Getenv("LISTEN_PID"), os.Getpid())
		os.Exit(2)
	}
	if os.Getenv("LISTEN_FDS") != "1" {
		fmt.Fprintf(os.Stderr, "LISTEN_FDS=%q, want 1\n", os.Getenv("LISTEN_FDS"))
		os.Exit(2)
	}
	ln, err := net.FileListener(os.NewFile(3, "LISTEN_FD_3"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "fd 3:", err)
		os.Exit(2)
	}
	fmt.Printf("sockserver %d serving on inherited %s\n", os.Getpid(), ln.Addr())
	http.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, "ok %d %s\n", os.Getpid(), os.Getenv("LISTEN_FDNAMES"))
	})
	if err := http.Serve(ln, nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
