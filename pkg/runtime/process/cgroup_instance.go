package process

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/apphostd/apphostd/pkg/runtime"
)

// instCgroup is one instance's cgroup directories. Immutable once made.
type instCgroup struct {
	v2 string            // v2 directory, or ""
	v1 map[string]string // controller → directory
}

// cgroupPeriod is the CPU accounting period limits are expressed over.
const cgroupPeriod = 100000 // µs

// create makes the instance's cgroup in every hierarchy used and applies
// limits (clearing any a previous instance of the same ID left). A
// directory that already holds processes (the leftovers of an earlier
// instance with this ID) is emptied first, so the new instance starts
// alone. It returns notes on limits that cannot be enforced.
func (c *cgroups) create(ctx context.Context, id string, l *runtime.Limits) (*instCgroup, []string, error) {
	ic := &instCgroup{v1: map[string]string{}}
	if c.v2 != nil {
		ic.v2 = filepath.Join(c.v2.own, c.name, id)
	}
	want := []string{"pids", "freezer"}
	if l != nil && l.MemoryBytes > 0 {
		want = append(want, "memory")
	}
	if l != nil && l.CPUs > 0 {
		want = append(want, "cpu")
	}
	for _, ct := range want {
		if h := c.v1[ct]; h != nil {
			ic.v1[ct] = filepath.Join(h.own, c.name, id)
		}
	}
	for _, dir := range ic.dirs() {
		if err := unix.Mkdir(dir, 0o755); err != nil && !errors.Is(err, unix.EEXIST) {
			return nil, nil, fmt.Errorf("create cgroup %s: %w", dir, err)
		}
	}
	if !ic.empty() {
		if err := ic.killAll(ctx, sweepTimeout); err != nil {
			return nil, nil, fmt.Errorf("empty leftover cgroup of %s: %w", id, err)
		}
	}
	notes := c.applyLimits(ic, l)
	return ic, notes, nil
}

// dirs lists every directory of the instance's cgroup.
func (ic *instCgroup) dirs() []string {
	var out []string
	if ic.v2 != "" {
		out = append(out, ic.v2)
	}
	seen := map[string]bool{}
	for _, ct := range v1Controllers {
		if d := ic.v1[ct]; d != "" && !seen[d] {
			seen[d] = true
			out = append(out, d)
		}
	}
	return out
}

// v1Dirs lists the v1 directories (each once).
func (ic *instCgroup) v1Dirs() []string {
	var out []string
	seen := map[string]bool{}
	for _, ct := range v1Controllers {
		if d := ic.v1[ct]; d != "" && !seen[d] {
			seen[d] = true
			out = append(out, d)
		}
	}
	return out
}

// path is the instance's cgroup as recorded for adoption: the v2
// directory, else the v1 tracking one.
func (ic *instCgroup) path() string {
	if ic.v2 != "" {
		return ic.v2
	}
	return ic.trackDir()
}

// trackDir is the directory whose cgroup.procs lists every process of the
// instance.
func (ic *instCgroup) trackDir() string {
	if ic.v2 != "" {
		return ic.v2
	}
	if d := ic.v1["freezer"]; d != "" {
		return d
	}
	return ic.v1["pids"]
}

