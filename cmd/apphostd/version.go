package main

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"time"

	"github.com/apphostd/apphostd/pkg/api"
	"github.com/apphostd/apphostd/pkg/project"
	"github.com/spf13/cobra"
)

// version is set at build time:
//
//	go build -ldflags "-X main.version=1.2.3" ./cmd/apphostd
var version = "dev"

func init() { register(newVersionCmd) }

func newVersionCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the version, and the running daemon's if there is one",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "apphostd %s (%s %s/%s)\n", fullVersion(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
			// The daemon part is best effort: version works anywhere.
			file, _ := cmd.Flags().GetString("file")
			p, err := project.LocateDir(file, "")
			if err != nil || p.Dir == "" {
				return nil
			}
			c := api.Dial(p.Socket())
			defer c.Close()
			ctx, cancel := context.WithTimeout(cmd.Context(), time.Second)
			defer cancel()
			if info, err := c.Info(ctx); err == nil {
				writeDaemonInfo(out, info, time.Now())
			}
			return nil
		},
	}
	return thinClient(cmd)
}

// fullVersion is version, with the VCS revision when built from a checkout
// without -ldflags.
func fullVersion() string {
	if version != "dev" {
		return version
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return version
	}
	var rev, dirty string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "+dirty"
			}
		}
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if rev == "" {
		return version
	}
	return version + " (" + rev + dirty + ")"
}

func writeDaemonInfo(w io.Writer, info api.Info, now time.Time) {
	fmt.Fprintf(w, "daemon   %s (pid %d, up %s) for %s\n", info.Version, info.PID, age(info.StartedAt, now), info.Project)
}
