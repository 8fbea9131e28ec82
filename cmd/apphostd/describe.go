package main

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/apphostd/apphostd/pkg/status"
	"github.com/spf13/cobra"
)

func init() { register(newDescribeCmd) }

func newDescribeCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "describe NAME",
		Short: "Show one resource in detail: state, health, reason, endpoints, instances, env (secrets masked), dependencies, warnings",
		Args:  usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, p, err := dialProject(cmd)
			if err != nil {
				return err
			}
			defer c.Close()
			r, err := c.Resource(cmd.Context(), args[0])
			if err != nil {
				return daemonErr(p, err)
			}
			return writeDescribe(cmd.OutOrStdout(), r, time.Now())
		},
	}
	return thinClient(cmd)
}

// writeDescribe prints r for people. Env values arrive masked from the
// daemon and are printed as received; empty sections are left out.
func writeDescribe(w io.Writer, r status.Resource, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	field := func(k, v string) {
		if v != "" {
			fmt.Fprintf(tw, "%s:\t%s\n", k, v)
		}
	}
	field("Name", r.Name)
	kind := r.Kind
	if r.BaseKind != "" && r.BaseKind != r.Kind {
		kind += " (" + r.BaseKind + ")"
	}
	field("Kind", kind)
	field("State", stateText(r.State, r.ExitCode))
	field("Health", string(r.Health))
	field("Reason", r.Reason)
	if len(r.WaitingOn) > 0 {
		field("Waiting on", strings.Join(r.WaitingOn, ", "))
	}
	field("Autostart", strconv.FormatBool(r.Autostart))
	if len(r.Profiles) > 0 {
		field("Profiles", strings.Join(r.Profiles, ", "))
	}
	field("On dep. restart", r.OnDependencyRestart)
	field("Run", r.Run)
	if !r.StartedAt.IsZero() {
		field("Started", r.StartedAt.Local().Format(time.RFC3339)+" ("+age(r.StartedAt, now)+" ago)")
	}
	if !r.ReadyAt.IsZero() {
		field("Ready", r.ReadyAt.Local().Format(time.RFC3339))
	}
	field("Restarts", strconv.Itoa(r.Restarts))
	field("Last error", r.LastError)
	if len(r.DependsOn) > 0 {
		field("Depends on", strings.Join(r.DependsOn, ", "))
	}
	field("Spec hash", r.SpecHash)
	if err := tw.Flush(); err != nil {
		return err
	}

	if len(r.Endpoints) > 0 {
		fmt.Fprintln(w, "\nEndpoints:")
		tw = tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
		fmt.Fprintln(tw, "  NAME\tREPLICA\tURL\tPORT\tTARGET PORT")
		for _, e := range r.Endpoints {
			fmt.Fprintf(tw, "  %s\t%d\t%s\t%d\t%d\n", e.Name, e.Replica, dash(e.URL), e.Port, e.TargetPort)
		}
		tw.Flush()
	}
	if len(r.Instances) > 0 {
		fmt.Fprintln(w, "\nInstances:")
		tw = tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
		fmt.Fprintln(tw, "  ID\tREPLICA\tSTATE\tHEALTH\tPID\tRESTARTS\tAGE\tLAST ERROR")
		for _, in := range r.Instances {
			fmt.Fprintf(tw, "  %s\t%d\t%s\t%s\t%s\t%d\t%s\t%s\n", in.ID, in.Replica, stateText(in.State, in.ExitCode),
				dash(string(in.Health)), pidText(in.PID), in.Restarts, age(in.StartedAt, now), dash(oneLine(in.LastError)))
		}
		tw.Flush()
	}
	if len(r.Env) > 0 {
		fmt.Fprintln(w, "\nEnvironment (secrets masked):")
		keys := make([]string, 0, len(r.Env))
		for k := range r.Env {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(w, "  %s=%s\n", k, r.Env[k])
		}
	}
	if len(r.Warnings) > 0 {
		fmt.Fprintln(w, "\nWarnings:")
		for _, s := range r.Warnings {
			fmt.Fprintf(w, "  - %s\n", s)
		}
	}
	return nil
}

// oneLine keeps a multi-line error inside its table cell.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
