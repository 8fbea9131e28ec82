package process

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// Cgroups contain an instance: every process it forks, even one that
// calls setsid or double-forks out of its process group, stays in the
// instance's cgroup, so Stop can kill them all and a restarted daemon can
// find them. The driver uses them when it runs as root and can create
// cgroups; otherwise it falls back to process groups (Setpgid), as before.
//
// Layout: in every hierarchy used, the project gets one directory nested
// under the daemon's OWN cgroup (read from /proc/self/cgroup), and each
// instance one directory below that:
//
//	<daemon's cgroup>/apphostd-<project id>/<instance id>
//
// Nothing is ever moved out of the daemon's own cgroup: children are
// created inside it, so whatever limits and accounting the daemon's
// supervisor (systemd, a container runtime, a CI sandbox) applies keep
// applying to everything the daemon starts.
//
// Hierarchies used:
//   - cgroup v2 (unified, or the "unified" mount of a hybrid host): the
//     tracking hierarchy. A child is created directly in its cgroup with
//     clone3(CLONE_INTO_CGROUP) (SysProcAttr.UseCgroupFD), so not even a
//     process forked in its first microsecond escapes. Stop writes
//     cgroup.kill (Linux 5.14+), or freezes, kills and thaws.
//   - cgroup v1 pids and freezer: on a v1-only host they track and kill
//     (freeze, SIGKILL every member, thaw: a frozen process cannot fork);
//     on a hybrid host they are kept in step as well. On a v1-only host
//     the child joins them before exec through a one-line /bin/sh shim
//     (see shim.go), again so nothing escapes between fork and join.
//   - memory, cpu (v1) or the same controllers in v2: only when a
//     resource declares limits.

// IsolationMode names how the driver contains an instance's processes.
type IsolationMode string

// Isolation modes.
const (
	ModeProcessGroups IsolationMode = "process-groups"
	ModeCgroupV2      IsolationMode = "cgroup2"
	ModeCgroupV1      IsolationMode = "cgroup1"
	ModeCgroupHybrid  IsolationMode = "cgroup-hybrid"
)

// Isolation describes the active mode, for `apphostd doctor` and the log.
type Isolation struct {
	Mode IsolationMode `json:"mode"`
	// Detail is one sentence: where the cgroups are, or why there are none.
	Detail string `json:"detail"`
	// Limits lists the limits that can be enforced: "memory", "cpus",
	// "pids". Empty in process-group mode.
	Limits []string `json:"limits,omitempty"`
}

// hierarchy is one mounted cgroup hierarchy the driver uses.
type hierarchy struct {
	v2          bool
	controllers []string // v1: the controllers mounted together here
	mount       string   // mount point
	root        string   // the mount's root inside the hierarchy (mountinfo field 4)
	own         string   // the daemon's cgroup directory (absolute path)
}

// cgroups is the driver's cgroup setup for one project. Immutable after
// detectCgroups, except for the lazily settled fields under mu.
type cgroups struct {
	name string // project directory name: apphostd-<project id>
	v2   *hierarchy
	v1   map[string]*hierarchy // controller → hierarchy ("pids", "freezer", "memory", "cpu")

	mu sync.Mutex
	// noClone is set once clone3(CLONE_INTO_CGROUP) failed for a reason
	// other than the program: from then on the shim joins v2 too.
	noClone bool
	// v2Limits: controllers enabled for the project's children in v2, once
	// tried (nil = not tried yet).
	v2Limits map[string]bool
}

// v1Controllers are the v1 controllers the driver may use.
var v1Controllers = []string{"pids", "freezer", "memory", "cpu"}

// cgroupRoot is where mountinfo and cgroup files are read from; tests
// never change it, but it keeps the /proc paths in one place.
const (
	mountinfoPath   = "/proc/self/mountinfo"
	selfCgroupPath  = "/proc/self/cgroup"
	cgroupProcsFile = "cgroup.procs"
)

