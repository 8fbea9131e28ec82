package process

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/apphostd/apphostd/pkg/runtime"
)

// Start implements runtime.Driver. The child gets exactly spec.Env (an
// empty environment if it is nil), its own process group, stdin from
// /dev/null, and stdout+stderr appended to spec.LogPath. A command that
// cannot be found or executed is an error wrapping runtime.ErrInvalidSpec;
// an ID that is running is runtime.ErrAlreadyExists. Starting an ID whose
// previous instance has exited replaces that instance.
func (d *Driver) Start(ctx context.Context, spec runtime.Spec) (runtime.Status, error) {
	if err := ctx.Err(); err != nil {
		return runtime.Status{}, fmt.Errorf("start %s: %w", spec.ID, err)
	}
	if spec.ID == "" {
		return runtime.Status{}, fmt.Errorf("start: empty instance ID: %w", runtime.ErrInvalidSpec)
	}
	// One Start at a time: fork/exec is serialised by Go anyway
	// (syscall.ForkLock), and concurrent Starts only add thread hand-offs
	// and lock convoys around it — measured 2-5x slower for a burst of
	// 100 on 2 cores than starting them one after another.
	d.startMu.Lock()
	defer d.startMu.Unlock()
	path, err := resolveCommand(spec.Command, spec.Dir, spec.Env)
	if err != nil {
		return runtime.Status{}, fmt.Errorf("start %s: %w: %w", spec.ID, runtime.ErrInvalidSpec, err)
	}
	if spec.Dir != "" {
		if fi, err := os.Stat(spec.Dir); err != nil || !fi.IsDir() {
			return runtime.Status{}, fmt.Errorf("start %s: %w: working directory %q is not a directory", spec.ID, runtime.ErrInvalidSpec, spec.Dir)
		}
	}
	stdin, err := os.Open(os.DevNull)
	if err != nil {
		return runtime.Status{}, fmt.Errorf("start %s: open stdin: %w", spec.ID, err)
	}
	defer stdin.Close()
	out, err := openLog(spec.LogPath)
	if err != nil {
		return runtime.Status{}, fmt.Errorf("start %s: %w", spec.ID, err)
	}
	// The child holds its own copy of the descriptor; ours is closed once
	// it has been started so the daemon keeps no part of its output path.
	defer out.Close()

	env := withoutListenEnv(spec.Env)
	if env == nil {
		env = []string{} // nil would make exec inherit the daemon's environment
	}
	// Sockets of socket-activated endpoints: fds 3, 4, ... in the child.
	var extra []*os.File
	var names []string
	for _, pm := range spec.Ports {
		if !pm.Socket {
			continue
		}
		f, err := d.listeners.file(pm.HostPort)
		if err != nil {
			closeAll(extra)
			if IsAddrInUse(err) {
				return runtime.Status{}, fmt.Errorf("start %s: endpoint %q: port %d is in use%s: %w", spec.ID, pm.Name, pm.HostPort, holderNote(pm.HostPort), err)
			}
			return runtime.Status{}, fmt.Errorf("start %s: endpoint %q: %w", spec.ID, pm.Name, err)
		}
		extra = append(extra, f)
		names = append(names, pm.Name)
	}
	defer closeAll(extra) // the child has its copies once started
	if len(extra) > 0 {
		env = append(env, "LISTEN_FDS="+strconv.Itoa(len(extra)), "LISTEN_FDNAMES="+strings.Join(names, ":"))
	}
	var cg *instCgroup
	if d.cg != nil {
		var notes []string
		cg, notes, err = d.cg.create(ctx, spec.ID, spec.Limits)
		if err != nil {
			// Containment is an improvement, not a precondition: the
			// instance still runs in its process group.
			d.log.Warn("no cgroup for instance; process group only", zap.String("id", spec.ID), zap.Error(err))
			cg = nil
		}
		for _, n := range notes {
			d.log.Warn(n, zap.String("id", spec.ID))
		}
	} else if spec.Limits != nil {
		d.log.Warn("limits not enforced: "+d.iso.Detail, zap.String("id", spec.ID))
	}
	stopSig := spec.StopSignal
	if stopSig == 0 {
		stopSig = syscall.SIGTERM
	}
	plan := d.planExec(path, spec, env, cg, len(extra) > 0)

	d.mu.Lock()
	if old := d.instances[spec.ID]; old != nil && old.status.State != runtime.StateExited {
		d.mu.Unlock()
		if plan.cgroupFD != nil {
			plan.cgroupFD.Close()
		}
		return runtime.Status{}, fmt.Errorf("start %s: pid %d: %w", spec.ID, old.pid, runtime.ErrAlreadyExists)
	}
	// startMu (held) keeps a second Start of this ID out until the
	// instance is recorded below, so mu need not be held across the fork:
	// holding it made every Wait, Inspect and Delete queue behind it.
	d.mu.Unlock()
	// The daemon held this instance's ports since allocation; the program
	// binds them itself now (reserve.go).
	d.listeners.releaseFor(spec.ID)
	cmd, err := plan.start(stdin, out, extra)
	if err != nil && plan.cgroupFD != nil && !execFailure(err) {
		// clone3(CLONE_INTO_CGROUP) refused (an old kernel, a seccomp
		// filter): join through the shim from now on.
		d.log.Warn("clone into cgroup failed; joining cgroups before exec instead", zap.String("id", spec.ID), zap.Error(err))
		d.cg.mu.Lock()
		d.cg.noClone = true
		d.cg.mu.Unlock()
		plan = d.planExec(path, spec, env, cg, len(extra) > 0)
		cmd, err = plan.start(stdin, out, extra)
	}
	if err != nil {
		if execFailure(err) {
			err = fmt.Errorf("%w: exec %s: %w", runtime.ErrInvalidSpec, path, err)
		}
		return runtime.Status{}, fmt.Errorf("start %s: %w", spec.ID, err)
	}
	startedAt := time.Now()
	pid := cmd.Process.Pid
	if len(plan.joinAfter) > 0 {
		// Hierarchies the child was not placed in before exec (v1 on a
		// hybrid host: v2 already holds the whole tree for stopping).
		if err := joinCgroups(pid, plan.joinAfter); err != nil {
			d.log.Warn("join cgroups", zap.String("id", spec.ID), zap.Int("pid", pid), zap.Error(err))
		}
	}
	// The child is not reaped before cmd.Wait, so its /proc entry exists.
	st, err := readStat(pid)
	if err != nil {
		d.log.Warn("no start time for started process", zap.String("id", spec.ID), zap.Int("pid", pid), zap.Error(err))
	}
	inst := &instance{
		id:      spec.ID,
		pid:     pid,
		pgid:    pid,
		stopSig: stopSig,
		cg:      cg,
		status: runtime.Status{
			ID:        spec.ID,
			State:     runtime.StateRunning,
			PID:       pid,
			StartTime: st.StartTime,
			StartedAt: startedAt,
		},
		done: make(chan struct{}),
	}
	if cg != nil {
		inst.status.Cgroup = cg.path()
	}
	d.mu.Lock()
	d.instances[spec.ID] = inst
	status := inst.status
	d.mu.Unlock()

	go d.reap(inst, cmd)
	d.log.Info("started", zap.String("id", spec.ID), zap.Int("pid", pid), zap.String("command", path))
	return status, nil
}

