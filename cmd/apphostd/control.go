package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/apphostd/apphostd/pkg/api"
	"github.com/apphostd/apphostd/pkg/status"
	"github.com/spf13/cobra"
)

func init() {
	register(func() *cobra.Command {
		return newControlCmd("start", "Start a resource and wait until it runs", (*api.Client).Start)
	})
	register(func() *cobra.Command {
		return newControlCmd("stop", "Stop a resource and wait until it has stopped", (*api.Client).Stop)
	})
	register(func() *cobra.Command {
		return newControlCmd("restart", "Restart a resource and wait until it runs again", (*api.Client).Restart)
	})
}

type controlFunc func(c *api.Client, ctx context.Context, name string, timeout time.Duration) (status.Resource, error)

// newControlCmd builds start, stop and restart: each acts on its NAMEs in
// order and stops at the first failure. The daemon enforces --timeout
// (exit 4 when it elapses); a resource that ends up failed after start or
// restart exits 5.
func newControlCmd(verb, short string, fn controlFunc) *cobra.Command {
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   verb + " NAME...",
		Short: short,
		Args:  usageArgs(cobra.MinimumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if timeout <= 0 {
				return withCode(exitUsage, fmt.Errorf("--timeout must be positive, got %s", timeout))
			}
			c, p, err := dialProject(cmd)
			if err != nil {
				return err
			}
			defer c.Close()
			for _, name := range args {
				r, err := fn(c, cmd.Context(), name, timeout)
				if err != nil {
					return daemonErr(p, err)
				}
				fmt.Fprintln(cmd.OutOrStdout(), controlLine(r))
				if verb != "stop" && r.Failed() {
					return withCode(exitUnhealthy, fmt.Errorf("%s %s: %s", verb, name, failureText(r)))
				}
			}
			return nil
		},
	}
	cmd.Flags().DurationVar(&timeout, "timeout", 60*time.Second, "give up (exit 4) if the target state is not reached in this time")
	return thinClient(cmd)
}

// controlLine is the one-line result: "api: Running, Healthy".
func controlLine(r status.Resource) string {
	s := r.Name + ": " + stateText(r.State, r.ExitCode)
	if r.Health != status.HealthNotProbed {
		s += ", " + string(r.Health)
	}
	return s
}

func failureText(r status.Resource) string {
	parts := []string{stateText(r.State, r.ExitCode)}
	if r.Reason != "" {
		parts = append(parts, r.Reason)
	}
	if r.LastError != "" {
		parts = append(parts, r.LastError)
	}
	return strings.Join(parts, ": ")
}
