package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"
)

func init() { register(newWaitCmd) }

func newWaitCmd() *cobra.Command {
	var (
		forWhat string
		timeout time.Duration
		jsonOut bool
		output  string
	)
	cmd := &cobra.Command{
		Use:   "wait [NAME...]",
		Short: "Block until resources are ready (healthy, running or completed)",
		Long: `Block until the named resources (every autostart resource if none are named)
reach the state asked for with --for:

  healthy    Running and Healthy (Running if no health check is declared), or Finished
  running    Running or Finished, healthy or not
  completed  Finished: exited with code 0 (a job, a migration)

Progress goes to stderr. If a resource fails on the way (FailedToStart, Exited
non-zero, RuntimeUnhealthy), wait prints its state, reason and last log lines
and exits 5; if --timeout passes first, it does the same for every resource
not yet there and exits 4. The daemon keeps converging either way.

Exit codes: 0 ready, 1 unknown resource, 2 bad flag, 3 no daemon, 4 timeout,
5 a resource failed.`,
		Args: usageArgs(cobra.ArbitraryArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			switch forWhat {
			case "healthy", "running", "completed":
			default:
				return withCode(exitUsage, fmt.Errorf("--for %q: want healthy, running or completed", forWhat))
			}
			if timeout <= 0 {
				return withCode(exitUsage, fmt.Errorf("--timeout must be positive, got %s", timeout))
			}
			c, p, err := dialProject(cmd)
			if err != nil {
				return err
			}
			defer c.Close()
			err = waitReady(cmd.Context(), c, waitOptions{
				names:   args,
				timeout: timeout,
				jsonOut: jsonOut,
				forWhat: forWhat,
				out:     cmd.ErrOrStderr(),
				stdout:  cmd.OutOrStdout(),
				output:  output,
				title:   "apphostd wait",
			})
			return daemonErr(p, err)
		},
	}
	f := cmd.Flags()
	f.StringVar(&forWhat, "for", "healthy", "target state: healthy, running or completed")
	f.DurationVar(&timeout, "timeout", 5*time.Minute, "give up (exit 4) after this long")
	f.BoolVar(&jsonOut, "json", false, "print a JSON summary of the resources on stdout")
	f.StringVar(&output, "output", "", outputFlagHelp)
	return thinClient(cmd)
}