// detectCgroups finds the hierarchies the daemon can create cgroups in,
// creates the project's directory in each, and says which mode results.
// name is the project directory's name; "" disables cgroups.
func detectCgroups(name string) (*cgroups, Isolation) {
	groups := Isolation{Mode: ModeProcessGroups}
	if name == "" {
		groups.Detail = "process groups (Setpgid): cgroups not requested"
		return nil, groups
	}
	if os.Geteuid() != 0 {
		groups.Detail = "process groups (Setpgid): not running as root, so no cgroups; a process that leaves its group (setsid, double fork) is not stopped with it"
		return nil, groups
	}
	mounts, err := readMountinfo(mountinfoPath)
	if err != nil {
		groups.Detail = "process groups (Setpgid): " + err.Error()
		return nil, groups
	}
	self, err := readSelfCgroup(selfCgroupPath)
	if err != nil {
		groups.Detail = "process groups (Setpgid): " + err.Error()
		return nil, groups
	}
	c := &cgroups{name: name, v1: map[string]*hierarchy{}}
	var problems []string
	for _, m := range mounts {
		switch m.fstype {
		case "cgroup2":
			if c.v2 != nil {
				continue
			}
			h, err := ownHierarchy(m, self["0::"], true, nil)
			if err == nil {
				err = ensureDir(filepath.Join(h.own, name))
			}
			if err != nil {
				problems = append(problems, "cgroup v2: "+err.Error())
				continue
			}
			c.v2 = h
		case "cgroup":
			var ctrls []string
			for _, o := range strings.Split(m.superopts, ",") {
				for _, want := range v1Controllers {
					if o == want {
						ctrls = append(ctrls, o)
					}
				}
			}
			if len(ctrls) == 0 {
				continue
			}
			h, err := ownHierarchy(m, self[v1Key(m.superopts)], false, ctrls)
			if err == nil {
				err = ensureDir(filepath.Join(h.own, name))
			}
			if err != nil {
				problems = append(problems, fmt.Sprintf("cgroup v1 %s: %v", strings.Join(ctrls, ","), err))
				continue
			}
			for _, ct := range ctrls {
				if c.v1[ct] == nil {
					c.v1[ct] = h
				}
			}
		}
	}
	iso := Isolation{Limits: c.limitKinds()}
	switch {
	case c.v2 != nil && (c.v1["pids"] != nil || c.v1["freezer"] != nil):
		iso.Mode = ModeCgroupHybrid
		iso.Detail = fmt.Sprintf("cgroups (hybrid): each executable in its own cgroup under %s (v2: created there by clone3, stopped with %s) and under the v1 %s hierarchies",
			filepath.Join(c.v2.own, name), c.v2KillWord(), strings.Join(c.v1Names(), ", "))
	case c.v2 != nil:
		iso.Mode = ModeCgroupV2
		iso.Detail = fmt.Sprintf("cgroups (v2): each executable in its own cgroup under %s, created there by clone3 and stopped with %s",
			filepath.Join(c.v2.own, name), c.v2KillWord())
	case c.v1["freezer"] != nil || c.v1["pids"] != nil:
		iso.Mode = ModeCgroupV1
		iso.Detail = fmt.Sprintf("cgroups (v1): each executable in its own cgroup under %s (%s); stop freezes, kills and thaws",
			filepath.Join(c.tracker().own, name), strings.Join(c.v1Names(), ", "))
	default:
		groups.Detail = "process groups (Setpgid): no usable cgroup hierarchy"
		if len(problems) > 0 {
			groups.Detail += " (" + strings.Join(problems, "; ") + ")"
		}
		return nil, groups
	}
	return c, iso
}

// v2KillWord names how a v2 cgroup is emptied here.
func (c *cgroups) v2KillWord() string {
	if _, err := os.Stat(filepath.Join(c.v2.own, c.name, "cgroup.kill")); err == nil {
		return "cgroup.kill"
	}
	return "cgroup.freeze and SIGKILL"
}

func (c *cgroups) v1Names() []string {
	var out []string
	for _, ct := range v1Controllers {
		if c.v1[ct] != nil {
			out = append(out, ct)
		}
	}
	return out
}

// tracker is the v1 hierarchy that lists an instance's processes when
// there is no v2: freezer (it can also stop them), else pids.
func (c *cgroups) tracker() *hierarchy {
	if h := c.v1["freezer"]; h != nil {
		return h
	}
	return c.v1["pids"]
}

// limitKinds lists the limits this setup can enforce.
func (c *cgroups) limitKinds() []string {
	var out []string
	avail := map[string]bool{}
	if c.v2 != nil {
		b, _ := os.ReadFile(filepath.Join(c.v2.own, "cgroup.controllers"))
		for _, f := range strings.Fields(string(b)) {
			avail[f] = true
		}
	}
	for _, l := range []struct{ limit, ctrl string }{{"memory", "memory"}, {"cpus", "cpu"}, {"pids", "pids"}} {
		if c.v1[l.ctrl] != nil || avail[l.ctrl] {
			out = append(out, l.limit)
		}
	}
	return out
}

