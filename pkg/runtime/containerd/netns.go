package containerd

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	goruntime "runtime"
	"sync"

	"golang.org/x/sys/unix"
)

// createNetNS makes a persistent network namespace at path (a bind mount of
// a fresh namespace onto an empty file), as CRI does, so CNI can configure
// it before the task starts and a later Driver can find it by path.
func createNetNS(path string) (err error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("create netns dir: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE|os.O_EXCL, 0o444)
	if err != nil {
		return fmt.Errorf("create netns file: %w", err)
	}
	f.Close()
	defer func() {
		if err != nil {
			os.Remove(path)
		}
	}()

	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		// Never unlocked: the thread ends with the goroutine, so a thread
		// whose namespace could not be restored is never reused.
		goruntime.LockOSThread()
		self := fmt.Sprintf("/proc/%d/task/%d/ns/net", os.Getpid(), unix.Gettid())
		orig, oerr := os.Open(self)
		if oerr != nil {
			err = fmt.Errorf("open current netns: %w", oerr)
			return
		}
		defer orig.Close()
		if uerr := unix.Unshare(unix.CLONE_NEWNET); uerr != nil {
			err = fmt.Errorf("unshare netns: %w", uerr)
			return
		}
		defer unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET) //nolint:errcheck // thread is discarded anyway
		if merr := unix.Mount(self, path, "none", unix.MS_BIND, ""); merr != nil {
			err = fmt.Errorf("bind mount netns at %s: %w", path, merr)
		}
	}()
	wg.Wait()
	return err
}

// removeNetNS unmounts and removes a namespace made by createNetNS; a
// missing one is success.
func removeNetNS(path string) error {
	if err := unix.Unmount(path, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("unmount netns %s: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("remove netns %s: %w", path, err)
	}
	return nil
}
