package watch

import (
	"os"
	"syscall"
)

// fingerprint is what polling compares between ticks. It covers in-place
// writes (size, mtime), rename-over (inode, device) and deletion.
// A false positive only costs one read and a byte comparison.
type fingerprint struct {
	exists bool
	size   int64
	mtime  int64 // ns; an int so fingerprints compare with ==
	ino    uint64
	dev    uint64
}

// statFile follows symlinks, so a project file that is a link to a file
// elsewhere is still seen to change by polling, though fsnotify on the
// link's directory would not see it.
func statFile(path string) fingerprint {
	fi, err := os.Stat(path)
	if err != nil {
		return fingerprint{}
	}
	fp := fingerprint{exists: true, size: fi.Size(), mtime: fi.ModTime().UnixNano()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		fp.ino = st.Ino
		fp.dev = uint64(st.Dev) //nolint:unconvert // Dev's width differs by platform
	}
	return fp
}
