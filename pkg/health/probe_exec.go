package health

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// maxExecOutput bounds how much probe output is kept for the error text.
const maxExecOutput = 4 << 10

// ProbeExec runs argv as a local command in dir and succeeds if it exits 0.
// env nil means the daemon's own environment; otherwise env is the whole
// environment. The command gets its own process group, and the whole group
// is killed when ctx ends, so a probe script's children cannot outlive it.
func ProbeExec(ctx context.Context, argv []string, env []string, dir string) error {
	if len(argv) == 0 || argv[0] == "" {
		return errors.New("exec probe: empty command")
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = env
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		// Negative PID: the process group Setpgid made, led by the child.
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	// A grandchild holding the output pipe must not keep Wait blocked
	// after the group was killed.
	cmd.WaitDelay = 100 * time.Millisecond
	out := &capped{max: maxExecOutput}
	cmd.Stdout = out
	cmd.Stderr = out
	err := cmd.Run()
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return fmt.Errorf("exec %s: %w", argv[0], ctx.Err())
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return exitError(argv[0], ee.ExitCode(), out.Bytes())
	}
	return fmt.Errorf("exec %s: %w", argv[0], err)
}

// ExecFunc runs a probe command somewhere else (inside a container, via
// runtime.Execer) and returns its exit code and combined output. err is
// for failing to run the command at all.
type ExecFunc func(ctx context.Context) (exitCode int, output []byte, err error)

// probeExecFunc adapts an ExecFunc to the probe contract.
func probeExecFunc(ctx context.Context, fn ExecFunc) error {
	code, out, err := fn(ctx)
	if err != nil {
		return fmt.Errorf("exec probe: %w", err)
	}
	if code != 0 {
		return exitError("probe command", code, out)
	}
	return nil
}

// exitError names the exit code and the last line of output, which is
// where health scripts usually say what is wrong.
func exitError(name string, code int, out []byte) error {
	msg := lastLine(out)
	if msg == "" {
		return fmt.Errorf("exec %s: exit status %d", name, code)
	}
	return fmt.Errorf("exec %s: exit status %d: %s", name, code, msg)
}

func lastLine(b []byte) string {
	s := strings.TrimSpace(string(b))
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = strings.TrimSpace(s[i+1:])
	}
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}

// capped is an io.Writer keeping only the last max bytes written, so a
// chatty probe cannot grow the daemon's memory.
type capped struct {
	max int
	buf bytes.Buffer
}

func (c *capped) Write(p []byte) (int, error) {
	n := len(p)
	if len(p) >= c.max {
		c.buf.Reset()
		c.buf.Write(p[len(p)-c.max:])
		return n, nil
	}
	if over := c.buf.Len() + len(p) - c.max; over > 0 {
		c.buf.Next(over)
	}
	c.buf.Write(p)
	return n, nil
}

func (c *capped) Bytes() []byte { return c.buf.Bytes() }
