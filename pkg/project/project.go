// Package project locates a project's file and its state directory
// (.apphost/) and names the files in it. Both the daemon and the CLI use it,
// so they always agree on where the socket, lock and state live.
package project

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// StateDirName is the per-project state directory, created 0700.
const StateDirName = ".apphost"

// Project is a located project.
type Project struct {
	Dir  string // absolute project directory (the file's directory)
	File string // absolute path of apphost.hcl / apphost.yaml
}

// Candidates are the file names looked for, in order.
var Candidates = []string{"apphost.hcl", "apphost.yaml", "apphost.yml"}

// Locate resolves the project from an explicit file (the -f flag; may be
// empty) or by looking in dir for the candidate names.
func Locate(file, dir string) (Project, error) {
	if file != "" {
		abs, err := filepath.Abs(file)
		if err != nil {
			return Project{}, fmt.Errorf("project file %s: %w", file, err)
		}
		if _, err := os.Stat(abs); err != nil {
			return Project{}, fmt.Errorf("project file: %w", err)
		}
		return Project{Dir: filepath.Dir(abs), File: abs}, nil
	}
	if dir == "" {
		var err error
		if dir, err = os.Getwd(); err != nil {
			return Project{}, err
		}
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return Project{}, err
	}
	for _, name := range Candidates {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err == nil {
			return Project{Dir: dir, File: p}, nil
		}
	}
	return Project{}, fmt.Errorf("no apphost.hcl or apphost.yaml in %s (use -f FILE)", dir)
}

// LocateDir is Locate for commands that only need the state directory (ps,
// logs, down): they work even if the project file was deleted meanwhile.
func LocateDir(file, dir string) (Project, error) {
	p, err := Locate(file, dir)
	if err == nil {
		return p, nil
	}
	if file != "" {
		abs, aerr := filepath.Abs(file)
		if aerr != nil {
			return Project{}, err
		}
		return Project{Dir: filepath.Dir(abs), File: abs}, nil
	}
	if dir == "" {
		wd, werr := os.Getwd()
		if werr != nil {
			return Project{}, werr
		}
		dir = wd
	}
	abs, _ := filepath.Abs(dir)
	if fi, serr := os.Stat(filepath.Join(abs, StateDirName)); serr == nil && fi.IsDir() {
		return Project{Dir: abs}, nil
	}
	return Project{}, err
}

// StateDir is the project's .apphost directory.
func (p Project) StateDir() string { return filepath.Join(p.Dir, StateDirName) }

// Socket is the API socket path.
func (p Project) Socket() string { return filepath.Join(p.StateDir(), "apphostd.sock") }

// LockFile is the single-daemon lock.
func (p Project) LockFile() string { return filepath.Join(p.StateDir(), "lock") }

// StateFile is the persisted daemon state (instances, for adoption).
func (p Project) StateFile() string { return filepath.Join(p.StateDir(), "state.json") }

// PortsFile is the persisted port assignments.
func (p Project) PortsFile() string { return filepath.Join(p.StateDir(), "ports.json") }

// LogDir holds per-instance output files.
func (p Project) LogDir() string { return filepath.Join(p.StateDir(), "logs") }

// DaemonLog is the daemon's own structured log.
func (p Project) DaemonLog() string { return filepath.Join(p.StateDir(), "daemon.log") }

// VolumeDir holds named volumes.
func (p Project) VolumeDir() string { return filepath.Join(p.StateDir(), "volumes") }

// SecretsFile holds generated parameter values (0600).
func (p Project) SecretsFile() string { return filepath.Join(p.StateDir(), "secrets.json") }

// ParametersFile holds user-supplied parameter values.
func (p Project) ParametersFile() string { return filepath.Join(p.StateDir(), "parameters") }

// ID is a short stable identity of the project directory, used in labels
// and names so two projects never touch each other's things.
func (p Project) ID() string {
	sum := sha256.Sum256([]byte(p.Dir))
	return hex.EncodeToString(sum[:6])
}

// EnsureStateDir creates .apphost (0700) and its subdirectories, and
// tightens the mode of an existing one.
func (p Project) EnsureStateDir() error {
	for _, d := range []string{p.StateDir(), p.LogDir(), p.VolumeDir()} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return fmt.Errorf("create %s: %w", d, err)
		}
	}
	if err := os.Chmod(p.StateDir(), 0o700); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("chmod %s: %w", p.StateDir(), err)
	}
	return nil
}
