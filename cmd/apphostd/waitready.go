package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/apphostd/apphostd/pkg/api"
	"github.com/apphostd/apphostd/pkg/model"
	"github.com/apphostd/apphostd/pkg/status"
)

// waitOptions configure waitFor and waitReady. The zero value waits for
// every autostart resource to be ready, for 5 minutes, printing progress
// to stderr.
type waitOptions struct {
	names   []string // nil: every autostart resource
	timeout time.Duration
	jsonOut bool
	forWhat string // "healthy" (default), "running", "completed"
	// out gets progress and diagnoses (default stderr); stdout gets the
	// --json summary (default stdout).
	out, stdout io.Writer
	// logLines is how many of a failed resource's last lines to show.
	logLines int
	// output is the --output flag: "", "text" or "github".
	output string
	// start is when the caller began (zero: now); times to ready count
	// from it, so `run` includes starting the daemon.
	start time.Time
	// title names the command in GitHub groups and the job summary.
	title string
}

// errWaitFailed and errWaitTimeout distinguish the two ways waiting ends
// badly; the returned errors carry exit codes 5 and 4. errInterrupted
// means the caller's context ended (a signal): the caller decides.
var (
	errWaitFailed  = errors.New("a resource failed")
	errWaitTimeout = errors.New("timed out")
	errInterrupted = errors.New("interrupted")
)

// waitResult is what waitFor saw, for summaries.
type waitResult struct {
	start, end time.Time
	res        map[string]status.Resource
	targets    []string
	failed     []string // targets that failed
	pending    []string // targets not ready when the time ran out
	logs       map[string][]string
	err        error
}

// bringupSummary is the --json summary of up --wait and wait, and the
// bring-up part of run's.
type bringupSummary struct {
	OK             bool           `json:"ok"`
	Error          string         `json:"error,omitempty"`
	ElapsedSeconds float64        `json:"elapsed_seconds"`
	Failed         []string       `json:"failed,omitempty"`
	Pending        []string       `json:"pending,omitempty"`
	Resources      []readySummary `json:"resources"`
}

// readySummary is one resource in a summary. ready_seconds counts from the
// resource's own start, ready_after_seconds from the command's start (0
// when it was ready already).
type readySummary struct {
	Name              string    `json:"name"`
	Kind              string    `json:"kind"`
	State             string    `json:"state"`
	Health            string    `json:"health,omitempty"`
	Reason            string    `json:"reason,omitempty"`
	Waited            bool      `json:"waited"`
	ReadySeconds      *float64  `json:"ready_seconds,omitempty"`
	ReadyAfterSeconds *float64  `json:"ready_after_seconds,omitempty"`
	StartedAt         time.Time `json:"started_at,omitzero"`
	ReadyAt           time.Time `json:"ready_at,omitzero"`
	Restarts          int       `json:"restarts"`
	ExitCode          *int      `json:"exit_code,omitempty"`
	LastError         string    `json:"last_error,omitempty"`
	Endpoints         []string  `json:"endpoints,omitempty"`
	// PIDs are the instances' process IDs (each leads its process group).
	PIDs []int `json:"pids,omitempty"`
	// Log is the last lines of a resource that failed or was not ready.
	Log []string `json:"log,omitempty"`
}

func (o waitOptions) satisfied(r status.Resource) bool {
	switch o.forWhat {
	case "running":
		return r.State == status.Running || r.State == status.Finished
	case "completed":
		return r.State == status.Finished
	}
	return r.Ready()
}

// readyWord is what the final line calls a satisfied target.
func (o waitOptions) readyWord() string {
	switch o.forWhat {
	case "running":
		return "running"
	case "completed":
		return "completed"
	}
	return "ready"
}

