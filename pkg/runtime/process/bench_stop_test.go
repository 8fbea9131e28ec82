package process

import (
	"context"
	"path/filepath"
	"testing"
	"time"
)

// fifty starts 50 descendants: 25 background children in the leader's
// group, and a setsid'd shell with 24 children of its own session (which
// a process-group stop cannot reach). Every PID goes to "$1".
const fifty = `i=0; while [ $i -lt 25 ]; do sleep 1000 & echo $! >> "$1"; i=$((i+1)); done
setsid sh -c 'echo $$ >> "$0"; i=0; while [ $i -lt 24 ]; do sleep 1000 & echo $! >> "$0"; i=$((i+1)); done; wait' "$1" &
wait`

// BenchmarkStop50Descendants measures Stop of a resource with 50
// descendants, from the call until every process Stop is responsible for
// is gone: in cgroup mode all 50 (cgroup.kill, or freeze+kill on v1), in
// process-group mode the 25 in the group (the other 25 survive there,
// which is the point of cgroups; the benchmark kills them afterwards).
func BenchmarkStop50Descendants(b *testing.B) {
	b.Run("cgroup", func(b *testing.B) {
		benchStop(b, newCgroupDriver(b, cgroupName(b)))
	})
	b.Run("process-group", func(b *testing.B) {
		benchStop(b, newDriver(b))
	})
}

func benchStop(b *testing.B, d *Driver) {
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		pidFile := filepath.Join(b.TempDir(), "pids")
		mustStart(b, d, shSpec(b, "fifty", fifty, pidFile))
		pids := readPIDs(b, pidFile, 50)
		b.StartTimer()
		if err := d.Stop(context.Background(), "fifty", 5*time.Second); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		waitExit(b, d, "fifty")
		_ = d.Delete(context.Background(), "fifty")
		left := 0
		for _, p := range pids {
			if live(p) {
				left++
				_ = syscallKill(p)
			}
		}
		if d.cg != nil && left > 0 {
			b.Fatalf("%d of 50 descendants survived a cgroup stop", left)
		}
	}
}
