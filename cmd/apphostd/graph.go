package main

import (
	"bufio"
	"fmt"

	"github.com/apphostd/apphostd/pkg/model"
	"github.com/spf13/cobra"
)

func init() { register(newGraphCmd) }

func newGraphCmd() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "graph",
		Short: "Print the compiled resource graph (dot, mermaid or json)",
		Long: `graph compiles the project file and prints its resource graph: Graphviz
DOT (default; pipe into "dot -Tsvg"), a Mermaid flowchart, or the
deterministic JSON form. Edges point from a resource to what it depends on.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			path, err := modelProjectFile(cmd)
			if err != nil {
				return withCode(exitUsage, err)
			}
			var write func(*bufio.Writer, *model.Graph) error
			switch format {
			case "dot":
				write = func(w *bufio.Writer, g *model.Graph) error { return model.WriteDOT(w, g) }
			case "mermaid":
				write = func(w *bufio.Writer, g *model.Graph) error { return model.WriteMermaid(w, g) }
			case "json":
				write = func(w *bufio.Writer, g *model.Graph) error {
					b, err := model.MarshalGraphJSON(g)
					if err != nil {
						return err
					}
					_, err = w.Write(b)
					return err
				}
			default:
				return withCode(exitUsage, fmt.Errorf("unknown --format %q: use dot, mermaid or json", format))
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
			w := bufio.NewWriter(cmd.OutOrStdout())
			if err := write(w, g); err != nil {
				return fmt.Errorf("write graph: %w", err)
			}
			return w.Flush()
		},
	}
	cmd.Flags().StringVar(&format, "format", "dot", "output format: dot, mermaid or json")
	return cmd
}