// reap waits for a child this Driver started and records its exit.
func (d *Driver) reap(inst *instance, cmd *exec.Cmd) {
	d.finish(inst, waitChild(cmd), time.Now())
}

// openLog opens the instance's output file for appending, creating it and
// its parent directories (0700) if needed. An empty path discards output.
func openLog(path string) (*os.File, error) {
	if path == "" {
		f, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
		if err != nil {
			return nil, fmt.Errorf("open %s: %w", os.DevNull, err)
		}
		return f, nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("create log directory: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open log: %w", err)
	}
	return f, nil
}

// execFailure reports whether a cmd.Start error means the spec itself is
// wrong (missing or non-executable program, bad working directory) rather
// than the machine being short of resources.
func execFailure(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) ||
		errors.Is(err, syscall.ENOEXEC) || errors.Is(err, syscall.ENOTDIR) ||
		errors.Is(err, syscall.EISDIR) || errors.Is(err, syscall.ELOOP)
}

// resolveCommand finds the program to exec. A command containing a slash
// is a path (relative ones are relative to dir); otherwise it is searched
// in the PATH of env if env sets one, else in the daemon's PATH. Relative
// and empty PATH elements are skipped: resolving a bare name to a program
// in the current directory is a classic way to run the wrong thing.
func resolveCommand(command, dir string, env []string) (string, error) {
	if command == "" {
		return "", errors.New("empty command")
	}
	if strings.Contains(command, "/") {
		p := command
		if !filepath.IsAbs(p) {
			if dir == "" {
				return "", fmt.Errorf("command %q is relative but no working directory is set", command)
			}
			p = filepath.Join(dir, p)
		}
		if err := checkExecutable(p); err != nil {
			return "", fmt.Errorf("command %q: %w", command, err)
		}
		return p, nil
	}
	pathVar, ok := lookupEnv(env, "PATH")
	if !ok {
		pathVar = os.Getenv("PATH")
	}
	var lastErr error
	for _, elem := range filepath.SplitList(pathVar) {
		if elem == "" || !filepath.IsAbs(elem) {
			continue
		}
		p := filepath.Join(elem, command)
		err := checkExecutable(p)
		if err == nil {
			return p, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			lastErr = err
		}
	}
	if lastErr != nil {
		return "", fmt.Errorf("command %q: %w", command, lastErr)
	}
	return "", fmt.Errorf("command %q not found in PATH %q", command, pathVar)
}

