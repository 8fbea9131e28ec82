package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/apphostd/apphostd/pkg/status"
	"github.com/spf13/cobra"
)

func init() { register(newPsCmd) }

func newPsCmd() *cobra.Command {
	var jsonOut bool
	cmd := &cobra.Command{
		Use:   "ps",
		Short: "List resources: state, health, pid, endpoints, restarts, age",
		Long: "List the project's resources. A resource with several replicas shows one row per\n" +
			"replica, named NAME[i]. --json prints the API's resource list unchanged.",
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, p, err := dialProject(cmd)
			if err != nil {
				return err
			}
			defer c.Close()
			rs, err := c.Resources(cmd.Context())
			if err != nil {
				return daemonErr(p, err)
			}
			out := cmd.OutOrStdout()
			if jsonOut {
				if rs == nil {
					rs = []status.Resource{} // an empty project is [], not null
				}
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(rs)
			}
			return writePsTable(out, rs, time.Now())
		},
	}
	cmd.Flags().BoolVar(&jsonOut, "json", false, "print JSON (the /v1/resources response)")
	return thinClient(cmd)
}

// psHeader is the table's column order.
var psHeader = []string{"NAME", "KIND", "STATE", "HEALTH", "PID", "ENDPOINTS", "RESTARTS", "AGE"}

// writePsTable prints rs as an aligned table; now fixes AGE for tests.
func writePsTable(w io.Writer, rs []status.Resource, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 8, 3, ' ', 0)
	fmt.Fprintln(tw, strings.Join(psHeader, "\t"))
	for _, row := range psRows(rs, now) {
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	return tw.Flush()
}

// psRows is one row per resource, or, for a resource with more than one
// instance, one row per instance named NAME[replica] with that replica's
// own state, pid, endpoints and restarts.
func psRows(rs []status.Resource, now time.Time) [][]string {
	var rows [][]string
	for _, r := range rs {
		if len(r.Instances) <= 1 {
			pid, started := 0, r.StartedAt
			if len(r.Instances) == 1 {
				pid = r.Instances[0].PID
				if started.IsZero() {
					started = r.Instances[0].StartedAt
				}
			}
			rows = append(rows, []string{
				r.Name, dash(r.Kind), stateText(r.State, r.ExitCode), dash(string(r.Health)),
				pidText(pid), endpointsText(r.Endpoints, -1), strconv.Itoa(r.Restarts), age(started, now),
			})
			continue
		}
		for _, in := range r.Instances {
			rows = append(rows, []string{
				fmt.Sprintf("%s[%d]", r.Name, in.Replica), dash(r.Kind), stateText(in.State, in.ExitCode), dash(string(in.Health)),
				pidText(in.PID), endpointsText(r.Endpoints, in.Replica), strconv.Itoa(in.Restarts), age(in.StartedAt, now),
			})
		}
	}
	return rows
}

// stateText adds the exit code to states that ended.
func stateText(s status.State, code *int) string {
	if code != nil && (s == status.Exited || s == status.BackOff || s == status.FailedToStart) {
		return fmt.Sprintf("%s (%d)", s, *code)
	}
	return dash(string(s))
}

func pidText(pid int) string {
	if pid <= 0 {
		return "-"
	}
	return strconv.Itoa(pid)
}

// endpointsText lists endpoint URLs; replica >= 0 keeps only that replica's.
func endpointsText(eps []status.Endpoint, replica int) string {
	var out []string
	for _, e := range eps {
		if replica >= 0 && e.Replica != replica {
			continue
		}
		if e.URL != "" {
			out = append(out, e.URL)
		} else if e.Port > 0 {
			out = append(out, e.Name+":"+strconv.Itoa(e.Port))
		}
	}
	if len(out) == 0 {
		return "-"
	}
	return strings.Join(out, ",")
}

// age is a short kubectl-style duration since t: 42s, 5m, 3h, 2d.
func age(t, now time.Time) string {
	if t.IsZero() {
		return "-"
	}
	d := now.Sub(t)
	switch {
	case d < 0:
		return "0s"
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d/time.Minute))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d/time.Hour))
	}
	return fmt.Sprintf("%dd", int(d/(24*time.Hour)))
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
