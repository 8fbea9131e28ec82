package logs

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"
)

// Rotation defaults and bounds.
const (
	DefaultMaxFileSize = 10 << 20
	DefaultKeep        = 3
	// rotateBacklog*maxSize is the most of the old content a rotation
	// keeps: a file that grew further (the daemon was down, or a writer
	// outran it) loses its oldest bytes.
	rotateBacklog = 2
	// rotateCopyFactor*maxSize caps one rotation's copy, including what
	// arrives while it copies; it only matters against a writer as fast
	// as a kernel copy, and guarantees the copy ends.
	rotateCopyFactor = 8
	// rotateCatchUp bounds how much unread output a rotation reads into
	// the Ring: under overload the Ring gets the newest output, the
	// older unread part stays only in FILE.1.
	rotateCatchUp = 1 << 20
)

// rotate rotates the file copytruncate-style: FILE.(k-1) moves to FILE.k
// (keeping rot.keep copies), the current content is copied to FILE.1, and
// FILE is truncated to 0. The child keeps its O_APPEND descriptor, so its
// next write lands at the new end; nothing is reopened or signalled.
//
// The copy is a kernel copy to EOF immediately followed by the truncate,
// so the window in which a write is lost (after the copy reached EOF,
// before the truncate) is microseconds. Only then are unread lines read,
// from the copy, into the Ring. A rotation therefore costs a kernel copy
// plus at most rotateCatchUp bytes of splitting whatever the backlog, and
// a writer that outruns the tailer still cannot grow the files or the
// daemon's memory without bound. Besides that window, by design:
//   - of a file larger than rotateBacklog*maxSize only the newest
//     rotateBacklog*maxSize bytes are kept;
//   - unread output older than the newest rotateCatchUp bytes is in
//     FILE.1 but not in the Ring.
//
// Both are counted in SkippedBytes when they were unread. The Ring still
// sees lines in order and never twice. Each kept file holds at most
// rotateCopyFactor*maxSize bytes, in practice a little over maxSize.
//
// Called with t.mu held and t.f open; size is t.f's current size.
func (t *Tailer) rotate(size int64) error {
	path := t.cfg.Path
	tmp := path + ".1.tmp"
	dst, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	defer func() {
		if dst != nil {
			dst.Close()
			os.Remove(tmp)
		}
	}()

	start := max(0, size-rotateBacklog*t.rot.maxSize)
	if _, err := t.f.Seek(start, io.SeekStart); err != nil {
		return err
	}
	n, err := io.Copy(dst, io.LimitReader(t.f, rotateCopyFactor*t.rot.maxSize))
	if err != nil {
		return err
	}
	if err := os.Truncate(path, 0); err != nil {
		return err
	}
	end := start + n // the old content ended here (the copy's EOF)

	// Read the unread part, newest rotateCatchUp bytes at most, from the
	// copy. dst offset = old offset - start.
	feedFrom := max(t.pos, end-rotateCatchUp, start)
	if t.pos < feedFrom {
		t.skipped.Add(uint64(feedFrom - t.pos))
		t.partial = t.partial[:0]
		t.discard = true // we resume mid-line
		t.pos = feedFrom
	}
	if t.buf == nil {
		t.buf = make([]byte, readChunk)
	}
	for t.pos < end {
		n, err := dst.ReadAt(t.buf[:min(int64(len(t.buf)), end-t.pos)], t.pos-start)
		if n > 0 {
			t.feed(t.buf[:n], time.Now())
		}
		if err == io.EOF || (err == nil && n == 0) {
			break
		}
		if err != nil {
			return err
		}
	}

	if t.rot.keep > 0 {
		for k := t.rot.keep; k >= 2; k-- {
			err := os.Rename(fmt.Sprintf("%s.%d", path, k-1), fmt.Sprintf("%s.%d", path, k))
			if err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		}
		err := dst.Close()
		dst = nil
		if err != nil {
			os.Remove(tmp)
			return err
		}
		if err := os.Rename(tmp, path+".1"); err != nil {
			return err
		}
	}
	// An unfinished line is kept: its rest will be written to the new
	// file. (Its start is not in the new file, so Offset cannot cover it.)
	t.pos = 0
	t.lineStart = 0
	t.offset.Store(0)
	t.rotations.Add(1)
	return nil
}
