package containerd

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/apphostd/apphostd/pkg/runtime"
	cdclient "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/images"
	"github.com/containerd/errdefs"
	"github.com/distribution/reference"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"go.uber.org/zap"
)

// Pull policies (Spec.Pull).
const (
	PullMissing = "missing"
	PullAlways  = "always"
	PullNever   = "never"
)

// ImportArchive imports an OCI image layout or docker-save tarball into the
// driver's namespace, unpacks it for the driver's snapshotter and returns
// the names it was stored under. Offline: nothing is pulled.
func (d *Driver) ImportArchive(ctx context.Context, r io.Reader) ([]string, error) {
	imgs, err := d.client.Import(ctx, r)
	if err != nil {
		return nil, d.classify("import", "archive", err)
	}
	var names []string
	for _, i := range imgs {
		img := cdclient.NewImage(d.client, i)
		if err := d.unpack(ctx, img); err != nil {
			return names, err
		}
		names = append(names, i.Name)
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("import archive: no named image in it (index.json needs an io.containerd.image.name or org.opencontainers.image.ref.name annotation): %w", runtime.ErrInvalidSpec)
	}
	return names, nil
}

// image returns the spec's image, unpacked, pulling it as the policy says.
// pull=never with the image absent is ErrInvalidSpec: retrying cannot help.
// A pull is announced through Options.OnPull and written, blob by blob, to
// the instance's log (logPath, if set) so users see why a start is slow.
func (d *Driver) image(ctx context.Context, id, ref, policy, logPath string) (cdclient.Image, error) {
	if ref == "" {
		return nil, fmt.Errorf("no image given: %w", runtime.ErrInvalidSpec)
	}
	full := ref
	if named, err := reference.ParseDockerRef(ref); err == nil {
		full = named.String()
	} else if policy != PullNever {
		return nil, fmt.Errorf("image %q: %v: %w", ref, err, runtime.ErrInvalidSpec)
	}
	switch policy {
	case "", PullMissing, PullNever, PullAlways:
	default:
		return nil, fmt.Errorf("pull policy %q (want missing, always or never): %w", policy, runtime.ErrInvalidSpec)
	}
	if policy != PullAlways {
		for _, name := range uniq(ref, full) {
			img, err := d.client.GetImage(ctx, name)
			if err == nil {
				return img, d.unpack(ctx, img)
			}
			if !errdefs.IsNotFound(err) {
				return nil, d.classify("get image", name, err)
			}
		}
		if policy == PullNever {
			return nil, fmt.Errorf("image %s is not in containerd namespace %q and pull = \"never\" (import it with `apphostd image import FILE.tar`): %w",
				ref, d.opts.Namespace, runtime.ErrInvalidSpec)
		}
	}
	d.log.Info("pulling image", zap.String("id", id), zap.String("image", full))
	if d.opts.OnPull != nil {
		d.opts.OnPull(id, full)
	}
	plog := openPullLog(logPath)
	defer plog.Close()
	plog.printf("apphost: pulling %s (pull = %q)", full, policy)
	t0 := time.Now()
	img, err := d.client.Pull(ctx, full, cdclient.WithPullUnpack, cdclient.WithPullSnapshotter(d.opts.Snapshotter),
		cdclient.WithImageHandler(images.HandlerFunc(func(_ context.Context, desc ocispec.Descriptor) ([]ocispec.Descriptor, error) {
			plog.printf("apphost: fetching %s %s (%d bytes)", desc.MediaType, desc.Digest.Encoded()[:12], desc.Size)
			return nil, nil
		})))
	if err != nil {
		plog.printf("apphost: pull %s failed: %v", full, err)
	} else {
		plog.printf("apphost: pulled %s in %s", full, time.Since(t0).Round(time.Millisecond))
	}
	if err != nil {
		if errdefs.IsNotFound(err) {
			return nil, fmt.Errorf("pull %s: %v: %w", full, err, runtime.ErrInvalidSpec)
		}
		return nil, d.classify("pull", full, err)
	}
	return img, nil
}

func (d *Driver) unpack(ctx context.Context, img cdclient.Image) error {
	ok, err := img.IsUnpacked(ctx, d.opts.Snapshotter)
	if err != nil {
		return d.classify("check unpacked", img.Name(), err)
	}
	if ok {
		return nil
	}
	if err := img.Unpack(ctx, d.opts.Snapshotter); err != nil {
		return d.classify("unpack", img.Name(), err)
	}
	return nil
}

func uniq(a, b string) []string {
	if a == b {
		return []string{a}
	}
	return []string{a, b}
}

// pullLog appends pull progress to an instance's log file; a nil file
// (no log path, or it cannot be opened) discards.
type pullLog struct{ f *os.File }

func openPullLog(path string) pullLog {
	if path == "" {
		return pullLog{}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return pullLog{}
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return pullLog{}
	}
	return pullLog{f: f}
}

func (l pullLog) printf(format string, args ...any) {
	if l.f != nil {
		fmt.Fprintf(l.f, format+"\n", args...)
	}
}

func (l pullLog) Close() {
	if l.f != nil {
		l.f.Close()
	}
}
