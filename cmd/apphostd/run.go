package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/apphostd/apphostd/pkg/api"
	"github.com/apphostd/apphostd/pkg/daemon"
	"github.com/apphostd/apphostd/pkg/model"
	"github.com/apphostd/apphostd/pkg/project"
	"github.com/apphostd/apphostd/pkg/runtime/process"
)

func init() { register(newRunCmd) }

// cmdGrace is how long run lets CMD exit after forwarding a signal before
// it kills CMD and tears down: CI runners follow SIGINT with SIGKILL within
// about ten seconds, and teardown needs some of them.
const cmdGrace = 5 * time.Second

type runOptions struct {
	keep        bool
	timeout     time.Duration
	jsonOut     bool
	output      string
	grace       time.Duration
	downTimeout time.Duration
}

func newRunCmd() *cobra.Command {
	var o runOptions
	cmd := &cobra.Command{
		Use:   "run [flags] [--] CMD [ARGS...]",
		Short: "Bring the project up, run a command against it, tear down",
		Long: `Start the project's daemon (or attach to the one already running), wait until
every autostart resource is ready, run CMD with the environment a consumer of
every resource gets (services__*, NAME_*, ConnectionStrings__*, on top of
run's own environment), then tear everything down, as down does, and exit
with CMD's exit code. Flags go before CMD; everything from CMD on is CMD's.

A daemon that was already running is left running, as is everything with
--keep. Bring-up progress goes to stderr; CMD's output passes through.

If bring-up fails, run prints each failed resource's state, reason and last
50 log lines, tears down, and exits 5 (a resource failed) or 4 (--timeout
passed). SIGINT, SIGTERM and SIGHUP are forwarded to CMD; run then tears
down and exits 128+signal (130, 143, 129). CMD that has not exited 5s after
a signal is killed.

Exit codes: CMD's own; 1 config error or teardown left something behind
(listed) after CMD exited 0; 2 bad flag; 4 bring-up timed out; 5 a resource
failed; 126/127 CMD could not be run / not found; 128+N a signal.`,
		Args: usageArgs(cobra.MinimumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error { return runRun(cmd, args, o) },
	}
	f := cmd.Flags()
	f.SetInterspersed(false) // `run go test -v ./...`: -v is CMD's
	f.BoolVar(&o.keep, "keep", false, "leave the daemon and resources running after CMD exits")
	f.DurationVar(&o.timeout, "timeout", 5*time.Minute, "give up bring-up after this long (exit 4)")
	f.BoolVar(&o.jsonOut, "json", false, "print a one-line JSON summary as the last line of stdout")
	f.StringVar(&o.output, "output", "", outputFlagHelp)
	f.DurationVar(&o.grace, "stop-grace", 10*time.Second, "time between SIGTERM and SIGKILL when stopping a resource")
	f.DurationVar(&o.downTimeout, "down-timeout", 60*time.Second, "give up waiting for the daemon to stop after this long")
	return thinClient(cmd)
}

// runSummary is run's --json output.
type runSummary struct {
	OK              bool           `json:"ok"`
	ExitCode        int            `json:"exit_code"`
	Phase           string         `json:"phase"` // bring-up, command, teardown, done
	Error           string         `json:"error,omitempty"`
	Command         []string       `json:"command"`
	CommandExitCode *int           `json:"command_exit_code,omitempty"`
	Signal          string         `json:"signal,omitempty"`
	Attached        bool           `json:"attached"`
	Kept            bool           `json:"kept"`
	TornDown        bool           `json:"torn_down"`
	Left            []string       `json:"left,omitempty"`
	BringupSeconds  float64        `json:"bringup_seconds"`
	CommandSeconds  float64        `json:"command_seconds"`
	DurationSeconds float64        `json:"duration_seconds"`
	Failed          []string       `json:"failed,omitempty"`
	Pending         []string       `json:"pending,omitempty"`
	Resources       []readySummary `json:"resources"`
}

// runState carries one `run` through its phases.
type runState struct {
	o        runOptions
	args     []string
	file     string // -f
	p        project.Project
	stderr   io.Writer
	stdout   io.Writer
	format   outputFormat
	rep      *reporter
	sigs     chan os.Signal
	start    time.Time
	attached bool
	sum      runSummary
}

func runRun(cmd *cobra.Command, args []string, o runOptions) error {
	format, err := parseOutput(o.output, os.Getenv)
	if err != nil {
		return err
	}
	if o.timeout <= 0 {
		return withCode(exitUsage, fmt.Errorf("--timeout must be positive, got %s", o.timeout))
	}
	rs := &runState{o: o, args: args, file: projectFlag(cmd), stderr: cmd.ErrOrStderr(), stdout: cmd.OutOrStdout(), format: format, start: time.Now()}
	rs.rep = newReporter(rs.stderr, format, rs.start)
	rs.sum = runSummary{Command: args, Phase: "bring-up", Resources: []readySummary{}}
	// Signals are ours from the start, so one during bring-up tears down.
	rs.sigs = make(chan os.Signal, 8)
	signal.Notify(rs.sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(rs.sigs)

	err = rs.run(cmd.Context())
	rs.sum.DurationSeconds = time.Since(rs.start).Seconds()
	rs.sum.ExitCode = exitCodeOf(err)
	rs.sum.OK = err == nil
	if err != nil && err.Error() != "" {
		rs.sum.Error = err.Error()
	}
	if o.jsonOut {
		b, jerr := json.Marshal(rs.sum)
		if jerr == nil {
			fmt.Fprintf(rs.stdout, "%s\n", b)
		}
	}
	if format == outputGitHub {
		appendStepSummary(os.Getenv, runMarkdown(rs.sum))
	}
	return err
}

func (rs *runState) run(ctx context.Context) error {
	if ctx == nil {
		ctx = context.Background()
	}
	p, err := project.Locate(rs.file, "")
	if err != nil {
		// A running daemon whose file was deleted can still be attached to.
		if pd, derr := project.LocateDir(rs.file, ""); derr == nil && pd.Dir != "" && daemon.LockHolder(pd.LockFile()) != 0 {
			p, err = pd, nil
		}
	}
	if err != nil {
		return withCode(exitError, err)
	}
	rs.p = p
	rs.attached = liveLockHolder(p) != 0
	if rs.attached {
		rs.rep.note(fmt.Sprintf("attaching to the apphostd already running for %s; it is left running afterwards", p.Dir))
	} else {
		src, err := os.ReadFile(p.File)
		if err != nil {
			return withCode(exitError, err)
		}
		if _, diags := model.Compile(p.File, src); diags.HasErrors() {
			_ = model.WriteDiagnostics(rs.stderr, p.File, src, diags, interactive(os.Stderr))
			return withCode(exitError, errors.New(""))
		}
		pid, err := spawnDaemon(p, upOptions{grace: rs.o.grace})
		if err != nil {
			if daemon.LockHolder(p.LockFile()) == 0 {
				return withCode(exitError, err)
			}
			rs.attached = true // another run or up won the race
		} else {
			rs.rep.note(fmt.Sprintf("started apphostd (pid %d) for %s", pid, p.Dir))
		}
	}
	rs.sum.Attached = rs.attached
	c := api.Dial(p.Socket())
	defer c.Close()

	// Bring-up, cancelled by a signal.
	sig, werr := rs.bringUp(ctx, c)
	if sig != nil {
		rs.sum.Signal = sigName(sig)
		rs.rep.note(fmt.Sprintf("%s during bring-up", sigName(sig)))
		return rs.finish(withCode(128+sigNum(sig), fmt.Errorf("interrupted by %s during bring-up", sigName(sig))))
	}
	if werr != nil {
		return rs.finish(werr)
	}

	env, err := c.Env(ctx)
	if err != nil {
		return rs.finish(daemonErr(p, fmt.Errorf("read the consumer environment: %w", err)))
	}
	rs.sum.Phase = "command"
	code, sig, cerr := rs.runCommand(env)
	if code >= 0 {
		rs.sum.CommandExitCode = &code
	}
	if sig != nil {
		rs.sum.Signal = sigName(sig)
		return rs.finish(withCode(128+sigNum(sig), fmt.Errorf("interrupted by %s", sigName(sig))))
	}
	if cerr != nil {
		return rs.finish(cerr)
	}
	if code != 0 {
		return rs.finish(withCode(code, errors.New("")))
	}
	return rs.finish(nil)
}

// bringUp waits for readiness; a signal cancels the wait and is returned.
func (rs *runState) bringUp(ctx context.Context, c *api.Client) (os.Signal, error) {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	got := make(chan os.Signal, 1)
	stop := make(chan struct{})
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		select {
		case s := <-rs.sigs:
			got <- s
			cancel()
		case <-stop:
		}
	}()
	wr, err := waitFor(wctx, c, waitOptions{
		timeout: rs.o.timeout,
		out:     rs.stderr,
		stdout:  rs.stdout,
		output:  string(rs.format),
		start:   rs.start,
		title:   "apphostd run",
		jsonOut: rs.o.jsonOut,
	})
	close(stop)
	<-watched
	if wr.res != nil {
		s := wr.summary(waitOptions{})
		rs.sum.Resources, rs.sum.Failed, rs.sum.Pending = s.Resources, s.Failed, s.Pending
		rs.sum.BringupSeconds = s.ElapsedSeconds
	}
	select {
	case s := <-got:
		return s, nil
	default:
	}
	return nil, err
}

// runCommand runs CMD with env added, forwarding signals. It returns CMD's
// exit code (-1 if it never ran), the first signal run received, and an
// error only when CMD could not be started.
func (rs *runState) runCommand(env map[string]string) (int, os.Signal, error) {
	cmdStart := time.Now()
	defer func() { rs.sum.CommandSeconds = time.Since(cmdStart).Seconds() }()
	ex := exec.Command(rs.args[0], rs.args[1:]...)
	ex.Env = mergeEnv(os.Environ(), env)
	ex.Stdin, ex.Stdout, ex.Stderr = os.Stdin, os.Stdout, os.Stderr
	// On a terminal CMD stays in our process group, so it can read the
	// terminal and gets Ctrl-C from it directly. Elsewhere it leads its own
	// group, and signals reach it (and its children) only through us, once.
	tty := isTTY(os.Stdin)
	if !tty {
		ex.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	}
	rs.rep.note("running " + strings.Join(rs.args, " "))
	if err := ex.Start(); err != nil {
		code := 126
		if errors.Is(err, exec.ErrNotFound) || errors.Is(err, os.ErrNotExist) {
			code = 127
		}
		return -1, nil, withCode(code, fmt.Errorf("run %s: %w", rs.args[0], err))
	}
	exited := make(chan error, 1)
	go func() { exited <- ex.Wait() }()
	var first os.Signal
	var forced <-chan time.Time
	n := 0
	for {
		select {
		case err := <-exited:
			if first == nil {
				// A Ctrl-C reaches CMD and us together; select may have
				// picked CMD's exit first.
				select {
				case first = <-rs.sigs:
				default:
				}
			}
			code := exitStatus(ex.ProcessState, err)
			rs.rep.note(fmt.Sprintf("%s exited with code %d after %.2fs", rs.args[0], code, time.Since(cmdStart).Seconds()))
			return code, first, nil
		case s := <-rs.sigs:
			n++
			if first == nil {
				first = s
				forced = time.After(cmdGrace)
			}
			if n >= 3 {
				signalCmd(ex.Process.Pid, tty, syscall.SIGKILL)
				continue
			}
			if tty && s == syscall.SIGINT && n == 1 && foregroundIsOurs() {
				continue // the terminal sent it to CMD as well
			}
			signalCmd(ex.Process.Pid, tty, s.(syscall.Signal))
		case <-forced:
			rs.rep.note(fmt.Sprintf("%s did not exit within %s of %s; killing it", rs.args[0], cmdGrace, sigName(first)))
			signalCmd(ex.Process.Pid, tty, syscall.SIGKILL)
			forced = nil
		}
	}
}

// finish tears down (unless attached or --keep) and returns the exit
// error: err, or for a clean CMD whose teardown left something, code 1.
func (rs *runState) finish(err error) error {
	switch {
	case rs.p.Dir == "":
		return err
	case rs.attached:
		return err
	case rs.o.keep:
		rs.sum.Kept = true
		rs.rep.note("--keep: resources keep running; stop them with `apphostd down`")
		return err
	}
	if rs.format == outputGitHub {
		fmt.Fprintln(rs.stderr, "::group::apphostd run: teardown")
	}
	left, derr := downProject(rs.p, rs.o.downTimeout, false)
	if rs.format == outputGitHub {
		fmt.Fprintln(rs.stderr, "::endgroup::")
	}
	rs.sum.TornDown = derr == nil && len(left) == 0
	rs.sum.Left = left
	if len(left) > 0 {
		msg := "teardown left behind:\n  " + strings.Join(left, "\n  ")
		fmt.Fprintln(rs.stderr, "apphostd: "+msg)
		if rs.format == outputGitHub {
			fmt.Fprintln(rs.stderr, ghAnnotation("error", "apphostd run: teardown incomplete", msg))
		}
		if err == nil {
			return withCode(exitError, errors.New("teardown incomplete"))
		}
	} else {
		rs.rep.note(fmt.Sprintf("%s is down", rs.p.Dir))
	}
	if err == nil {
		rs.sum.Phase = "done"
	}
	return err
}

// liveLockHolder is daemon.LockHolder, except that a holder that is
// exiting (killed: a zombie whose last thread still holds the lock for a
// moment) is waited for, up to 5s, so run starts a new daemon instead of
// attaching to a dying one.
func liveLockHolder(p project.Project) int {
	deadline := time.Now().Add(5 * time.Second)
	for {
		pid := daemon.LockHolder(p.LockFile())
		if pid <= 0 || time.Now().After(deadline) {
			return pid
		}
		if st, err := process.ProcStartTime(pid); err == nil && processLive(pid, st) {
			return pid
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// mergeEnv returns base with add set over it (add wins: run's point is
// the resources' values).
func mergeEnv(base []string, add map[string]string) []string {
	out := make([]string, 0, len(base)+len(add))
	for _, kv := range base {
		k, _, _ := strings.Cut(kv, "=")
		if _, ok := add[k]; ok {
			continue
		}
		out = append(out, kv)
	}
	for k, v := range add {
		out = append(out, k+"="+v)
	}
	return out
}

// signalCmd signals CMD: its group when it leads one, else its PID.
func signalCmd(pid int, sameGroup bool, s syscall.Signal) {
	if sameGroup {
		_ = syscall.Kill(pid, s)
		return
	}
	_ = syscall.Kill(-pid, s)
}

// foregroundIsOurs reports whether our process group is the terminal's
// foreground group, i.e. whether a Ctrl-C came to CMD from the terminal.
func foregroundIsOurs() bool {
	fg, err := unix.IoctlGetInt(int(os.Stdin.Fd()), unix.TIOCGPGRP)
	return err == nil && fg == unix.Getpgrp()
}

// isTTY reports whether f is a terminal (a char device such as /dev/null
// is not).
func isTTY(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// exitStatus is CMD's exit code, 128+N when a signal N killed it.
func exitStatus(ps *os.ProcessState, err error) int {
	if ps == nil {
		if err != nil {
			return 1
		}
		return 0
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ps.ExitCode()
}

// exitCodeOf is the code main exits with for err.
func exitCodeOf(err error) int {
	if err == nil {
		return exitOK
	}
	var ce *exitCodeError
	if errors.As(err, &ce) {
		return ce.code
	}
	return exitError
}

func sigNum(s os.Signal) int {
	if ss, ok := s.(syscall.Signal); ok {
		return int(ss)
	}
	return 1
}

func sigName(s os.Signal) string {
	switch s {
	case syscall.SIGINT:
		return "SIGINT"
	case syscall.SIGTERM:
		return "SIGTERM"
	case syscall.SIGHUP:
		return "SIGHUP"
	}
	return s.String()
}

// runMarkdown renders run's summary for the GitHub job summary.
func runMarkdown(s runSummary) string {
	title := "apphostd run " + strings.Join(s.Command, " ")
	b := bringupSummary{OK: s.OK, Error: s.Error, Resources: s.Resources}
	md := summaryMarkdown(title, b)
	code := "-"
	if s.CommandExitCode != nil {
		code = fmt.Sprint(*s.CommandExitCode)
	}
	return md + fmt.Sprintf("bring-up %.2fs, command %.2fs (exit %s), total %.2fs, torn down: %v\n\n", s.BringupSeconds, s.CommandSeconds, code, s.DurationSeconds, s.TornDown)
}