func (o waitOptions) withDefaults() waitOptions {
	if o.out == nil {
		o.out = os.Stderr
	}
	if o.stdout == nil {
		o.stdout = os.Stdout
	}
	if o.logLines == 0 {
		o.logLines = 50
	}
	if o.timeout <= 0 {
		o.timeout = 5 * time.Minute
	}
	if o.start.IsZero() {
		o.start = time.Now()
	}
	if o.title == "" {
		o.title = "apphostd"
	}
	return o
}

// waitReady waits as waitFor does, then prints the --json summary (to
// o.stdout) and, under GitHub Actions, appends it to the job summary.
func waitReady(ctx context.Context, c *api.Client, o waitOptions) error {
	o = o.withDefaults()
	format, err := parseOutput(o.output, os.Getenv)
	if err != nil {
		return err
	}
	wr, err := waitFor(ctx, c, o)
	if wr.res == nil {
		return err // nothing was seen: no daemon, bad name
	}
	s := wr.summary(o)
	if o.jsonOut {
		enc := json.NewEncoder(o.stdout)
		enc.SetIndent("", "  ")
		if jerr := enc.Encode(s); jerr != nil && err == nil {
			err = withCode(exitError, fmt.Errorf("write summary: %w", jerr))
		}
	}
	if format == outputGitHub {
		appendStepSummary(os.Getenv, summaryMarkdown(o.title, s))
	}
	return err
}

// waitFor follows the daemon's event stream until the targets are
// satisfied, one fails, or the timeout passes, printing progress on the
// way and, for a failure or timeout, each culprit's state, reason and last
// log lines. The error carries the exit code (4 timeout, 5 failed, 3 no
// daemon); errInterrupted means ctx ended.
func waitFor(ctx context.Context, c *api.Client, o waitOptions) (waitResult, error) {
	o = o.withDefaults()
	format, err := parseOutput(o.output, os.Getenv)
	if err != nil {
		return waitResult{}, err
	}
	if ctx == nil {
		ctx = context.Background()
	}
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	rep := newReporter(o.out, format, o.start)
	wr := waitResult{start: o.start, logs: map[string][]string{}}

	// The list first: it names every target, so a partial event snapshot
	// can never look like "all ready". The daemon fills its store before
	// it listens, so the list is complete.
	initial, err := c.Resources(ctx)
	if err != nil {
		if api.IsNoDaemon(err) {
			return wr, withCode(exitNoDaemon, err)
		}
		if parent.Err() != nil {
			return wr, errInterrupted
		}
		return wr, withCode(exitError, err)
	}
	res := map[string]status.Resource{}
	for _, r := range initial {
		res[r.Name] = r
	}
	for _, n := range o.names {
		if _, ok := res[n]; !ok {
			return wr, withCode(exitError, fmt.Errorf("no resource named %q", n))
		}
	}
	wr.res = res
	wr.targets = o.targets(res)
	isTarget := map[string]bool{}
	for _, n := range wr.targets {
		isTarget[n] = true
	}
	finish := func() {
		wr.end = time.Now()
		rep.end()
	}
	if len(wr.targets) == 0 {
		finish()
		rep.note("no autostart resources to wait for")
		return wr, nil
	}
	rep.begin(fmt.Sprintf("%s: waiting for %d resources to be %s", o.title, len(wr.targets), o.readyWord()))

	// evalNow reports whether every target is satisfied, and which failed.
	evalNow := func() (all bool, failed []string) {
		all = true
		for _, n := range wr.targets {
			r, ok := res[n]
			if !ok || !o.satisfied(r) {
				all = false
			}
			if ok && r.Failed() && !o.satisfied(r) {
				failed = append(failed, n)
			}
		}
		return all && len(failed) == 0, failed
	}
	shown := map[string]string{}
	for _, n := range wr.targets {
		progress(rep, o, res[n], shown)
	}
	done := make(chan error, 1)
	go func() {
		done <- c.Events(ctx, func(e status.Event) error {
			switch e.Type {
			case status.EventResource:
				res[e.Resource.Name] = *e.Resource
				if isTarget[e.Resource.Name] {
					progress(rep, o, *e.Resource, shown)
				}
			case status.EventRemoved:
				delete(res, e.Resource.Name)
			}
			ok, failed := evalNow()
			if len(failed) > 0 {
				wr.failed = failed
				return errWaitFailed
			}
			if ok {
				return io.EOF
			}
			return nil
		})
	}()
	err = <-done
	finish()
	switch {
	case errors.Is(err, io.EOF):
		rep.note(fmt.Sprintf("all %d resources %s in %.2fs", len(wr.targets), o.readyWord(), wr.end.Sub(o.start).Seconds()))
		return wr, nil
	case errors.Is(err, errWaitFailed):
		var msgs []string
		for _, n := range wr.failed {
			r := res[n]
			wr.logs[n] = diagnose(c, o, rep, r, "failed")
			msgs = append(msgs, r.Name+" is "+failureText(r))
		}
		wr.err = withCode(exitUnhealthy, fmt.Errorf("%w: %s", errWaitFailed, strings.Join(msgs, "; ")))
		return wr, wr.err
	case parent.Err() != nil:
		wr.err = errInterrupted
		return wr, errInterrupted
	case ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded):
		for _, n := range wr.targets {
			r, ok := res[n]
			if !ok {
				r = status.Resource{Name: n, State: status.Unknown, Reason: "removed from the graph"}
			}
			if !ok || !o.satisfied(r) {
				wr.pending = append(wr.pending, n)
				wr.logs[n] = diagnose(c, o, rep, r, fmt.Sprintf("not %s after %s", o.readyWord(), o.timeout))
			}
		}
		wr.err = withCode(exitTimeout, fmt.Errorf("%w after %s: not %s: %s", errWaitTimeout, o.timeout, o.readyWord(), strings.Join(wr.pending, ", ")))
		return wr, wr.err
	case api.IsNoDaemon(err) || errors.Is(err, api.ErrStreamEnded):
		wr.err = withCode(exitNoDaemon, fmt.Errorf("the daemon went away while waiting: %v", err))
		return wr, wr.err
	default:
		wr.err = withCode(exitError, fmt.Errorf("waiting: %w", err))
		return wr, wr.err
	}
}

