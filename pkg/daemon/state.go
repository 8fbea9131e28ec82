package daemon

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/apphostd/apphostd/pkg/fsutil"
	"github.com/apphostd/apphostd/pkg/reconcile"
)

// persistedState is .apphost/state.json: what a restarted daemon needs to
// adopt the instances the previous one left running.
type persistedState struct {
	Version    int                `json:"version"`
	DaemonPID  int                `json:"daemon_pid"`
	Instances  []reconcile.Record `json:"instances"`
	Ports      map[string]int     `json:"ports,omitempty"`
	LogOffsets map[string]int64   `json:"log_offsets,omitempty"`
}

// loadState reads state.json. A missing file is empty; a corrupt or
// truncated one is reported and set aside (state.json.corrupt), never
// fatal: the worst case is that running instances are not adopted.
func loadState(path string, log *zap.Logger) persistedState {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return persistedState{}
	}
	if err != nil {
		log.Warn("read state", zap.Error(err))
		return persistedState{}
	}
	var st persistedState
	if err := json.Unmarshal(b, &st); err != nil {
		log.Error("state.json is corrupt; set aside as state.json.corrupt, starting without adoption", zap.Error(err))
		_ = os.Rename(path, path+".corrupt")
		return persistedState{}
	}
	return st
}

// writeState replaces path atomically: a temp file in the same directory,
// then rename(2), so a reader (or a daemon killed mid-write) sees the old
// or the new document, never a torn one. The fsync follows within
// durableDelay, off the hot path (see durable): state.json exists to
// survive the daemon's death, and the kernel keeps what a dead process
// wrote; only a power loss or kernel crash could lose the latest write,
// and no recorded process survives those anyway. Keeping the fsync off
// this path matters: the reconciler waits for this write before it shows
// a started instance as Running, and with a synchronous fsync a bring-up
// of 100 was ~30% slower.
func writeState(path string, st persistedState) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("encode state: %w", err)
	}
	if err := fsutil.ReplaceFile(path, append(b, '\n')); err != nil {
		return fmt.Errorf("write state: %w", err)
	}
	durable.request(path)
	return nil
}

// durable makes state.json durable shortly after each write, off the hot
// path: at most every durableDelay it fsyncs the file and its directory.
// A daemon killed at any point leaves the last renamed document (the page
// cache survives the process); a power loss can lose at most the writes
// of the last durableDelay, and a file it leaves torn is set aside as
// corrupt at the next start.
var durable = &syncer{}

const durableDelay = 100 * time.Millisecond

type syncer struct {
	mu      sync.Mutex
	pending map[string]bool
	armed   bool
}

func (s *syncer) request(path string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pending == nil {
		s.pending = map[string]bool{}
	}
	s.pending[path] = true
	if !s.armed {
		s.armed = true
		time.AfterFunc(durableDelay, s.flush)
	}
}

func (s *syncer) flush() {
	s.mu.Lock()
	paths := s.pending
	s.pending, s.armed = nil, false
	s.mu.Unlock()
	for p := range paths {
		for _, name := range []string{p, filepath.Dir(p)} {
			if f, err := os.Open(name); err == nil {
				_ = f.Sync()
				f.Close()
			}
		}
	}
}

// ReadRecords returns the instances recorded in a state file, for `down`
// after a daemon crash. A missing file has none.
func ReadRecords(path string) ([]reconcile.Record, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var st persistedState
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("corrupt: %w", err)
	}
	return st.Instances, nil
}