// projectDirs lists the project's directory in every hierarchy used.
func (c *cgroups) projectDirs() []string {
	var out []string
	if c.v2 != nil {
		out = append(out, filepath.Join(c.v2.own, c.name))
	}
	seen := map[*hierarchy]bool{}
	for _, ct := range v1Controllers {
		if h := c.v1[ct]; h != nil && !seen[h] {
			seen[h] = true
			out = append(out, filepath.Join(h.own, c.name))
		}
	}
	return out
}

// ownHierarchy resolves the daemon's own cgroup directory in mount m.
// path is the daemon's cgroup in that hierarchy, from /proc/self/cgroup.
func ownHierarchy(m mountEntry, path string, v2 bool, ctrls []string) (*hierarchy, error) {
	if path == "" {
		return nil, fmt.Errorf("not listed in %s", selfCgroupPath)
	}
	rel := path
	if m.root != "/" {
		// A bind mount of part of the hierarchy: the daemon's cgroup must
		// be inside it to be reachable.
		if path != m.root && !strings.HasPrefix(path, m.root+"/") {
			return nil, fmt.Errorf("own cgroup %s is outside the mount %s (root %s)", path, m.mountpoint, m.root)
		}
		rel = strings.TrimPrefix(path, m.root)
	}
	own := filepath.Join(m.mountpoint, rel)
	if st, err := os.Stat(own); err != nil || !st.IsDir() {
		return nil, fmt.Errorf("own cgroup %s not found", own)
	}
	return &hierarchy{v2: v2, controllers: ctrls, mount: m.mountpoint, root: m.root, own: own}, nil
}

// ensureDir creates dir (one level) if needed and checks that it is a
// cgroup the daemon can put processes in.
func ensureDir(dir string) error {
	if err := unix.Mkdir(dir, 0o755); err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	if err := unix.Access(filepath.Join(dir, cgroupProcsFile), unix.W_OK); err != nil {
		return fmt.Errorf("%s is not writable: %w", filepath.Join(dir, cgroupProcsFile), err)
	}
	return nil
}

// mountEntry is one line of /proc/self/mountinfo.
type mountEntry struct {
	root, mountpoint, fstype, superopts string
}

// readMountinfo returns the cgroup and cgroup2 mounts, in mount order.
func readMountinfo(path string) ([]mountEntry, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read mounts: %w", err)
	}
	var out []mountEntry
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		// id parent major:minor root mountpoint opts [optional...] - fstype source superopts
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		if !ok {
			continue
		}
		f, g := strings.Fields(pre), strings.Fields(post)
		if len(f) < 5 || len(g) < 3 || (g[0] != "cgroup" && g[0] != "cgroup2") {
			continue
		}
		out = append(out, mountEntry{root: unescapeMount(f[3]), mountpoint: unescapeMount(f[4]), fstype: g[0], superopts: g[2]})
	}
	return out, nil
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			var v byte
			ok := true
			for _, c := range s[i+1 : i+4] {
				if c < '0' || c > '7' {
					ok = false
					break
				}
				v = v*8 + byte(c-'0')
			}
			if ok {
				b.WriteByte(v)
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// readSelfCgroup maps each hierarchy of /proc/self/cgroup to the daemon's
// path in it: "0::" for v2, and the sorted controller list ("cpu,cpuacct")
// for v1.
func readSelfCgroup(path string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read own cgroups: %w", err)
	}
	return parseCgroupFile(b), nil
}

// parseCgroupFile parses the /proc/PID/cgroup format.
func parseCgroupFile(b []byte) map[string]string {
	out := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		// hierarchy-ID:controller-list:cgroup-path
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		if parts[0] == "0" && parts[1] == "" {
			out["0::"] = parts[2]
			continue
		}
		out[v1Key(parts[1])] = parts[2]
	}
	return out
}

// v1Key normalises a v1 controller list (from superopts or
// /proc/PID/cgroup) to its sorted controller names.
func v1Key(list string) string {
	var ctrls []string
	for _, o := range strings.Split(list, ",") {
		for _, want := range v1Controllers {
			if o == want {
				ctrls = append(ctrls, o)
			}
		}
		if o == "cpuacct" || o == "net_cls" || o == "net_prio" || o == "cpuset" || o == "devices" || o == "blkio" || o == "hugetlb" || o == "perf_event" || o == "rdma" || o == "misc" {
			ctrls = append(ctrls, o)
		}
	}
	sort.Strings(ctrls)
	return strings.Join(ctrls, ",")
}

// isNotExist reports a vanished cgroup file or directory.
func isNotExist(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, unix.ENODEV)
}
