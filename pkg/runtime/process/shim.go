package process

import (
	"os"
	"strings"
)

// A few things must happen in the child between fork and exec, where Go's
// os/exec offers no hook:
//
//   - LISTEN_PID must be the child's own PID (socket activation): every
//     reader checks it strictly — sd_listen_fds(3), go-systemd's
//     activation.Files, Python's systemd.daemon — and the parent cannot
//     know the PID before fork. systemd sets it in the forked child
//     (and so does systemd-socket-activate).
//   - On a cgroup v1 host the child must join its cgroups before it runs
//     the program, or a process it forks at once escapes them. (On v2 the
//     kernel places it at clone time instead: CLONE_INTO_CGROUP.)
//
// The options were a re-exec of the apphostd binary (measured 12 ms per
// start here: the binary's package initialisation), a helper binary to
// ship, or the system shell, whose start costs about 0.7 ms. The shell it
// is: `sh -c SCRIPT PROGRAM ARGS...` runs the fixed script below, which
// writes $$ into each cgroup.procs named in APPHOSTD_CGROUP_PROCS,
// exports LISTEN_PID=$$ when LISTEN_FDS is set, and execs the program with
// its arguments untouched ("$0" "$@": no quoting, no word splitting). The
// PID does not change across exec, so the PID the driver recorded is the
// program's. The one visible difference: the program's argv[0] is its
// resolved path. The shim is used only when needed (socket endpoints, v1
// cgroups, or a kernel without CLONE_INTO_CGROUP); other starts exec the
// program directly.

// shimPath is the shell the shim runs in.
const shimPath = "/bin/sh"

// shimEnvCgroups names the cgroup.procs files to join, one per line.
const shimEnvCgroups = "APPHOSTD_CGROUP_PROCS"

const shimScript = `IFS='
'
for f in $` + shimEnvCgroups + `; do
  echo $$ >"$f" || { echo "apphostd: cannot join cgroup $f" >&2; exit 125; }
done
unset ` + shimEnvCgroups + ` IFS
[ -z "$LISTEN_FDS" ] || export LISTEN_PID=$$
exec "$0" "$@"`

// shimAvailable reports whether the shell the shim needs exists.
func shimAvailable() bool {
	st, err := os.Stat(shimPath)
	return err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0
}

// shimArgs returns the argv and env that run path with args through the
// shim, joining the cgroups whose cgroup.procs files are given.
func shimArgs(path string, args, env, cgroupProcs []string) (argv, outEnv []string) {
	argv = append([]string{"sh", "-c", shimScript, path}, args...)
	outEnv = env
	if len(cgroupProcs) > 0 {
		outEnv = append(append([]string(nil), env...), shimEnvCgroups+"="+strings.Join(cgroupProcs, "\n"))
	}
	return argv, outEnv
}
