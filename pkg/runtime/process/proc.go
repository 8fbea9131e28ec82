package process

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"syscall"
)

// procStat is the part of /proc/PID/stat the driver needs.
type procStat struct {
	State     byte   // field 3: R, S, D, Z, T, ...
	Pgid      int    // field 5
	StartTime uint64 // field 22: clock ticks after boot
}

// readStat reads /proc/PID/stat. A process that does not exist yields an
// error wrapping fs.ErrNotExist.
func readStat(pid int) (procStat, error) {
	if pid <= 0 {
		return procStat{}, fmt.Errorf("read stat of pid %d: %w", pid, fs.ErrNotExist)
	}
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		if errors.Is(err, syscall.ESRCH) {
			// The process vanished between open and read.
			err = fs.ErrNotExist
		}
		return procStat{}, fmt.Errorf("read stat of pid %d: %w", pid, err)
	}
	st, err := parseStat(data)
	if err != nil {
		return procStat{}, fmt.Errorf("parse stat of pid %d: %w", pid, err)
	}
	return st, nil
}

// parseStat parses the contents of /proc/PID/stat. The comm field (2) is
// wrapped in parentheses and may itself contain spaces and parentheses, so
// the fixed fields are taken after the LAST ')'.
func parseStat(data []byte) (procStat, error) {
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return procStat{}, errors.New("no ')' after comm")
	}
	// fields[0] is field 3 (state), so field N is fields[N-3].
	fields := bytes.Fields(data[i+1:])
	if len(fields) < 22-3+1 {
		return procStat{}, fmt.Errorf("%d fields after comm, want at least %d", len(fields), 22-3+1)
	}
	if len(fields[0]) != 1 {
		return procStat{}, fmt.Errorf("bad state %q", fields[0])
	}
	pgid, err := strconv.Atoi(string(fields[5-3]))
	if err != nil {
		return procStat{}, fmt.Errorf("bad pgid: %w", err)
	}
	start, err := strconv.ParseUint(string(fields[22-3]), 10, 64)
	if err != nil {
		return procStat{}, fmt.Errorf("bad starttime: %w", err)
	}
	return procStat{State: fields[0][0], Pgid: pgid, StartTime: start}, nil
}

// ProcStartTime returns the start time of process pid in clock ticks after
// boot (field 22 of /proc/PID/stat). PID plus start time identifies one
// process across PID reuse, which is what adoption relies on. A process
// that does not exist yields an error wrapping fs.ErrNotExist.
func ProcStartTime(pid int) (uint64, error) {
	st, err := readStat(pid)
	if err != nil {
		return 0, err
	}
	return st.StartTime, nil
}

// GroupMembers returns the PIDs of the live processes whose process group is
// pgid, by scanning /proc. Zombies are left out: they run nothing and only
// wait for their parent (possibly a PID 1 that never reaps) to collect them.
// Processes that vanish during the scan are skipped.
func GroupMembers(pgid int) ([]int, error) {
	if pgid <= 0 {
		return nil, fmt.Errorf("group members of %d: invalid process group", pgid)
	}
	d, err := os.Open("/proc")
	if err != nil {
		return nil, fmt.Errorf("group members of %d: %w", pgid, err)
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return nil, fmt.Errorf("group members of %d: %w", pgid, err)
	}
	var pids []int
	for _, name := range names {
		pid, err := strconv.Atoi(name)
		if err != nil || pid <= 0 {
			continue
		}
		st, err := readStat(pid)
		if err != nil {
			continue // gone, or a kernel oddity: not ours to judge
		}
		if st.Pgid == pgid && st.State != 'Z' && st.State != 'X' {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}
