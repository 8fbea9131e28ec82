package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/apphostd/apphostd/pkg/api"
	"github.com/apphostd/apphostd/pkg/status"
	"github.com/spf13/cobra"
)

func init() { register(newReloadCmd) }

func newReloadCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "reload",
		Short: "Re-read the project file now; on errors print them and keep the running graph",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, p, err := dialProject(cmd)
			if err != nil {
				return err
			}
			defer c.Close()
			cs, err := c.Reload(cmd.Context())
			if errors.Is(err, api.ErrInvalidConfig) {
				writeDiagnostics(cmd.ErrOrStderr(), cs)
				return withCode(exitError, fmt.Errorf("%s has errors; the running graph is unchanged", dash(cs.File)))
			}
			if err != nil {
				return daemonErr(p, err)
			}
			writeDiagnostics(cmd.ErrOrStderr(), cs) // warnings, if any
			fmt.Fprintf(cmd.OutOrStdout(), "reloaded %s (generation %d)\n", cs.File, cs.Generation)
			return nil
		},
	}
	return thinClient(cmd)
}

// writeDiagnostics prints the daemon's rendered diagnostics (with source
// snippets), or, if it sent none, one file:line:col line per diagnostic.
func writeDiagnostics(w io.Writer, cs status.ConfigStatus) {
	if cs.Rendered != "" {
		fmt.Fprint(w, cs.Rendered)
		if cs.Rendered[len(cs.Rendered)-1] != '\n' {
			fmt.Fprintln(w)
		}
		return
	}
	for _, d := range cs.Diagnostics {
		loc := d.File
		if d.Line > 0 {
			loc = fmt.Sprintf("%s:%d:%d", d.File, d.Line, d.Column)
		}
		line := fmt.Sprintf("%s: %s: %s", loc, d.Severity, d.Summary)
		if d.Detail != "" {
			line += "; " + d.Detail
		}
		fmt.Fprintln(w, line)
	}
}
