package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/apphostd/apphostd/pkg/project"
	"github.com/apphostd/apphostd/pkg/runtime/containerd"
)

func init() { register(newImageCmd) }

func newImageCmd() *cobra.Command {
	img := &cobra.Command{Use: "image", Short: "Manage container images in apphostd's containerd namespace"}
	img.AddCommand(&cobra.Command{
		Use:   "import FILE.tar",
		Short: "Import an OCI or docker image archive (works offline)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := os.Open(args[0])
			if err != nil {
				return withCode(exitError, err)
			}
			defer f.Close()
			p, perr := project.LocateDir(projectFlag(cmd), "")
			if perr != nil {
				p = project.Project{Dir: "."}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			defer cancel()
			d, err := containerd.New(ctx, containerdOptions(p, zap.NewNop()))
			if err != nil {
				return withCode(exitError, err)
			}
			defer d.Close()
			names, err := d.ImportArchive(ctx, f)
			if err != nil {
				return withCode(exitError, fmt.Errorf("import %s: %w", args[0], err))
			}
			for _, n := range names {
				fmt.Println(n)
			}
			return nil
		},
	})
	return img
}