// targets lists the resources waited on: the named ones, or every
// autostart resource.
func (o waitOptions) targets(res map[string]status.Resource) []string {
	if len(o.names) > 0 {
		return o.names
	}
	var out []string
	for n, r := range res {
		if r.Autostart {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

// progress prints a target's state when it changes.
func progress(rep *reporter, o waitOptions, r status.Resource, shown map[string]string) {
	if (r.BaseKind == model.KindVolume || r.BaseKind == model.KindParameter) && r.State == status.Running {
		return
	}
	text := stateText(r.State, r.ExitCode)
	if r.State == status.Running && r.Health != status.HealthNotProbed {
		text += " (" + string(r.Health) + ")"
	}
	if r.Reason != "" {
		text += " — " + r.Reason
	}
	kind := markPending
	switch {
	case o.satisfied(r):
		kind = markReady
		if eps := endpointsText(r.Endpoints, -1); eps != "-" {
			text += " " + eps
		}
	case r.Failed():
		kind = markFailed
	}
	if shown[r.Name] == text {
		return
	}
	shown[r.Name] = text
	rep.line(kind, r.Name, text)
}

// diagnose prints why a resource is not ready, with its last log lines,
// annotates it for GitHub, and returns the lines.
func diagnose(c *api.Client, o waitOptions, rep *reporter, r status.Resource, what string) []string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s", r.Name, stateText(r.State, r.ExitCode))
	if r.Health != "" && r.State == status.Running {
		fmt.Fprintf(&b, " (%s)", r.Health)
	}
	b.WriteString("\n")
	if r.Reason != "" {
		fmt.Fprintf(&b, "  reason: %s\n", r.Reason)
	}
	if r.LastError != "" && r.LastError != r.Reason {
		fmt.Fprintf(&b, "  last error: %s\n", r.LastError)
	}
	if r.ExitCode != nil {
		fmt.Fprintf(&b, "  exit code: %d\n", *r.ExitCode)
	}
	lines := settledLogs(c, r.Name, o.logLines)
	if len(lines) > 0 {
		fmt.Fprintf(&b, "  last %d log lines:\n", len(lines))
		for _, l := range lines {
			fmt.Fprintf(&b, "    %s\n", l)
		}
	} else {
		b.WriteString("  (no log output)\n")
	}
	text := b.String()
	fmt.Fprint(o.out, "\n"+text)
	rep.annotate(fmt.Sprintf("apphostd: %s %s", r.Name, what), strings.TrimRight(text, "\n"))
	return lines
}

// settledLogs returns the last n lines of a resource's output. The daemon
// tails output files, so the last lines of a process that just died may
// not have reached it yet: fetch until two reads 100ms apart agree (and
// are not empty), for at most a second.
func settledLogs(c *api.Client, name string, n int) []string {
	if name == "" {
		return nil
	}
	fetch := func() []string {
		// The wait's own context may be spent (timeout): logs get their own.
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		var lines []string
		_ = c.Logs(ctx, api.LogQuery{Resources: []string{name}, Tail: n}, func(l api.LogLine) error {
			lines = append(lines, l.Text)
			return nil
		})
		return lines
	}
	lines := fetch()
	for range 10 {
		time.Sleep(100 * time.Millisecond)
		again := fetch()
		if len(again) > 0 && slices.Equal(again, lines) {
			break
		}
		lines = again
	}
	return lines
}

// summary renders what waitFor saw as the --json summary.
func (wr waitResult) summary(o waitOptions) bringupSummary {
	s := bringupSummary{OK: wr.err == nil, Failed: wr.failed, Pending: wr.pending, Resources: []readySummary{}}
	end := wr.end
	if end.IsZero() {
		end = time.Now()
	}
	s.ElapsedSeconds = end.Sub(wr.start).Seconds()
	if wr.err != nil {
		s.Error = wr.err.Error()
	}
	waited := map[string]bool{}
	for _, n := range wr.targets {
		waited[n] = true
	}
	names := make([]string, 0, len(wr.res))
	for n := range wr.res {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		r := wr.res[n]
		rs := readySummary{Name: n, Kind: r.Kind, State: string(r.State), Health: string(r.Health), Reason: r.Reason,
			Waited: waited[n], StartedAt: r.StartedAt, Restarts: r.Restarts, ExitCode: r.ExitCode, LastError: r.LastError, Log: wr.logs[n]}
		if o.satisfied(r) && !r.ReadyAt.IsZero() {
			rs.ReadyAt = r.ReadyAt
			if !r.StartedAt.IsZero() {
				v := r.ReadyAt.Sub(r.StartedAt).Seconds()
				rs.ReadySeconds = &v
			}
			v := max(r.ReadyAt.Sub(wr.start).Seconds(), 0)
			rs.ReadyAfterSeconds = &v
		}
		for _, e := range r.Endpoints {
			rs.Endpoints = append(rs.Endpoints, e.URL)
		}
		for _, in := range r.Instances {
			if in.PID > 0 {
				rs.PIDs = append(rs.PIDs, in.PID)
			}
		}
		s.Resources = append(s.Resources, rs)
	}
	return s
}

// printStatusSummary prints one line per resource (for `up -d` when a
// daemon already runs).
func printStatusSummary(ctx context.Context, c *api.Client) error {
	if ctx == nil {
		ctx = context.Background()
	}
	rs, err := c.Resources(ctx)
	if err != nil {
		return withCode(exitNoDaemon, err)
	}
	for _, r := range rs {
		fmt.Fprintf(os.Stderr, "  %-16s %s\n", r.Name, r.State)
	}
	return nil
}
