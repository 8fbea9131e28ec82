package process

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	rt "github.com/apphostd/apphostd/pkg/runtime"
)

// The tests here need root and a writable cgroup hierarchy. Where there is
// none they skip (a kernel facility, not something CI installs), except
// the parsing tests, which always run.

// cgroupName returns a project cgroup name unique to this test.
func cgroupName(t testing.TB) string {
	return fmt.Sprintf("apphostd-test-%d-%x", os.Getpid(), rand.Uint32())
}

// newCgroupDriver returns a cgroup-mode driver, or skips when this machine
// cannot give one. Everything it started is killed and its cgroups are
// removed when the test ends.
func newCgroupDriver(t testing.TB, name string) *Driver {
	t.Helper()
	d := NewWithOptions(Options{CgroupName: name})
	if d.cg == nil {
		t.Skipf("no cgroups here: %s", d.Isolation().Detail)
	}
	t.Cleanup(func() {
		stopAll(d)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		sts, _ := d.List(ctx)
		for _, st := range sts {
			_ = d.Delete(ctx, st.ID) // removes the instance's cgroup
		}
		_, _ = d.SweepCgroups(ctx, nil)
		d.Cleanup(ctx)
		for _, dir := range d.cg.projectDirs() {
			if _, err := os.Stat(dir); err == nil {
				t.Errorf("project cgroup %s left after the test", dir)
			}
		}
	})
	return d
}

// doubleForkSetsid starts a tree whose grandchildren leave the leader's
// process group and session: `setsid` then a background job inside, the
// classic daemonising double fork. Each prints its PID to a file so the
// test knows them without relying on the cgroup it is testing.
const doubleForkSetsid = `
setsid sh -c 'echo $$ >> "$0"; sleep 300 & echo $! >> "$0"; wait' "$1" &
sleep 300 &
echo $! >> "$1"
wait`

