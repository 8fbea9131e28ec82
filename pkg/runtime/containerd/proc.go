package containerd

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// processStartTime is field 22 of /proc/PID/stat (clock ticks since boot),
// the identity runtime.Status.StartTime records. 0 if unknown.
func processStartTime(pid int) uint64 {
	if pid <= 0 {
		return 0
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// comm (field 2) may contain spaces and parens; fields restart after the last ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state), so field 22 is f[19].
	if len(f) < 20 {
		return 0
	}
	v, _ := strconv.ParseUint(f[19], 10, 64)
	return v
}

var bootTime = sync.OnceValue(func() time.Time {
	f, err := os.Open("/proc/stat")
	if err != nil {
		return time.Time{}
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "btime "); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			return time.Unix(n, 0)
		}
	}
	return time.Time{}
})

// clockTicks is USER_HZ; 100 on every Linux architecture Go supports.
const clockTicks = 100

// processStartedAt converts a PID's start time to wall time (second
// precision from btime), for instances a previous Driver started.
func processStartedAt(pid int) time.Time {
	st := processStartTime(pid)
	bt := bootTime()
	if st == 0 || bt.IsZero() {
		return time.Time{}
	}
	return bt.Add(time.Duration(st) * time.Second / clockTicks)
}
