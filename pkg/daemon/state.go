package daemon

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"

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

func writeState(path string, st persistedState) error {
	return fsutil.WriteJSONAtomic(path, st)
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
