package containerd

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apphostd/apphostd/pkg/runtime"
)

func TestHostNetworkLifecycle(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	port := freePort(t)
	s := e.spec("web-0", func(s *runtime.Spec) {
		s.Network = "host"
		s.Env = []string{"PORT=" + strconv.Itoa(port), "GREETING=hello"}
	})
	st := e.start(s)
	if st.State != runtime.StateRunning || st.PID <= 0 || st.StartTime == 0 {
		t.Fatalf("status after start = %+v", st)
	}
	exitC, err := e.d.Wait(ctx, s.ID)
	if err != nil {
		t.Fatal(err)
	}
	body := get(t, "http://127.0.0.1:"+strconv.Itoa(port)+"/env")
	if !strings.Contains(body, `"GREETING":"hello"`) {
		t.Errorf("/env = %s, want GREETING=hello", body)
	}
	if _, err := e.d.Start(ctx, s); !errors.Is(err, runtime.ErrAlreadyExists) {
		t.Errorf("second start: %v, want ErrAlreadyExists", err)
	}
	in, err := e.d.Inspect(ctx, s.ID)
	if err != nil || in.State != runtime.StateRunning || in.PID != st.PID {
		t.Errorf("inspect = %+v, %v", in, err)
	}

	if err := e.d.Stop(ctx, s.ID, 10*time.Second); err != nil {
		t.Fatalf("stop: %v", err)
	}
	select {
	case ex := <-exitC:
		if ex.ExitCode != 0 {
			t.Errorf("exit code %d, want 0 (graceful on the image's SIGINT)", ex.ExitCode)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no exit delivered after Stop returned")
	}
	// The image's stop signal (SIGINT) was used, not SIGTERM.
	if log := readFileEventually(t, s.LogPath, "signal: interrupt"); !strings.Contains(log, "signal: interrupt") {
		t.Errorf("log = %q, want the server to report SIGINT", log)
	}
	if err := e.d.Stop(ctx, s.ID, time.Second); err != nil {
		t.Errorf("stop again: %v", err)
	}
	in, err = e.d.Inspect(ctx, s.ID)
	if err != nil || in.State != runtime.StateExited {
		t.Errorf("inspect after stop = %+v, %v", in, err)
	}
	if err := e.d.Delete(ctx, s.ID); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if err := e.d.Delete(ctx, s.ID); err != nil {
		t.Errorf("delete again: %v", err)
	}
	if _, err := e.d.Inspect(ctx, s.ID); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("inspect after delete: %v, want ErrNotFound", err)
	}
	if _, err := e.d.Wait(ctx, s.ID); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("wait after delete: %v, want ErrNotFound", err)
	}
}
