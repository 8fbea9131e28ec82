package containerdtest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/apphostd/apphostd/pkg/testutil/ociimage"
)

func TestStartStop(t *testing.T) {
	var in *Instance
	t.Run("start", func(t *testing.T) {
		in = Start(t)
		if len(in.Address) >= 108 {
			t.Errorf("socket path %q is %d bytes, want < 108", in.Address, len(in.Address))
		}
		c, err := net.Dial("unix", in.Address)
		if err != nil {
			t.Fatalf("dial %s: %v", in.Address, err)
		}
		c.Close()
		if !strings.HasPrefix(in.Root, in.Dir) || !strings.HasPrefix(in.State, in.Dir) {
			t.Errorf("root %s / state %s not under %s", in.Root, in.State, in.Dir)
		}
	})
	if in == nil || in.PID == 0 {
		t.Skip("no instance")
	}
	// After the subtest's cleanup the daemon is gone and its dir removed.
	if err := syscall.Kill(in.PID, 0); err == nil {
		t.Errorf("containerd pid %d still alive after cleanup", in.PID)
	}
	if _, err := os.Stat(in.Dir); !os.IsNotExist(err) {
		t.Errorf("instance dir %s still exists: %v", in.Dir, err)
	}
}

// TestSweepsLeftovers: a task still running when the test ends is killed
// with its shim, and the shim's socket outside the instance dir is removed.
func TestSweepsLeftovers(t *testing.T) {
	ctr, err := exec.LookPath("ctr")
	if err != nil {
		t.Skip("ctr not installed")
	}
	var in *Instance
	var shimSocket string
	var initPID int
	t.Run("leave a task running", func(t *testing.T) {
		in = Start(t)
		run := func(args ...string) string {
			t.Helper()
			cmd := exec.Command(ctr, append([]string{"--address", in.Address, "--namespace", "t"}, args...)...)
			cmd.Stdin = bytes.NewReader(ociimage.TestServer(t))
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("ctr %v: %v\n%s", args, err, out)
			}
			return string(out)
		}
		run("images", "import", "-")
		run("run", "-d", "--net-host", "--runc-root", in.RuncRoot, "--env", "PORT=0", ociimage.TestServerName, "left")
		for _, line := range strings.Split(run("tasks", "ls"), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "left" {
				initPID, _ = strconv.Atoi(f[1])
			}
		}
		if initPID == 0 {
			t.Fatal("no pid for the task")
		}
		sum := sha256.Sum256([]byte(filepath.Join(in.Address, "t", "left")))
		shimSocket = filepath.Join("/run/containerd/s", hex.EncodeToString(sum[:]))
		if _, err := os.Stat(shimSocket); err != nil {
			t.Fatalf("shim socket not where expected: %v", err)
		}
	})
	if initPID == 0 {
		t.FailNow()
	}
	// The kill is asynchronous to the kernel's reaping; give it a moment.
	deadline := time.Now().Add(5 * time.Second)
	for syscall.Kill(initPID, 0) == nil && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if syscall.Kill(initPID, 0) == nil {
		if b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", initPID)); !strings.Contains(string(b), ") Z ") {
			t.Errorf("task process %d still running after cleanup", initPID)
		}
	}
	if _, err := os.Stat(shimSocket); !os.IsNotExist(err) {
		t.Errorf("shim socket %s left: %v", shimSocket, err)
	}
}
