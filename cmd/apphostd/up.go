package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"runtime/pprof"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/apphostd/apphostd/pkg/api"
	"github.com/apphostd/apphostd/pkg/daemon"
	"github.com/apphostd/apphostd/pkg/model"
	"github.com/apphostd/apphostd/pkg/project"
	"github.com/apphostd/apphostd/pkg/status"
)

func init() { register(newUpCmd) }

type upOptions struct {
	detach      bool
	wait        bool
	timeout     time.Duration
	jsonOut     bool
	output      string
	daemonChild bool
	debug       bool
	grace       time.Duration
	// names narrows what runs to these resources and what they need;
	// profiles are the active profiles (see docs/cli.md#up).
	names    []string
	profiles []string
}

func newUpCmd() *cobra.Command {
	var o upOptions
	cmd := &cobra.Command{
		Use:   "up [NAME...]",
		Short: "Start the project's daemon and run every resource (or NAME... and what they need)",
		Long: `Start the project's daemon and run every autostart resource in dependency order.

With NAME... only those resources and everything they need (references,
wait_for, wait_for_completion, transitively) run. A resource with profiles
runs only when one of them is given with --profile (repeatable), or when it
is named. Against a daemon that already runs, NAME... and --profile are added
to what it runs.

In the foreground (default) every resource's output is streamed, prefixed by
its name; Ctrl-C stops everything in reverse dependency order (a second Ctrl-C
forces it). With -d the daemon runs in the background (log in
.apphost/daemon.log) and up returns once its socket answers. --wait implies -d
and returns once every autostart resource is Running and Healthy (or Finished).`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.names = args
			return runUp(cmd, o)
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&o.detach, "detach", "d", false, "run the daemon in the background")
	f.BoolVar(&o.wait, "wait", false, "wait until every autostart resource is ready (implies -d)")
	f.DurationVar(&o.timeout, "timeout", 5*time.Minute, "with --wait: give up after this long (exit 4)")
	f.BoolVar(&o.jsonOut, "json", false, "with --wait: print a JSON summary of the resources")
	f.StringVar(&o.output, "output", "", "with --wait: "+outputFlagHelp)
	f.BoolVar(&o.debug, "debug", false, "log at debug level to .apphost/daemon.log")
	f.DurationVar(&o.grace, "stop-grace", 10*time.Second, "time between SIGTERM and SIGKILL when stopping a resource")
	f.StringArrayVar(&o.profiles, "profile", nil, "activate a profile: run resources with profiles = [\"P\"] too (repeatable)")
	f.BoolVar(&o.daemonChild, "daemon-child", false, "internal: run as the detached daemon")
	_ = f.MarkHidden("daemon-child")
	return cmd
}

func projectFlag(cmd *cobra.Command) string {
	f, _ := cmd.Flags().GetString("file")
	return f
}

func runUp(cmd *cobra.Command, o upOptions) error {
	p, err := project.Locate(projectFlag(cmd), "")
	if err != nil {
		return withCode(exitError, err)
	}
	if o.daemonChild {
		return runDaemon(p, o, false)
	}
	if o.wait {
		o.detach = true
	}
	// A daemon killed a moment ago may still hold the lock while its
	// last thread exits: wait for it rather than report it running.
	if pid := liveLockHolder(p); pid != 0 {
		if len(o.names) > 0 || len(o.profiles) > 0 {
			return upRunning(cmd, p, o)
		}
		if !o.detach {
			return withCode(exitError, fmt.Errorf("apphostd is already running for %s%s; follow it with `apphostd logs -f`, stop it with `apphostd down`", p.Dir, pidNote(pid)))
		}
		fmt.Fprintf(os.Stderr, "apphostd is already running for %s%s\n", p.Dir, pidNote(pid))
		c := api.Dial(p.Socket())
		defer c.Close()
		// A plain up asks for the whole project again (a daemon started
		// with NAME... widens to everything).
		if err := c.Up(cmd.Context(), nil, nil); err != nil {
			return daemonErr(p, err)
		}
		if o.wait {
			return waitReady(cmd.Context(), c, waitOptions{timeout: o.timeout, jsonOut: o.jsonOut, forWhat: "healthy", output: o.output, title: "apphostd up"})
		}
		return printStatusSummary(cmd.Context(), c)
	}
	// Validate before starting anything, so errors show with snippets here.
	src, err := os.ReadFile(p.File)
	if err != nil {
		return withCode(exitError, err)
	}
	g, diags := model.Compile(p.File, src)
	if diags.HasErrors() {
		_ = model.WriteDiagnostics(os.Stderr, p.File, src, diags, interactive(os.Stderr))
		return withCode(exitError, errors.New(""))
	}
	// A selected resource that needs one its profiles leave out would
	// wait forever: refuse before starting anything, naming both.
	if _, err := daemon.Select(g, o.names, o.profiles); err != nil {
		return withCode(exitError, err)
	}
	if !o.detach {
		return runDaemon(p, o, true)
	}
	pid, err := spawnDaemon(p, o)
	if err != nil {
		return withCode(exitError, err)
	}
	if !o.jsonOut {
		fmt.Fprintf(os.Stderr, "apphostd started in the background (pid %d) for %s\n", pid, p.Dir)
	}
	if !o.wait {
		return nil
	}
	c := api.Dial(p.Socket())
	defer c.Close()
	return waitReady(cmd.Context(), c, waitOptions{names: o.names, timeout: o.timeout, jsonOut: o.jsonOut, forWhat: "healthy", output: o.output, title: "apphostd up"})
}

