package containerdtest

import (
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
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
