package daemon

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"
	"golang.org/x/sys/unix"

	"github.com/apphostd/apphostd/pkg/model"
	"github.com/apphostd/apphostd/pkg/reconcile"
	"github.com/apphostd/apphostd/pkg/runtime/process"
)

// A daemon that died (kill -9, OOM, a crash) can leave processes that the
// next one cannot adopt from state.json:
//   - an instance it had started but not yet recorded (state.json is
//     written just after a start, not before it);
//   - what is left of an instance whose leader exited while no daemon ran:
//     children still in its process group.
//
// Nothing would ever stop them, and a replacement would run next to them
// (a duplicate holding the old port). sweepStrays finds them before the
// new daemon starts anything and stops them.
//
// A process is one of the project's if its stdout or stderr is an
// instance's log file (the process driver opens .apphost/logs/ID.log for
// every child; descendants inherit it), or if it is in the process group
// of a recorded instance whose leader is gone (a group ID cannot be
// reused while the group has members). Processes of adopted instances
// (same log file ID, or in an adopted instance's group) are left alone.

// stray is a process to stop, with the reason it is ours.
type stray struct {
	pid int
	why string
}

// strayKill bounds how long sweepStrays keeps killing after SIGKILL (a
// process in uninterruptible sleep dies only when it wakes).
const strayKill = 5 * time.Second

// findStrays scans /proc for the project's processes that no adopted
// instance accounts for. logDir is the project's instance log directory.
func findStrays(logDir string, adopted, lost []reconcile.Record) []stray {
	keepID := map[string]bool{}
	keepGroup := map[int]bool{}
	for _, a := range adopted {
		keepID[a.ID] = true
		if a.PID > 0 {
			keepGroup[a.PID] = true
		}
	}
	lostGroup := map[int]string{}
	for _, l := range lost {
		if l.PID <= 0 || keepGroup[l.PID] || (l.BaseKind != "" && l.BaseKind != model.KindExecutable) {
			continue
		}
		if t, err := process.ProcStartTime(l.PID); err == nil && t != l.StartTime {
			continue // the PID is someone else's now, and so is its group
		}
		lostGroup[l.PID] = l.ID
	}
	if real, err := filepath.EvalSymlinks(logDir); err == nil {
		logDir = real
	}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	self := os.Getpid()
	var out []stray
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid <= 1 || pid == self {
			continue
		}
		pgid, live := procGroup(pid)
		if !live || keepGroup[pgid] {
			continue
		}
		if id := logFileID(pid, logDir); id != "" && !keepID[id] {
			out = append(out, stray{pid: pid, why: fmt.Sprintf("writes to %s.log, an instance no daemon runs", id)})
			continue
		}
		if id, ok := lostGroup[pgid]; ok {
			out = append(out, stray{pid: pid, why: fmt.Sprintf("left in the process group of %s (pid %d), which is gone", id, pgid)})
		}
	}
	return out
}

// logFileID returns the instance ID whose log file is pid's stdout or
// stderr, or "".
func logFileID(pid int, logDir string) string {
	for _, fd := range []string{"1", "2"} {
		target, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/fd/" + fd)
		if err != nil {
			continue
		}
		if filepath.Dir(target) == logDir && strings.HasSuffix(target, ".log") {
			return strings.TrimSuffix(filepath.Base(target), ".log")
		}
	}
	return ""
}

// procGroup returns pid's process group and whether it is alive (not a
// zombie).
func procGroup(pid int) (int, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, false
	}
	f := bytes.Fields(b[i+1:])
	if len(f) < 3 || f[0][0] == 'Z' || f[0][0] == 'X' {
		return 0, false
	}
	pgid, err := strconv.Atoi(string(f[2]))
	return pgid, err == nil
}

// sweepStrays stops the strays found in the project: SIGTERM, up to grace
// for them to exit, then SIGKILL, rescanning for processes forked
// meanwhile. It returns how many it stopped.
func sweepStrays(logDir string, adopted, lost []reconcile.Record, grace time.Duration, log *zap.Logger) int {
	ss := findStrays(logDir, adopted, lost)
	if len(ss) == 0 {
		return 0
	}
	seen := map[int]bool{}
	for _, s := range ss {
		seen[s.pid] = true
		log.Warn("stopping a process of this project that no daemon owns", zap.Int("pid", s.pid), zap.String("why", s.why))
		signalPID(s.pid, unix.SIGTERM, log)
	}
	deadline := time.Now().Add(grace)
	for len(ss) > 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		ss = findStrays(logDir, adopted, lost)
	}
	deadline = time.Now().Add(strayKill)
	for len(ss) > 0 {
		for _, s := range ss {
			if !seen[s.pid] {
				seen[s.pid] = true
				log.Warn("stopping a process of this project that no daemon owns", zap.Int("pid", s.pid), zap.String("why", s.why))
			}
			signalPID(s.pid, unix.SIGKILL, log)
		}
		if time.Now().After(deadline) {
			log.Error("processes of this project survived SIGKILL", zap.Int("count", len(ss)))
			break
		}
		time.Sleep(20 * time.Millisecond)
		ss = findStrays(logDir, adopted, lost)
	}
	return len(seen)
}

func signalPID(pid int, sig unix.Signal, log *zap.Logger) {
	if err := unix.Kill(pid, sig); err != nil && !errors.Is(err, unix.ESRCH) {
		log.Warn("signal stray", zap.Int("pid", pid), zap.Stringer("signal", sig), zap.Error(err))
	}
}