// join moves pid into the given directories (after start, where the shim
// did not do it before exec).
func joinCgroups(pid int, dirs []string) error {
	var errs []error
	for _, d := range dirs {
		if err := writeFile(filepath.Join(d, cgroupProcsFile), strconv.Itoa(pid)); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// pids lists the processes in the instance's cgroup.
func (ic *instCgroup) pids() []int {
	b, err := os.ReadFile(filepath.Join(ic.trackDir(), cgroupProcsFile))
	if err != nil {
		return nil
	}
	var out []int
	for _, f := range strings.Fields(string(b)) {
		if p, err := strconv.Atoi(f); err == nil && p > 0 {
			out = append(out, p)
		}
	}
	return out
}

// empty reports whether no process is left in the cgroup (a removed
// cgroup is empty).
func (ic *instCgroup) empty() bool {
	if ic.v2 != "" {
		b, err := os.ReadFile(filepath.Join(ic.v2, "cgroup.events"))
		if err == nil {
			return bytes.Contains(b, []byte("populated 0"))
		}
		if isNotExist(err) {
			return true
		}
	}
	return len(ic.pids()) == 0
}

// signalAll sends sig to every process in the cgroup: the graceful half of
// a stop, so that a process which left the leader's group (setsid, double
// fork) is asked to stop too, as systemd's KillMode=control-group does.
func (ic *instCgroup) signalAll(sig unix.Signal) {
	for _, p := range ic.pids() {
		_ = unix.Kill(p, sig)
	}
}

// killAll SIGKILLs every process in the cgroup and waits until it is
// empty, for at most timeout. v2: cgroup.kill (one write, the kernel kills
// every member and anything they fork meanwhile); without it, or on v1,
// freeze, kill every member, thaw. Freezing first means a process cannot
// fork a new member between the listing and the kill.
func (ic *instCgroup) killAll(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	wait := time.Millisecond
	for attempt := 0; ; attempt++ {
		if ic.empty() {
			return nil
		}
		switch {
		case ic.v2 != "" && ic.killFile():
		case ic.v2 != "":
			ic.freezeKillV2()
		case ic.v1["freezer"] != "":
			ic.freezeKillV1()
		default:
			ic.signalAll(unix.SIGKILL)
		}
		// Members die asynchronously; check again shortly.
		for i := 0; i < 20; i++ {
			if ic.empty() {
				return nil
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("%d processes of cgroup %s survived SIGKILL: %v", len(ic.pids()), ic.trackDir(), ic.pids())
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(wait):
			}
			if wait < 10*time.Millisecond {
				wait *= 2
			}
		}
	}
}

// killFile writes cgroup.kill; false if the kernel has none (before 5.14).
func (ic *instCgroup) killFile() bool {
	return writeFile(filepath.Join(ic.v2, "cgroup.kill"), "1") == nil
}

// freezeKillV2 empties a v2 cgroup without cgroup.kill.
func (ic *instCgroup) freezeKillV2() {
	f := filepath.Join(ic.v2, "cgroup.freeze")
	if err := writeFile(f, "1"); err == nil {
		waitFor(time.Second, func() bool {
			b, _ := os.ReadFile(filepath.Join(ic.v2, "cgroup.events"))
			return bytes.Contains(b, []byte("frozen 1"))
		})
	}
	ic.signalAll(unix.SIGKILL)
	_ = writeFile(f, "0")
}

// freezeKillV1 empties a cgroup through the v1 freezer.
func (ic *instCgroup) freezeKillV1() {
	dir := ic.v1["freezer"]
	state := filepath.Join(dir, "freezer.state")
	if err := writeFile(state, "FROZEN"); err == nil {
		waitFor(time.Second, func() bool {
			b, _ := os.ReadFile(state)
			return strings.TrimSpace(string(b)) == "FROZEN"
		})
	}
	ic.signalAll(unix.SIGKILL)
	_ = writeFile(state, "THAWED")
}

// remove deletes the instance's cgroup directories; they must be empty.
// Gone is success.
func (ic *instCgroup) remove() error {
	var errs []error
	for _, d := range ic.dirs() {
		if err := unix.Rmdir(d); err != nil && !isNotExist(err) {
			errs = append(errs, fmt.Errorf("remove cgroup %s: %w", d, err))
		}
	}
	return errors.Join(errs...)
}

// applyLimits writes the instance's limits, or "unlimited" where a
// previous instance of the same ID may have left one. It returns a note
// for each limit it cannot enforce.
func (c *cgroups) applyLimits(ic *instCgroup, l *runtime.Limits) []string {
	var lim runtime.Limits
	if l != nil {
		lim = *l
	}
	var notes []string
	v2ctl := map[string]bool{}
	if ic.v2 != "" && (lim.MemoryBytes > 0 || lim.CPUs > 0 || lim.PIDs > 0) {
		v2ctl = c.enableV2Limits()
	}
	set := func(what string, v1dir, v1file, v1val, v2file, v2val string, on bool) {
		switch {
		case v1dir != "":
			if err := writeFile(filepath.Join(v1dir, v1file), v1val); err != nil && on {
				notes = append(notes, fmt.Sprintf("%s limit not enforced: %v", what, err))
			}
		case ic.v2 != "" && (v2ctl[v2file] || !on):
			if err := writeFile(filepath.Join(ic.v2, v2file), v2val); err != nil && on {
				notes = append(notes, fmt.Sprintf("%s limit not enforced: %v", what, err))
			}
		case on:
			notes = append(notes, fmt.Sprintf("%s limit not enforced: no %s controller is available to the daemon's cgroup", what, strings.SplitN(v2file, ".", 2)[0]))
		}
	}
	mem, memV2 := "-1", "max"
	if lim.MemoryBytes > 0 {
		mem = strconv.FormatInt(lim.MemoryBytes, 10)
		memV2 = mem
	}
	set("memory", ic.v1["memory"], "memory.limit_in_bytes", mem, "memory.max", memV2, lim.MemoryBytes > 0)
	quota, cpuV2 := "-1", "max "+strconv.Itoa(cgroupPeriod)
	if lim.CPUs > 0 {
		q := int64(lim.CPUs * cgroupPeriod)
		if q < 1000 {
			q = 1000 // the kernel's minimum quota
		}
		quota = strconv.FormatInt(q, 10)
		cpuV2 = quota + " " + strconv.Itoa(cgroupPeriod)
		if d := ic.v1["cpu"]; d != "" {
			_ = writeFile(filepath.Join(d, "cpu.cfs_period_us"), strconv.Itoa(cgroupPeriod))
		}
	}
	set("cpus", ic.v1["cpu"], "cpu.cfs_quota_us", quota, "cpu.max", cpuV2, lim.CPUs > 0)
	pids := "max"
	if lim.PIDs > 0 {
		pids = strconv.Itoa(lim.PIDs)
	}
	set("pids", ic.v1["pids"], "pids.max", pids, "pids.max", pids, lim.PIDs > 0)
	return notes
}

// enableV2Limits enables the memory, cpu and pids controllers for the
// project's cgroups in v2, once: in the daemon's own cgroup's
// subtree_control (which the kernel refuses, EBUSY, when the daemon's
// cgroup is not the root and holds processes, as the daemon's does) and
// then in the project's. It returns the limit files usable.
func (c *cgroups) enableV2Limits() map[string]bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.v2Limits != nil {
		return c.v2Limits
	}
	c.v2Limits = map[string]bool{}
	avail, _ := os.ReadFile(filepath.Join(c.v2.own, "cgroup.controllers"))
	proj := filepath.Join(c.v2.own, c.name)
	for _, ct := range []struct{ ctrl, file string }{{"memory", "memory.max"}, {"cpu", "cpu.max"}, {"pids", "pids.max"}} {
		if c.v1[ct.ctrl] != nil || !bytes.Contains(append([]byte(" "), append(avail, ' ')...), []byte(" "+ct.ctrl+" ")) {
			continue
		}
		_ = writeFile(filepath.Join(c.v2.own, "cgroup.subtree_control"), "+"+ct.ctrl)
		if writeFile(filepath.Join(proj, "cgroup.subtree_control"), "+"+ct.ctrl) == nil {
			c.v2Limits[ct.file] = true
		}
	}
	return c.v2Limits
}

// adoptCgroup finds the cgroup of a process a previous daemon started:
// its /proc/PID/cgroup, accepted only where the path ends in this
// project's directory and the instance ID.
func (c *cgroups) adoptCgroup(pid int, id string) *instCgroup {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cgroup")
	if err != nil {
		return nil
	}
	paths := parseCgroupFile(b)
	suffix := "/" + c.name + "/" + id
	ic := &instCgroup{v1: map[string]string{}}
	resolve := func(h *hierarchy, p string) string {
		if h == nil || !strings.HasSuffix(p, suffix) {
			return ""
		}
		rel := p
		if h.root != "/" {
			if !strings.HasPrefix(p, h.root+"/") {
				return ""
			}
			rel = strings.TrimPrefix(p, h.root)
		}
		return filepath.Join(h.mount, rel)
	}
	if c.v2 != nil {
		ic.v2 = resolve(c.v2, paths["0::"])
	}
	for _, ct := range v1Controllers {
		h := c.v1[ct]
		if h == nil {
			continue
		}
		if d := resolve(h, paths[v1Key(strings.Join(h.controllers, ","))]); d != "" {
			ic.v1[ct] = d
		}
	}
	if ic.trackDir() == "" {
		return nil
	}
	return ic
}

// sweep kills and removes every instance cgroup of the project that keep
// does not name: what a dead daemon left running that nobody adopted. It
// returns the IDs it found processes in.
func (c *cgroups) sweep(ctx context.Context, keep map[string]bool) ([]string, error) {
	var found []string
	var errs []error
	byID := map[string]*instCgroup{}
	add := func(dir string, set func(ic *instCgroup, d string)) {
		ents, err := os.ReadDir(dir)
		if err != nil {
			return
		}
		for _, e := range ents {
			if !e.IsDir() || keep[e.Name()] {
				continue
			}
			ic := byID[e.Name()]
			if ic == nil {
				ic = &instCgroup{v1: map[string]string{}}
				byID[e.Name()] = ic
			}
			set(ic, filepath.Join(dir, e.Name()))
		}
	}
	if c.v2 != nil {
		add(filepath.Join(c.v2.own, c.name), func(ic *instCgroup, d string) { ic.v2 = d })
	}
	for _, ct := range v1Controllers {
		if h := c.v1[ct]; h != nil {
			ct := ct
			add(filepath.Join(h.own, c.name), func(ic *instCgroup, d string) { ic.v1[ct] = d })
		}
	}
	for id, ic := range byID {
		if !ic.empty() {
			found = append(found, id)
			if err := ic.killAll(ctx, sweepTimeout); err != nil {
				errs = append(errs, err)
				continue
			}
		}
		if err := ic.remove(); err != nil {
			errs = append(errs, err)
		}
	}
	return found, errors.Join(errs...)
}

// cleanup removes the project's cgroup directories if nothing is left in
// them (instances that still run keep theirs, for a later daemon).
func (c *cgroups) cleanup() {
	for _, d := range c.projectDirs() {
		_ = unix.Rmdir(d) // EBUSY while an instance's cgroup is in it
	}
}

// writeFile writes a cgroup control file (no create, no truncate needed).
func writeFile(path, val string) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, werr := f.WriteString(val)
	cerr := f.Close()
	if werr != nil {
		return fmt.Errorf("write %q to %s: %w", val, path, werr)
	}
	return cerr
}

// waitFor polls cond for up to d.
func waitFor(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(time.Millisecond)
	}
	return true
}
