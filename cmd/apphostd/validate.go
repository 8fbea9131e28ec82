package main

import (
	"fmt"
	"os"

	"github.com/apphostd/apphostd/pkg/model"
	"github.com/hashicorp/hcl/v2"
	"github.com/spf13/cobra"
)

func init() { register(newValidateCmd) }

func newValidateCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "validate",
		Short: "Compile the project file and report every error with file:line:col",
		Long: `validate compiles apphost.hcl (or apphost.yaml) without running anything.
It prints every diagnostic with a source snippet and exits 1 if there are
errors; on success it prints "FILE: ok (N resources)".`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			path, err := modelProjectFile(cmd)
			if err != nil {
				return withCode(exitUsage, err)
			}
			g, src, diags := model.LoadFile(path)
			if len(diags) > 0 {
				stderr := cmd.ErrOrStderr()
				if err := model.WriteDiagnostics(stderr, path, src, diags, isTerminal(stderr)); err != nil {
					return fmt.Errorf("write diagnostics: %w", err)
				}
			}
			if diags.HasErrors() {
				return withCode(exitError, fmt.Errorf("%s: %s", path, countErrors(diags)))
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: ok (%d resources)\n", path, len(g.Resources))
			return nil
		},
	}
}

// modelProjectFile resolves the project file: the -f flag, else
// apphost.hcl / apphost.yaml / apphost.yml in the current directory.
func modelProjectFile(cmd *cobra.Command) (string, error) {
	if f, _ := cmd.Flags().GetString("file"); f != "" {
		return f, nil
	}
	cwd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find project file: %w", err)
	}
	return model.FindProjectFile(cwd)
}

func countErrors(diags hcl.Diagnostics) string {
	n := 0
	for _, d := range diags {
		if d.Severity == hcl.DiagError {
			n++
		}
	}
	if n == 1 {
		return "1 error"
	}
	return fmt.Sprintf("%d errors", n)
}

// isTerminal reports whether w is a character device (a TTY), where colour
// is welcome.
func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