// upRunning handles `up NAME...` / `up --profile P` against a daemon that
// already runs: the daemon adds them to what it runs; with --wait, up
// waits for the named resources (every selected one without names).
func upRunning(cmd *cobra.Command, p project.Project, o upOptions) error {
	c := api.Dial(p.Socket())
	defer c.Close()
	if err := c.Up(cmd.Context(), o.names, o.profiles); err != nil {
		return daemonErr(p, err)
	}
	if !o.jsonOut {
		what := "the project"
		if len(o.names) > 0 {
			what = strings.Join(o.names, ", ")
		}
		fmt.Fprintf(os.Stderr, "apphostd is already running for %s: starting %s\n", p.Dir, what)
	}
	if o.wait {
		return waitReady(cmd.Context(), c, waitOptions{names: o.names, timeout: o.timeout, jsonOut: o.jsonOut, forWhat: "healthy", output: o.output, title: "apphostd up"})
	}
	return printStatusSummary(cmd.Context(), c)
}

func pidNote(pid int) string {
	if pid > 0 {
		return fmt.Sprintf(" (pid %d)", pid)
	}
	return ""
}

// runDaemon runs the daemon in this process until it shuts down.
func runDaemon(p project.Project, o upOptions, foreground bool) error {
	if err := p.EnsureStateDir(); err != nil {
		return withCode(exitError, err)
	}
	log, closeLog, err := newDaemonLogger(p.DaemonLog(), foreground, o.debug)
	if err != nil {
		return withCode(exitError, err)
	}
	defer closeLog()
	opts := daemon.Options{
		Project:   p,
		Log:       log,
		Version:   version,
		StopGrace: o.grace,
		Select:    o.names,
		Profiles:  o.profiles,
	}
	var d *daemon.Daemon
	opts.ExtraDrivers = extraDrivers(p, log, func(id, image string) {
		if d != nil {
			d.NotePull(id, image)
		}
	})
	if foreground {
		opts.Output = os.Stdout
		opts.Color = interactive(os.Stdout)
	}
	d = daemon.New(opts)
	if os.Getenv("GOGC") == "" {
		// The daemon's live heap is a few MiB; at the default GOGC=100
		// the runtime keeps as much again in garbage. Half that keeps the
		// resident size of a 100-resource project under 40 MiB
		// (BENCHMARKS.md W3) for a GC cost that is noise at this size.
		debug.SetGCPercent(50)
	}
	if path := os.Getenv("APPHOSTD_HEAPPROFILE"); path != "" {
		// For performance work: a heap profile written on SIGUSR1.
		usr1 := make(chan os.Signal, 1)
		signal.Notify(usr1, syscall.SIGUSR1)
		go func() {
			for range usr1 {
				if f, err := os.Create(path); err == nil {
					_ = pprof.Lookup("heap").WriteTo(f, 0)
					f.Close()
				}
			}
		}()
	}
	if path := os.Getenv("APPHOSTD_CPUPROFILE"); path != "" {
		// For performance work: a CPU profile of the daemon's whole life.
		if f, err := os.Create(path); err == nil {
			if err := pprof.StartCPUProfile(f); err == nil {
				defer func() { pprof.StopCPUProfile(); f.Close() }()
			}
		}
	}

	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	go func() {
		n := 0
		var first time.Time
		for s := range sigs {
			if s == syscall.SIGHUP {
				_, _ = d.ReloadFromDisk()
				continue
			}
			// One Ctrl-C can arrive twice (to the process and to its
			// group, as timeout(1) sends it): only a later one forces.
			if n == 1 && time.Since(first) < 300*time.Millisecond {
				continue
			}
			if n == 0 {
				first = time.Now()
			}
			n++
			if n == 1 {
				if foreground {
					fmt.Fprintln(os.Stderr, "apphostd: stopping (again to force)...")
				}
				d.Shutdown()
				continue
			}
			if foreground {
				fmt.Fprintln(os.Stderr, "apphostd: forcing stop")
			}
			d.Kill()
			os.Exit(130)
		}
	}()
	if foreground {
		go announceReady(d.Store(), os.Stdout, opts.Color)
	}
	err = d.Run(context.Background())
	var ce *daemon.ConfigError
	switch {
	case errors.As(err, &ce):
		fmt.Fprint(os.Stderr, ce.Rendered)
		return withCode(exitError, errors.New(""))
	case errors.Is(err, daemon.ErrAlreadyRunning):
		return withCode(exitError, err)
	case err != nil:
		return withCode(exitError, err)
	}
	return nil
}

