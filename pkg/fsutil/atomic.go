// Package fsutil holds small file-system helpers shared by the daemon's
// state writers.
package fsutil

import (
	"encoding/json"
	"os"
	"path/filepath"
)

// WriteFileAtomic writes b to path via a temp file in the same directory,
// fsync and rename, mode 0600, so a crash leaves either the old or the new
// content, never a torn file.
func WriteFileAtomic(path string, b []byte) error {
	return replace(path, b, 0o600, true)
}

// WriteFileAtomicMode is WriteFileAtomic with the file's mode given (a
// user's project file keeps its permissions when apphostd edits it).
func WriteFileAtomicMode(path string, b []byte, mode os.FileMode) error {
	return replace(path, b, mode, true)
}

// ReplaceFile is WriteFileAtomic without the fsyncs: the rename is atomic
// (a reader or a killed writer sees the old or the new content), but a
// power loss may lose the write. For files written on a hot path whose
// durability is seen to separately.
func ReplaceFile(path string, b []byte) error {
	return replace(path, b, 0o600, false)
}

func replace(path string, b []byte, mode os.FileMode, sync bool) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if sync {
		if err := f.Sync(); err != nil {
			f.Close()
			return err
		}
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	if sync {
		if d, err := os.Open(dir); err == nil {
			_ = d.Sync()
			d.Close()
		}
	}
	return nil
}

// WriteJSONAtomic marshals v (indented) and writes it with WriteFileAtomic.
func WriteJSONAtomic(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return WriteFileAtomic(path, append(b, '\n'))
}
