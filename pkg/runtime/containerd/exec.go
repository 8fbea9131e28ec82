package containerd

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"sync"

	"github.com/apphostd/apphostd/pkg/runtime"
	cdclient "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/cio"
	"github.com/containerd/errdefs"
)

// maxExecOutput caps what Exec keeps of a command's output.
const maxExecOutput = 64 << 10

// Exec implements runtime.Execer: it runs argv in the running container
// (same user, env and cwd as its main process) and returns its exit code
// and combined output (first 64 KiB). Used by exec health checks.
func (d *Driver) Exec(ctx context.Context, id string, argv []string) (int, []byte, error) {
	if len(argv) == 0 {
		return -1, nil, fmt.Errorf("exec %s: empty command: %w", id, runtime.ErrInvalidSpec)
	}
	c, err := d.client.LoadContainer(ctx, d.containerID(id))
	if err != nil {
		return -1, nil, d.classify("exec", id, err)
	}
	spec, err := c.Spec(ctx)
	if err != nil {
		return -1, nil, d.classify("exec", id, err)
	}
	t, err := c.Task(ctx, nil)
	if err != nil {
		return -1, nil, d.classify("exec", id, err)
	}
	pspec := *spec.Process
	pspec.Args = argv
	pspec.Terminal = false

	var out capBuffer
	if err := os.MkdirAll(d.fifoDir(), 0o700); err != nil {
		return -1, nil, fmt.Errorf("exec %s: %w", id, err)
	}
	execID := "exec-" + randomHex(6)
	p, err := t.Exec(ctx, execID, &pspec, cio.NewCreator(cio.WithStreams(nil, &out, &out), cio.WithFIFODir(d.fifoDir())))
	if err != nil {
		return -1, nil, d.classify("exec", id, err)
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), dialTimeout)
		defer cancel()
		_, _ = p.Delete(dctx, cdclient.WithProcessKill)
	}()
	statusC, err := p.Wait(ctx)
	if err != nil {
		return -1, nil, d.classify("exec", id, err)
	}
	if err := p.Start(ctx); err != nil {
		return -1, nil, d.classifyTaskErr("exec", id, err)
	}
	select {
	case st := <-statusC:
		p.IO().Wait() // all output copied
		code, _, err := st.Result()
		if err != nil && !errdefs.IsNotFound(err) {
			return -1, out.Bytes(), d.classify("exec", id, err)
		}
		return int(code), out.Bytes(), nil
	case <-ctx.Done():
		return -1, out.Bytes(), fmt.Errorf("exec %s: %w", id, ctx.Err())
	}
}

// capBuffer keeps the first maxExecOutput bytes written by the stdout and
// stderr copiers (two goroutines).
type capBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (b *capBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := maxExecOutput - len(b.buf); room > 0 {
		if len(p) < room {
			room = len(p)
		}
		b.buf = append(b.buf, p[:room]...)
	}
	return len(p), nil
}

func (b *capBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]byte(nil), b.buf...)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