// spawnDaemon starts `apphostd up --daemon-child` in its own session and
// returns once its socket answers, or with the daemon's own error output if
// it exits first.
func spawnDaemon(p project.Project, o upOptions) (int, error) {
	if err := p.EnsureStateDir(); err != nil {
		return 0, err
	}
	exe, err := os.Executable()
	if err != nil {
		return 0, err
	}
	outPath := filepath.Join(p.StateDir(), "daemon.out")
	out, err := os.OpenFile(outPath, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return 0, err
	}
	defer out.Close()
	args := []string{"up", "--daemon-child", "-f", p.File, "--stop-grace", o.grace.String()}
	if o.debug {
		args = append(args, "--debug")
	}
	for _, pr := range o.profiles {
		args = append(args, "--profile", pr)
	}
	if len(o.names) > 0 {
		args = append(append(args, "--"), o.names...)
	}
	cmd := exec.Command(exe, args...)
	cmd.Dir = p.Dir
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("start daemon: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	c := api.Dial(p.Socket())
	defer c.Close()
	deadline := time.After(60 * time.Second)
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-exited:
			b, _ := os.ReadFile(outPath)
			msg := strings.TrimSpace(string(b))
			if msg == "" {
				msg = "see " + p.DaemonLog()
			}
			return 0, fmt.Errorf("the daemon exited during startup:\n%s", msg)
		case <-deadline:
			return cmd.Process.Pid, fmt.Errorf("the daemon (pid %d) did not answer on %s within 60s; see %s", cmd.Process.Pid, p.Socket(), p.DaemonLog())
		case <-tick.C:
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			_, err := c.Info(ctx)
			cancel()
			if err == nil {
				return cmd.Process.Pid, nil
			}
		}
	}
}

// announceReady prints, in the foreground, one line when every autostart
// resource is ready (again after a change), with the endpoints to open.
func announceReady(store *status.Store, w io.Writer, color bool) {
	snap, _, ch, cancel := store.Subscribe(1024)
	defer cancel()
	res := make(map[string]status.Resource, len(snap))
	for _, r := range snap {
		res[r.Name] = r
	}
	announced := false
	for e := range ch {
		if e.Resource == nil {
			continue
		}
		if e.Type == status.EventRemoved {
			delete(res, e.Resource.Name)
		} else {
			res[e.Resource.Name] = *e.Resource
		}
		ready, n := true, 0
		var eps []string
		for _, r := range res {
			if !r.Autostart {
				continue
			}
			n++
			if !r.Ready() {
				ready = false
				break
			}
			for _, ep := range r.Endpoints {
				if ep.Replica == 0 && strings.HasPrefix(ep.URL, "http") {
					eps = append(eps, fmt.Sprintf("%s %s", r.Name, ep.URL))
				}
			}
		}
		if ready && n > 0 && !announced {
			sort.Strings(eps)
			msg := fmt.Sprintf("apphostd: all %d resources ready", n)
			if len(eps) > 0 {
				msg += " — " + strings.Join(eps, ", ")
			}
			if color {
				msg = "\x1b[1m" + msg + "\x1b[0m"
			}
			fmt.Fprintln(w, msg)
		}
		announced = ready
	}
}
