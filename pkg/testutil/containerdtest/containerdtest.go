// Package containerdtest starts a private containerd for tests, so tests never
// touch a system containerd's state: its root, state, sockets, runc root and
// plugin dirs all live under one short temp dir that is removed afterwards.
//
// Lifecycle: Start launches the daemon and returns once its socket accepts
// connections; t.Cleanup then stops it (SIGTERM to the PID it started, then
// SIGKILL after a grace), kills what its shims left behind, unmounts what it
// mounted under the temp dir and removes the dir. Tests that start containers
// should remove them themselves (registered with t.Cleanup after Start, so
// they run before the daemon stops); the sweep here is a safety net.
//
// If containerd is not installed or cannot start, the test is skipped, or
// failed when CI=true (CI installs containerd, so its absence there is a bug).
package containerdtest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Instance is a running private containerd.
type Instance struct {
	// Address is the containerd gRPC socket path.
	Address string
	// Dir is the temp dir holding everything of this instance.
	Dir string
	// Root and State are containerd's root and state dirs.
	Root, State string
	// RuncRoot is the runc state root tests should pass to the driver so
	// runc state stays inside Dir rather than /run/containerd/runc.
	RuncRoot string
	// LogPath is containerd's own stdout/stderr.
	LogPath string
	// PID is the containerd process this helper started.
	PID int

	bin, cfg string
	cmd      *exec.Cmd
	done     chan struct{} // closed when cmd.Wait returns
}

// startTimeout bounds how long the daemon may take to open its socket.
const startTimeout = 20 * time.Second

// Start starts a private containerd and registers its teardown with t.Cleanup.
func Start(t testing.TB) *Instance {
	t.Helper()
	bin, err := exec.LookPath("containerd")
	if err != nil {
		unavailable(t, "containerd not installed (apt-get install containerd runc containernetworking-plugins, or scripts/install-container-deps.sh): %v", err)
	}
	if _, err := exec.LookPath("runc"); err != nil {
		unavailable(t, "runc not installed (apt-get install runc): %v", err)
	}
	if os.Geteuid() != 0 {
		unavailable(t, "a private containerd needs root (euid %d)", os.Geteuid())
	}

	// A short dir: unix socket paths must stay under 108 bytes, and
	// t.TempDir() embeds the (possibly long) test name.
	dir, err := os.MkdirTemp("/tmp", "ctd")
	if err != nil {
		t.Fatalf("containerdtest: temp dir: %v", err)
	}
	in := &Instance{
		Dir:      dir,
		Address:  filepath.Join(dir, "c.sock"),
		Root:     filepath.Join(dir, "root"),
		State:    filepath.Join(dir, "state"),
		RuncRoot: filepath.Join(dir, "runc"),
		LogPath:  filepath.Join(dir, "containerd.log"),
	}
	cfg := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(cfg, []byte(config(in)), 0o600); err != nil {
		t.Fatalf("containerdtest: write config: %v", err)
	}
	in.bin, in.cfg = bin, cfg
	if err := in.launch(); err != nil {
		os.RemoveAll(dir)
		unavailable(t, "start containerd: %v", err)
	}
	t.Cleanup(func() { in.stop(t) })
	if err := in.waitReady(); err != nil {
		unavailable(t, "containerd did not come up: %v\n%s", err, in.logTail())
	}
	return in
}

// launch starts the daemon process and sets cmd, done and PID.
func (in *Instance) launch() error {
	logf, err := os.OpenFile(in.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("log file: %w", err)
	}
	defer logf.Close()
	cmd := exec.Command(in.bin, "--config", in.cfg, "--log-level", "warn")
	cmd.Stdout, cmd.Stderr = logf, logf
	// Own process group: a ^C to the test does not reach the daemon before
	// the cleanup below has stopped it in order. Pdeathsig kills it if the
	// test binary dies without cleaning up; it fires when the forking
	// *thread* exits, so the fork happens on a goroutine that keeps its
	// thread locked until the daemon is gone.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	done := make(chan struct{})
	started := make(chan error, 1)
	go func() {
		goruntime.LockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			goruntime.UnlockOSThread()
			return
		}
		started <- nil
		_ = cmd.Wait()
		close(done) // the locked thread ends with this goroutine
	}()
	if err := <-started; err != nil {
		return err
	}
	in.cmd, in.done, in.PID = cmd, done, cmd.Process.Pid
	return nil
}

// Stop stops the daemon (SIGTERM, then SIGKILL after 10 s) without the
// final sweep, e.g. to test behaviour while containerd is down. Restart
// brings it back; the cleanup registered by Start still runs.
func (in *Instance) Stop(t testing.TB) {
	t.Helper()
	_ = in.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-in.done:
	case <-time.After(10 * time.Second):
		_ = in.cmd.Process.Kill()
		<-in.done
	}
}