// readPIDs waits until file lists n PIDs and returns them.
func readPIDs(t testing.TB, file string, n int) []int {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, _ := os.ReadFile(file)
		var out []int
		for _, f := range strings.Fields(string(b)) {
			if p, err := strconv.Atoi(f); err == nil {
				out = append(out, p)
			}
		}
		if len(out) >= n {
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d PIDs in %s", len(out), n, file)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// live reports whether pid runs (exists and is not a zombie).
func live(pid int) bool {
	st, err := readStat(pid)
	return err == nil && st.State != 'Z' && st.State != 'X'
}

// leftInSession reports which of pids are alive and outside pgid: the
// processes a process-group stop cannot reach.
func outsideGroup(pids []int, pgid int) []int {
	var out []int
	for _, p := range pids {
		if st, err := readStat(p); err == nil && st.State != 'Z' && st.Pgid != pgid {
			out = append(out, p)
		}
	}
	return out
}

func TestCgroupStopKillsDoubleForkedSetsid(t *testing.T) {
	d := newCgroupDriver(t, cgroupName(t))
	pidFile := filepath.Join(t.TempDir(), "pids")
	// TERM ignored throughout, so the stop must kill through the cgroup.
	st := mustStart(t, d, shSpec(t, "forker", "trap '' TERM; "+doubleForkSetsid, pidFile))
	pids := readPIDs(t, pidFile, 3)
	if esc := outsideGroup(pids, st.PID); len(esc) == 0 {
		t.Fatalf("test setup: no process left the group (pids %v)", pids)
	}
	if st.Cgroup == "" {
		t.Fatal("Status.Cgroup is empty in cgroup mode")
	}
	in, _ := cgroupMembers(st.Cgroup)
	for _, p := range pids {
		if !containsInt(in, p) {
			t.Errorf("pid %d is not in the instance's cgroup %s (members %v)", p, st.Cgroup, in)
		}
	}
	if err := d.Stop(context.Background(), "forker", 200*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	for _, p := range append(pids, st.PID) {
		if live(p) {
			t.Errorf("pid %d survived Stop", p)
		}
	}
	waitExit(t, d, "forker")
	if err := d.Delete(context.Background(), "forker"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(st.Cgroup); !os.IsNotExist(err) {
		t.Errorf("instance cgroup %s still exists after Delete: %v", st.Cgroup, err)
	}
}

// The contrast: without cgroups the setsid'd grandchildren survive a stop,
// which is what the cgroup test above guards against. It also proves the
// test can fail.
func TestProcessGroupStopMissesSetsid(t *testing.T) {
	d := newDriver(t)
	pidFile := filepath.Join(t.TempDir(), "pids")
	st := mustStart(t, d, shSpec(t, "forker", doubleForkSetsid, pidFile))
	pids := readPIDs(t, pidFile, 3)
	esc := outsideGroup(pids, st.PID)
	t.Cleanup(func() {
		for _, p := range esc {
			_ = syscallKill(p)
		}
	})
	if err := d.Stop(context.Background(), "forker", 2*time.Second); err != nil {
		t.Fatal(err)
	}
	left := 0
	for _, p := range esc {
		if live(p) {
			left++
		}
	}
	if left == 0 {
		t.Fatalf("processes outside the group (%v) were stopped by a process-group stop; the setup does not escape", esc)
	}
}

func TestCgroupAdoptStopsEverything(t *testing.T) {
	name := cgroupName(t)
	d1 := newCgroupDriver(t, name)
	pidFile := filepath.Join(t.TempDir(), "pids")
	st := mustStart(t, d1, shSpec(t, "api", doubleForkSetsid, pidFile))
	pids := readPIDs(t, pidFile, 3)

	// A restarted daemon: a new driver adopts by PID and start time and
	// finds the cgroup from the process itself.
	d2 := newCgroupDriver(t, name)
	ad, err := d2.Adopt(context.Background(), rt.Status{ID: "api", PID: st.PID, StartTime: st.StartTime, StartedAt: st.StartedAt})
	if err != nil {
		t.Fatal(err)
	}
	if ad.Cgroup != st.Cgroup {
		t.Errorf("adopted cgroup %q, want %q", ad.Cgroup, st.Cgroup)
	}
	if err := d2.Stop(context.Background(), "api", time.Second); err != nil {
		t.Fatal(err)
	}
	for _, p := range append(pids, st.PID) {
		if live(p) {
			t.Errorf("pid %d survived the adopting driver's Stop", p)
		}
	}
}

func TestCgroupSweepFindsWhatNobodyAdopted(t *testing.T) {
	name := cgroupName(t)
	d1 := newCgroupDriver(t, name)
	pidFile := filepath.Join(t.TempDir(), "pids")
	st := mustStart(t, d1, shSpec(t, "job", doubleForkSetsid, pidFile))
	pids := readPIDs(t, pidFile, 3)
	keep := mustStart(t, d1, shSpec(t, "keep", "sleep 300"))

	// The leader dies while no daemon runs; its descendants stay.
	if err := syscallKill(st.PID); err != nil {
		t.Fatal(err)
	}
	waitExit(t, d1, "job")

	d2 := newCgroupDriver(t, name)
	found, err := d2.SweepCgroups(context.Background(), map[string]bool{"keep": true})
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != 1 || found[0] != "job" {
		t.Errorf("swept %v, want [job]", found)
	}
	for _, p := range pids {
		if live(p) {
			t.Errorf("pid %d of the unadopted instance survived the sweep", p)
		}
	}
	if !live(keep.PID) {
		t.Error("the sweep killed an instance it was told to keep")
	}
}

func TestCgroupLimitsWritten(t *testing.T) {
	d := newCgroupDriver(t, cgroupName(t))
	spec := shSpec(t, "lim", "sleep 300")
	spec.Limits = &rt.Limits{MemoryBytes: 64 << 20, CPUs: 0.5, PIDs: 7}
	st := mustStart(t, d, spec)
	lims := d.Isolation().Limits
	d.mu.Lock()
	ic := d.instances["lim"].cg
	d.mu.Unlock()
	read := func(dir, file string) string {
		b, err := os.ReadFile(filepath.Join(dir, file))
		if err != nil {
			t.Fatalf("read %s: %v", file, err)
		}
		return strings.TrimSpace(string(b))
	}
	for _, l := range lims {
		switch l {
		case "pids":
			dir, file := ic.v1["pids"], "pids.max"
			if dir == "" {
				dir = ic.v2
			}
			if got := read(dir, file); got != "7" {
				t.Errorf("pids.max = %s, want 7", got)
			}
		case "memory":
			if dir := ic.v1["memory"]; dir != "" {
				if got := read(dir, "memory.limit_in_bytes"); got != strconv.Itoa(64<<20) {
					t.Errorf("memory.limit_in_bytes = %s", got)
				}
			} else if got := read(ic.v2, "memory.max"); got != strconv.Itoa(64<<20) {
				t.Errorf("memory.max = %s", got)
			}
		case "cpus":
			if dir := ic.v1["cpu"]; dir != "" {
				if got := read(dir, "cpu.cfs_quota_us"); got != "50000" {
					t.Errorf("cpu.cfs_quota_us = %s, want 50000", got)
				}
			} else if got := read(ic.v2, "cpu.max"); got != "50000 100000" {
				t.Errorf("cpu.max = %s", got)
			}
		}
	}
	if len(lims) == 0 {
		t.Logf("no limit controllers here: %s", d.Isolation().Detail)
	}
	// The pids limit holds: more forks than allowed fail.
	if containsStr(lims, "pids") {
		spec := shSpec(t, "forkbomb", `i=0; while [ $i -lt 20 ]; do sleep 300 & i=$((i+1)); done; sleep 1; echo done`)
		spec.Limits = &rt.Limits{PIDs: 5}
		fst := mustStart(t, d, spec)
		time.Sleep(300 * time.Millisecond)
		d.mu.Lock()
		fic := d.instances["forkbomb"].cg
		d.mu.Unlock()
		if n := len(fic.pids()); n > 5 {
			t.Errorf("%d processes in a cgroup with pids = 5", n)
		}
		_ = fst
	}
	_ = st
}

func TestParseCgroupFiles(t *testing.T) {
	m := parseCgroupFile([]byte("9:name=systemd:/\n8:pids:/a\n4:memory:/process_api/x\n2:cpu,cpuacct:/c\n0::/u/v\n"))
	for k, want := range map[string]string{"pids": "/a", "memory": "/process_api/x", "cpu,cpuacct": "/c", "0::": "/u/v"} {
		if m[k] != want {
			t.Errorf("%s = %q, want %q (%v)", k, m[k], want, m)
		}
	}
	dir := t.TempDir()
	mi := filepath.Join(dir, "mountinfo")
	os.WriteFile(mi, []byte(`31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
39 31 0:36 /sub /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
41 31 0:38 / /sys/fs/cgroup/my\040unified rw,relatime - cgroup2 cgroup2 rw
`), 0o644)
	ms, err := readMountinfo(mi)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 3 || ms[2].mountpoint != "/sys/fs/cgroup/my unified" || ms[1].root != "/sub" || v1Key(ms[0].superopts) != "cpu,cpuacct" {
		t.Errorf("mountinfo parsed as %+v", ms)
	}
	if _, err := ownHierarchy(ms[1], "/other", false, []string{"pids"}); err == nil {
		t.Error("a cgroup outside a bind mount's root was accepted")
	}
}

func containsInt(xs []int, x int) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

func containsStr(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

// syscallKill SIGKILLs one process this test started.
func syscallKill(pid int) error { return unix.Kill(pid, unix.SIGKILL) }

// cgroupMembers returns the PIDs in a cgroup directory's cgroup.procs.
func cgroupMembers(dir string) ([]int, error) {
	f, err := os.Open(filepath.Join(dir, cgroupProcsFile))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []int
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if p, err := strconv.Atoi(strings.TrimSpace(sc.Text())); err == nil {
			out = append(out, p)
		}
	}
	return out, sc.Err()
}

// On a host with only cgroup v1 (no unified hierarchy) the child joins
// its pids and freezer cgroups through the shim before exec, and Stop
// freezes, kills and thaws. This machine may have v2 as well: hide it
// from the driver to exercise the v1 path.
func TestCgroupV1OnlyPath(t *testing.T) {
	d := newCgroupDriver(t, cgroupName(t))
	if d.cg.v1["freezer"] == nil || d.cg.v1["pids"] == nil {
		t.Skip("no v1 pids and freezer hierarchies here")
	}
	v2 := d.cg.v2
	d.cg.v2 = nil
	t.Cleanup(func() { d.cg.v2 = v2 })
	pidFile := filepath.Join(t.TempDir(), "pids")
	// TERM ignored by the whole tree (inherited across exec): only the
	// freeze-and-kill can end it.
	st := mustStart(t, d, shSpec(t, "forker", "trap '' TERM; "+doubleForkSetsid, pidFile))
	pids := readPIDs(t, pidFile, 3)
	if !strings.Contains(st.Cgroup, "/freezer/") {
		t.Fatalf("v1 cgroup %q is not the freezer one", st.Cgroup)
	}
	in, _ := cgroupMembers(st.Cgroup)
	for _, p := range append(pids, st.PID) {
		if !containsInt(in, p) {
			t.Errorf("pid %d not in the v1 freezer cgroup (members %v): joined too late?", p, in)
		}
	}
	if err := d.Stop(context.Background(), "forker", 200*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	for _, p := range append(pids, st.PID) {
		if live(p) {
			t.Errorf("pid %d survived a v1 stop", p)
		}
	}
	b, _ := os.ReadFile(filepath.Join(st.Cgroup, "freezer.state"))
	if strings.TrimSpace(string(b)) != "THAWED" {
		t.Errorf("freezer left %q", b)
	}
	waitExit(t, d, "forker")
	if err := d.Delete(context.Background(), "forker"); err != nil {
		t.Fatal(err)
	}
}
