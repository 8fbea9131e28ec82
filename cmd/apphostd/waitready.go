package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/apphostd/apphostd/pkg/api"
	"github.com/apphostd/apphostd/pkg/model"
	"github.com/apphostd/apphostd/pkg/status"
)

// waitOptions configure waitReady.
type waitOptions struct {
	names   []string // nil: every autostart resource
	timeout time.Duration
	jsonOut bool
	forWhat string // "healthy" (default), "running", "completed"
	out     io.Writer
	// logLines is how many of a failed resource's last lines to show.
	logLines int
}

// errWaitFailed and errWaitTimeout distinguish the two ways waiting ends
// badly; the returned errors carry exit codes 5 and 4.
var (
	errWaitFailed  = errors.New("a resource failed")
	errWaitTimeout = errors.New("timed out")
)

// readySummary is one resource in the --json summary.
type readySummary struct {
	Name         string   `json:"name"`
	Kind         string   `json:"kind"`
	State        string   `json:"state"`
	Health       string   `json:"health,omitempty"`
	Reason       string   `json:"reason,omitempty"`
	ReadySeconds *float64 `json:"ready_seconds,omitempty"`
	Endpoints    []string `json:"endpoints,omitempty"`
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

// waitReady follows the daemon's event stream until the targets are ready,
// one fails, or the timeout passes; it prints progress on the way.
func waitReady(ctx context.Context, c *api.Client, o waitOptions) error {
	if o.out == nil {
		o.out = os.Stderr
	}
	if o.logLines == 0 {
		o.logLines = 20
	}
	if o.timeout <= 0 {
		o.timeout = 5 * time.Minute
	}
	if ctx == nil {
		ctx = context.Background()
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()

	res := map[string]status.Resource{}
	shown := map[string]string{}
	pretty := interactive(os.Stderr) && !o.jsonOut
	type outcome struct {
		err  error
		name string
	}
	done := make(chan outcome, 1)
	evalNow := func() (ok bool, failed []string) {
		if len(res) == 0 {
			return false, nil
		}
		targets := o.targets(res)
		all := true
		for _, n := range targets {
			r, ok := res[n]
			if !ok {
				all = false
				continue
			}
			if r.Failed() && !o.satisfied(r) {
				failed = append(failed, n)
			}
			if !o.satisfied(r) {
				all = false
			}
		}
		return all && len(failed) == 0, failed
	}
	// The list first: it names every target, so a partial event snapshot
	// can never look like "all ready".
	initial, err := c.Resources(ctx)
	if err != nil {
		if api.IsNoDaemon(err) {
			return withCode(exitNoDaemon, err)
		}
		return withCode(exitError, err)
	}
	for _, r := range initial {
		res[r.Name] = r
	}
	if len(o.names) > 0 {
		for _, n := range o.names {
			if _, ok := res[n]; !ok {
				return withCode(exitError, fmt.Errorf("no resource named %q", n))
			}
		}
	} else {
		o.names = o.targets(res)
	}
	go func() {
		err := c.Events(ctx, func(e status.Event) error {
			switch e.Type {
			case status.EventResource:
				res[e.Resource.Name] = *e.Resource
				if !o.jsonOut {
					progress(o, start, *e.Resource, shown, pretty)
				}
			case status.EventRemoved:
				delete(res, e.Resource.Name)
			}
			ok, failed := evalNow()
			if len(failed) > 0 {
				return fmt.Errorf("%w: %s", errWaitFailed, strings.Join(failed, ","))
			}
			if ok {
				return io.EOF
			}
			return nil
		})
		var name string
		if errors.Is(err, errWaitFailed) {
			name = strings.TrimPrefix(err.Error(), errWaitFailed.Error()+": ")
		}
		done <- outcome{err: err, name: name}
	}()
	out := <-done
	switch {
	case errors.Is(out.err, io.EOF):
		if o.jsonOut {
			return writeSummary(os.Stdout, res, start, true)
		}
		fmt.Fprintf(o.out, "%s all %d resources ready in %.2fs\n", stamp(start), len(o.targets(res)), time.Since(start).Seconds())
		return nil
	case errors.Is(out.err, errWaitFailed):
		var msgs []string
		for _, n := range strings.Split(out.name, ",") {
			r := res[n]
			diagnose(ctx, c, o, r)
			msgs = append(msgs, fmt.Sprintf("%s is %s: %s", r.Name, r.State, nonEmptyStr(r.Reason, r.LastError)))
		}
		if o.jsonOut {
			_ = writeSummary(os.Stdout, res, start, false)
		}
		return withCode(exitUnhealthy, errors.New(strings.Join(msgs, "; ")))
	case ctx.Err() != nil || errors.Is(out.err, context.DeadlineExceeded):
		var pending []string
		for _, n := range o.targets(res) {
			r := res[n]
			if !o.satisfied(r) {
				pending = append(pending, n)
				diagnose(context.Background(), c, o, r)
			}
		}
		if o.jsonOut {
			_ = writeSummary(os.Stdout, res, start, false)
		}
		return withCode(exitTimeout, fmt.Errorf("%w after %s: not ready: %s", errWaitTimeout, o.timeout, strings.Join(pending, ", ")))
	case api.IsNoDaemon(out.err):
		return withCode(exitNoDaemon, fmt.Errorf("the daemon went away while waiting: %v", out.err))
	default:
		return withCode(exitError, fmt.Errorf("waiting: %w", out.err))
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

func stamp(start time.Time) string {
	return fmt.Sprintf("[%6.2fs]", time.Since(start).Seconds())
}

// progress prints a resource's state when it changes.
func progress(o waitOptions, start time.Time, r status.Resource, shown map[string]string, pretty bool) {
	if r.BaseKind == model.KindVolume || r.BaseKind == model.KindParameter {
		if r.State == status.Running {
			return
		}
	}
	line := string(r.State)
	if r.State == status.Running && r.Health != status.HealthNotProbed {
		line += " (" + string(r.Health) + ")"
	}
	if r.Reason != "" {
		line += " — " + r.Reason
	}
	if shown[r.Name] == line {
		return
	}
	shown[r.Name] = line
	mark := " "
	if o.satisfied(r) {
		mark = "✔"
		if !pretty {
			mark = "ok"
		}
	}
	fmt.Fprintf(o.out, "%s %s %-16s %s\n", stamp(start), mark, r.Name, line)
}

// diagnose prints why a resource is not ready and its last log lines.
func diagnose(ctx context.Context, c *api.Client, o waitOptions, r status.Resource) {
	w := o.out
	if o.jsonOut {
		w = os.Stderr
	}
	fmt.Fprintf(w, "\n%s: %s", r.Name, r.State)
	if r.Health != "" && r.State == status.Running {
		fmt.Fprintf(w, " (%s)", r.Health)
	}
	fmt.Fprintln(w)
	if r.Reason != "" {
		fmt.Fprintf(w, "  reason: %s\n", r.Reason)
	}
	if r.LastError != "" && r.LastError != r.Reason {
		fmt.Fprintf(w, "  last error: %s\n", r.LastError)
	}
	if r.ExitCode != nil {
		fmt.Fprintf(w, "  exit code: %d\n", *r.ExitCode)
	}
	lctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	var lines []api.LogLine
	_ = c.Logs(lctx, api.LogQuery{Resources: []string{r.Name}, Tail: o.logLines}, func(l api.LogLine) error {
		lines = append(lines, l)
		return nil
	})
	if len(lines) > 0 {
		fmt.Fprintf(w, "  last %d log lines:\n", len(lines))
		for _, l := range lines {
			fmt.Fprintf(w, "    %s\n", l.Text)
		}
	}
}

func writeSummary(w io.Writer, res map[string]status.Resource, start time.Time, ok bool) error {
	var out []readySummary
	names := make([]string, 0, len(res))
	for n := range res {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		r := res[n]
		s := readySummary{Name: n, Kind: r.Kind, State: string(r.State), Health: string(r.Health), Reason: r.Reason}
		if !r.ReadyAt.IsZero() && !r.StartedAt.IsZero() {
			v := r.ReadyAt.Sub(r.StartedAt).Seconds()
			s.ReadySeconds = &v
		}
		for _, e := range r.Endpoints {
			s.Endpoints = append(s.Endpoints, e.URL)
		}
		out = append(out, s)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(map[string]any{"ok": ok, "elapsed_seconds": time.Since(start).Seconds(), "resources": out})
}

func nonEmptyStr(a, b string) string {
	if a != "" {
		return a
	}
	return b
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