// Restart stops the daemon (SIGTERM, as a service manager would) and
// starts it again on the same dirs. Containers keep running meanwhile:
// their shims do not depend on the daemon.
func (in *Instance) Restart(t testing.TB) {
	t.Helper()
	select {
	case <-in.done: // already stopped
	default:
		in.Stop(t)
	}
	if err := in.launch(); err != nil {
		t.Fatalf("containerdtest: restart: %v", err)
	}
	if err := in.waitReady(); err != nil {
		t.Fatalf("containerdtest: restart: %v\n%s", err, in.logTail())
	}
}

func unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("containerdtest: "+format, args...)
	}
	t.Skipf("containerdtest: "+format, args...)
}

// config is a minimal containerd 1.6 config (version 2 schema): no CRI, no
// exotic snapshotters, no tracing, every path inside the instance dir.
func config(in *Instance) string {
	q := strconv.Quote
	return fmt.Sprintf(`version = 2
root = %s
state = %s
disabled_plugins = [
  "io.containerd.grpc.v1.cri",
  "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.zfs",
  "io.containerd.tracing.processor.v1.otlp",
  "io.containerd.internal.v1.tracing",
]

[grpc]
  address = %s

[ttrpc]
  address = %s

[debug]
  address = ""

[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = %s
`, q(in.Root), q(in.State), q(in.Address), q(in.Address+".ttrpc"), q(filepath.Join(in.Dir, "opt")))
}

// waitReady polls the socket: containerd opens it only after loading its
// plugins, so an accepted connection means it serves.
func (in *Instance) waitReady() error {
	deadline := time.Now().Add(startTimeout)
	delay := 5 * time.Millisecond
	for {
		select {
		case <-in.done:
			return errors.New("containerd exited during start")
		default:
		}
		c, err := net.DialTimeout("unix", in.Address, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("socket %s: %w", in.Address, err)
		}
		time.Sleep(delay)
		if delay < 100*time.Millisecond {
			delay *= 2
		}
	}
}

func (in *Instance) logTail() string {
	b, _ := os.ReadFile(in.LogPath)
	if len(b) > 4096 {
		b = b[len(b)-4096:]
	}
	return string(b)
}

// stop ends the daemon, then sweeps what it left: task processes and shims
// still running (recorded under its state dir), mounts under the instance
// dir, and the dir itself.
func (in *Instance) stop(t testing.TB) {
	_ = in.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-in.done:
	case <-time.After(10 * time.Second):
		_ = in.cmd.Process.Kill()
		<-in.done
	}
	if n := in.killLeftovers(); n > 0 {
		t.Logf("containerdtest: killed %d leftover task/shim processes", n)
	}
	in.unmountAll()
	if err := os.RemoveAll(in.Dir); err != nil {
		t.Logf("containerdtest: remove %s: %v", in.Dir, err)
	}
	if t.Failed() {
		t.Logf("containerdtest: containerd log tail:\n%s", in.logTail())
	}
}

// killLeftovers kills task init processes (init.pid under the v2 task state
// dir) and shims (shim.pid) that this instance's daemon started.
func (in *Instance) killLeftovers() int {
	n := 0
	taskDir := filepath.Join(in.State, "io.containerd.runtime.v2.task")
	for _, name := range []string{"init.pid", "shim.pid"} {
		files, _ := filepath.Glob(filepath.Join(taskDir, "*", "*", name))
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				continue
			}
			pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
			if err != nil || pid <= 1 {
				continue
			}
			if syscall.Kill(pid, syscall.SIGKILL) == nil {
				n++
			}
		}
	}
	// Shims (containerd-shim-runc-v2 ... -address <our socket>) outlive the
	// daemon; they are ours by that argument.
	procs, _ := os.ReadDir("/proc")
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", p.Name(), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(string(b), "\x00")
		if len(args) == 0 || !strings.Contains(args[0], "containerd-shim") {
			continue
		}
		flags := map[string]string{}
		for i := 0; i+1 < len(args); i++ {
			if strings.HasPrefix(args[i], "-") {
				flags[args[i]] = args[i+1]
			}
		}
		if flags["-address"] != in.Address {
			continue
		}
		if syscall.Kill(pid, syscall.SIGKILL) == nil {
			n++
		}
		// containerd 1.6's shim puts its socket at a fixed place derived
		// from (address, namespace, id); a killed shim leaves it behind.
		sum := sha256.Sum256([]byte(filepath.Join(in.Address, flags["-namespace"], flags["-id"])))
		_ = os.Remove(filepath.Join("/run/containerd/s", hex.EncodeToString(sum[:])))
	}
	if n > 0 {
		time.Sleep(100 * time.Millisecond) // let the kernel reap before unmounting
	}
	return n
}

// unmountAll lazily unmounts every mount point below the instance dir,
// deepest first.
func (in *Instance) unmountAll() {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return
	}
	var points []string
	for _, line := range bytes.Split(b, []byte("\n")) {
		f := strings.Fields(string(line))
		if len(f) > 4 && strings.HasPrefix(f[4], in.Dir+"/") {
			points = append(points, f[4])
		}
	}
	for i := len(points) - 1; i >= 0; i-- {
		_ = syscall.Unmount(points[i], syscall.MNT_DETACH)
	}
}
