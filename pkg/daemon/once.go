package daemon

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/apphostd/apphostd/pkg/discovery"
	"github.com/apphostd/apphostd/pkg/fsutil"
	"github.com/apphostd/apphostd/pkg/model"
	"github.com/apphostd/apphostd/pkg/reconcile"
)

// onceFile is .apphost/once.json: for each run = "once" resource, the
// identity of its last successful run (exit 0).
type onceFile struct {
	Version int                  `json:"version"`
	Done    map[string]onceEntry `json:"done"`
}

type onceEntry struct {
	Key string    `json:"key"`
	At  time.Time `json:"at"`
}

var _ reconcile.OnceStore = (*onceStore)(nil)

// onceStore implements reconcile.OnceStore over .apphost/once.json. Get
// and Put only touch memory (the reconciler calls them under its lock);
// Put hands the write to a goroutine, which coalesces bursts. mu guards
// done, dirty and saved; flushMu is taken before mu.
type onceStore struct {
	path string
	log  *zap.Logger

	flushMu sync.Mutex // serialises flush, so an older snapshot never lands last

	mu    sync.Mutex
	done  map[string]onceEntry
	dirty bool
	kick  chan struct{} // capacity 1; a pending write
	saved chan struct{} // closed and replaced after each write (tests)
}

// loadOnce reads the store; a missing or unreadable file is an empty store
// (the jobs run again: the safe side).
func loadOnce(path string, log *zap.Logger) *onceStore {
	s := &onceStore{path: path, log: log, done: map[string]onceEntry{}, kick: make(chan struct{}, 1), saved: make(chan struct{})}
	b, err := os.ReadFile(path)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			log.Warn("read once.json; run-once jobs will run again", zap.Error(err))
		}
		return s
	}
	var f onceFile
	if err := json.Unmarshal(b, &f); err != nil {
		log.Warn("once.json is corrupt; run-once jobs will run again", zap.Error(err))
		return s
	}
	for k, v := range f.Done {
		s.done[k] = v
	}
	return s
}

// Get returns the recorded identity of name's last successful run.
func (s *onceStore) Get(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.done[name].Key
}

// Put records a successful run and schedules a write.
func (s *onceStore) Put(name, key string) {
	s.mu.Lock()
	s.done[name] = onceEntry{Key: key, At: time.Now()}
	s.dirty = true
	s.mu.Unlock()
	s.request()
}

// Forget drops name's record (`apphostd rerun`).
func (s *onceStore) Forget(name string) {
	s.mu.Lock()
	_, had := s.done[name]
	delete(s.done, name)
	s.dirty = s.dirty || had
	s.mu.Unlock()
	s.request()
}

func (s *onceStore) request() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// loop writes the file whenever asked, until stop is closed; then once
// more if needed.
func (s *onceStore) loop(stop <-chan struct{}) {
	for {
		select {
		case <-stop:
			s.flush()
			return
		case <-s.kick:
			s.flush()
		}
	}
}

// flush writes the file if it changed.
func (s *onceStore) flush() {
	s.flushMu.Lock()
	defer s.flushMu.Unlock()
	s.mu.Lock()
	if !s.dirty {
		s.mu.Unlock()
		return
	}
	f := onceFile{Version: 1, Done: make(map[string]onceEntry, len(s.done))}
	for k, v := range s.done {
		f.Done[k] = v
	}
	s.dirty = false
	s.mu.Unlock()
	if err := fsutil.WriteJSONAtomic(s.path, f); err != nil {
		s.log.Warn("write once.json", zap.Error(err))
		s.mu.Lock()
		s.dirty = true
		s.mu.Unlock()
	}
	s.mu.Lock()
	close(s.saved)
	s.saved = make(chan struct{})
	s.mu.Unlock()
}

// maxInputBytes bounds how much of the project a job's inputs may make
// the daemon read on each load.
const maxInputBytes = 256 << 20

// onceKeys computes the identity of every run = "once" resource: a digest
// of its instances' resolved-spec hashes and the contents of its inputs.
// A resource whose inputs cannot be read gets no key (it then always
// runs) and a warning.
func onceKeys(g *model.Graph, res *discovery.Result, projectDir string) (map[string]string, map[string]string) {
	keys := map[string]string{}
	warn := map[string]string{}
	for name, r := range g.Resources {
		if r.Run != model.RunOnce {
			continue
		}
		rr := res.Resources[name]
		if rr == nil || len(rr.Instances) == 0 {
			continue
		}
		h := sha256.New()
		for _, in := range rr.Instances {
			fmt.Fprintf(h, "spec %s\n", in.Hash)
		}
		if err := hashInputs(h, projectDir, r.Inputs); err != nil {
			warn[name] = fmt.Sprintf("inputs: %v (the job runs on every up)", err)
			continue
		}
		keys[name] = hex.EncodeToString(h.Sum(nil))[:32]
	}
	return keys, warn
}

// hashInputs writes the matched files' paths and contents to h, in a
// stable order. A pattern that matches a directory takes every file under
// it; a pattern that matches nothing contributes its absence.
func hashInputs(h io.Writer, dir string, patterns []string) error {
	pats := append([]string(nil), patterns...)
	sort.Strings(pats)
	total := int64(0)
	for _, p := range pats {
		matches, err := filepath.Glob(filepath.Join(dir, p))
		if err != nil {
			return fmt.Errorf("%q: %w", p, err)
		}
		sort.Strings(matches)
		fmt.Fprintf(h, "pattern %q %d\n", p, len(matches))
		for _, m := range matches {
			err := filepath.WalkDir(m, func(path string, d fs.DirEntry, err error) error {
				if err != nil {
					return err
				}
				if d.IsDir() || !d.Type().IsRegular() {
					return nil
				}
				rel, _ := filepath.Rel(dir, path)
				f, err := os.Open(path)
				if err != nil {
					return err
				}
				defer f.Close()
				fmt.Fprintf(h, "file %q\n", rel)
				n, err := io.Copy(h, io.LimitReader(f, maxInputBytes-total+1))
				total += n
				if total > maxInputBytes {
					return fmt.Errorf("inputs exceed %d MiB", maxInputBytes>>20)
				}
				return err
			})
			if err != nil {
				return err
			}
		}
	}
	return nil
}
