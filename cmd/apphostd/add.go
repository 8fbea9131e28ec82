package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/apphostd/apphostd/pkg/fsutil"
	"github.com/apphostd/apphostd/pkg/integrations"
	"github.com/apphostd/apphostd/pkg/model"
)

func init() { register(newAddCmd) }

func newAddCmd() *cobra.Command {
	var opts integrations.AddOptions
	var kinds strings.Builder
	for _, k := range integrations.Kinds() {
		fmt.Fprintf(&kinds, "  %-9s %s\n", k, integrations.Summary(k))
	}
	cmd := &cobra.Command{
		Use:   "add KIND NAME",
		Short: "Add an integration (postgres, redis, ...) to the project file",
		Long: `add appends a KIND "NAME" block to apphost.hcl (in apphost.yaml, an entry
under the KIND: key), as "aspire add" does: one line gives a server with a
generated password, a data volume, a health check and a connection string.
It refuses a name that is already taken, and writes nothing unless the
result compiles. Without a project file it creates apphost.hcl. A running
daemon picks the change up like any edit.

Kinds:
` + kinds.String() + `
Examples:
  apphostd add postgres db --database appdata
  apphostd add redis cache --runtime executable
  apphostd add -f apphost.yaml kafka events

docs/integrations.md documents every kind and what it injects.`,
		Args: usageArgs(cobra.ExactArgs(2)),
		RunE: func(cmd *cobra.Command, args []string) error {
			path, err := addTarget(cmd)
			if err != nil {
				return withCode(exitUsage, err)
			}
			src, err := os.ReadFile(path)
			mode := fs.FileMode(0o644)
			switch {
			case errors.Is(err, fs.ErrNotExist):
				src = nil
			case err != nil:
				return fmt.Errorf("read %s: %w", path, err)
			default:
				if fi, err := os.Stat(path); err == nil {
					mode = fi.Mode().Perm()
				}
			}
			out, err := integrations.AppendBlock(path, src, args[0], args[1], opts)
			var de *integrations.DiagError
			if errors.As(err, &de) {
				stderr := cmd.ErrOrStderr()
				_ = model.WriteDiagnostics(stderr, de.Filename, de.Src, de.Diags, isTerminal(stderr))
				return withCode(exitError, err)
			}
			if err != nil {
				return withCode(exitUsage, err)
			}
			if err := writeKeepingMode(path, out, mode); err != nil {
				return fmt.Errorf("write %s: %w", path, err)
			}
			refs := strings.Join(integrations.References(args[0], args[1], opts.Databases), ", ")
			fmt.Fprintf(cmd.OutOrStdout(), "added %s %q to %s\nconsumers: references = [%s] (and wait_for, to start once it is ready)\n", args[0], args[1], path, refs)
			return nil
		},
	}
	cmd.Flags().StringVar(&opts.Runtime, "runtime", "", `"executable" runs the server from local binaries (postgres, redis); default: container`)
	cmd.Flags().StringArrayVar(&opts.Databases, "database", nil, "add a database NAME (postgres, mysql, mongodb); repeatable")
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return withCode(exitUsage, err) })
	return cmd
}

// addTarget is the -f file, else the project file in the current
// directory, else a new apphost.hcl there.
func addTarget(cmd *cobra.Command) (string, error) {
	path, err := modelProjectFile(cmd)
	if errors.Is(err, fs.ErrNotExist) {
		cwd, werr := os.Getwd()
		if werr != nil {
			return "", werr
		}
		return filepath.Join(cwd, model.ProjectFileNames[0]), nil
	}
	return path, err
}

// writeKeepingMode replaces path atomically (temp file and rename, as
// editors save, so a watching daemon sees one complete change) with the
// file's previous permissions.
func writeKeepingMode(path string, b []byte, mode fs.FileMode) error {
	return fsutil.WriteFileAtomicMode(path, b, mode)
}