// checkExecutable reports whether p is a regular file with an execute bit.
func checkExecutable(p string) error {
	fi, err := os.Stat(p)
	if err != nil {
		return err
	}
	if fi.IsDir() {
		return fmt.Errorf("%s is a directory", p)
	}
	if fi.Mode()&0o111 == 0 {
		return fmt.Errorf("%s is not executable: %w", p, fs.ErrPermission)
	}
	return nil
}

// lookupEnv returns the value of key in env; like the kernel and exec, the
// last assignment wins.
func lookupEnv(env []string, key string) (string, bool) {
	for i := len(env) - 1; i >= 0; i-- {
		if k, v, ok := strings.Cut(env[i], "="); ok && k == key {
			return v, true
		}
	}
	return "", false
}

// execPlan is how one instance is exec'd: directly, or through the shim;
// into which cgroups before exec, and which to join after.
type execPlan struct {
	path      string
	argv, env []string
	dir       string
	cgroupFD  *os.File // v2 directory for CLONE_INTO_CGROUP, or nil
	joinAfter []string // directories to write the PID into after start
}

// planExec decides how to exec path: the shim when LISTEN_PID must be set
// or cgroups must be joined before exec (v1, or no CLONE_INTO_CGROUP);
// clone3 into the v2 cgroup where there is one.
func (d *Driver) planExec(path string, spec runtime.Spec, env []string, cg *instCgroup, sockets bool) execPlan {
	p := execPlan{path: path, argv: append([]string{spec.Command}, spec.Args...), env: env, dir: spec.Dir}
	var joinBefore []string
	if cg != nil {
		d.cg.mu.Lock()
		noClone := d.cg.noClone
		d.cg.mu.Unlock()
		if cg.v2 != "" && !noClone {
			if f, err := os.Open(cg.v2); err == nil {
				p.cgroupFD = f
			}
		}
		var pending []string
		if cg.v2 != "" && p.cgroupFD == nil {
			pending = append(pending, cg.v2)
		}
		pending = append(pending, cg.v1Dirs()...)
		// Before exec when nothing else holds the whole tree from the
		// first instant (no v2 clone), or when a v1 hierarchy enforces a
		// limit (a fork in the first microseconds would escape it);
		// after start otherwise, which costs no extra exec.
		if (p.cgroupFD == nil || spec.Limits != nil) && shimAvailable() {
			for _, dir := range pending {
				joinBefore = append(joinBefore, filepath.Join(dir, cgroupProcsFile))
			}
		} else {
			p.joinAfter = pending
		}
	}
	if sockets && !shimAvailable() {
		d.log.Warn("no "+shimPath+" to set LISTEN_PID: the program may ignore its socket", zap.String("id", spec.ID))
	}
	if (sockets || len(joinBefore) > 0) && shimAvailable() {
		p.argv, p.env = shimArgs(path, spec.Args, env, joinBefore)
		p.path = shimPath
	}
	return p
}

// start execs the plan with the instance's standard streams and sockets.
func (p execPlan) start(stdin, out *os.File, extra []*os.File) (*exec.Cmd, error) {
	attr := &syscall.SysProcAttr{
		// Own process group so Stop can signal the whole tree; no
		// Pdeathsig, so the process outlives the daemon.
		Setpgid: true,
	}
	if p.cgroupFD != nil {
		attr.UseCgroupFD = true
		attr.CgroupFD = int(p.cgroupFD.Fd())
		defer p.cgroupFD.Close()
	}
	cmd := &exec.Cmd{
		Path:        p.path,
		Args:        p.argv,
		Env:         p.env,
		Dir:         p.dir,
		Stdin:       stdin,
		Stdout:      out,
		Stderr:      out,
		ExtraFiles:  extra,
		SysProcAttr: attr,
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	return cmd, nil
}

// withoutListenEnv drops socket-activation variables the daemon itself
// may have inherited (it may run under systemd socket activation): a
// child that gets no sockets must not see them, and one that does gets
// fresh ones.
func withoutListenEnv(env []string) []string {
	if env == nil {
		return nil
	}
	out := make([]string, 0, len(env))
	for _, kv := range env {
		if strings.HasPrefix(kv, "LISTEN_FDS=") || strings.HasPrefix(kv, "LISTEN_PID=") || strings.HasPrefix(kv, "LISTEN_FDNAMES=") {
			continue
		}
		out = append(out, kv)
	}
	return out
}

func closeAll(fs []*os.File) {
	for _, f := range fs {
		f.Close()
	}
}

// holderNote names the process holding port, for a conflict message.
func holderNote(port int) string {
	if pid, _, err := findListenerFD(port, false); err == nil {
		comm, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm")
		if c := strings.TrimSpace(string(comm)); c != "" {
			return fmt.Sprintf(" by pid %d (%s)", pid, c)
		}
		return fmt.Sprintf(" by pid %d", pid)
	}
	return ""
}
