package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/apphostd/apphostd/pkg/api"
	"github.com/apphostd/apphostd/pkg/project"
	"github.com/apphostd/apphostd/pkg/runtime/containerd"
	"github.com/apphostd/apphostd/pkg/runtime/process"
)

func init() { register(newDoctorCmd) }

func newDoctorCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "doctor",
		Short: "Check what running containers needs on this machine, and say what to fix",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := project.LocateDir(projectFlag(cmd), "")
			if err != nil {
				p = project.Project{Dir: "."}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			bad := 0
			fmt.Printf("%-12s %-4s %s\n", "CHECK", "OK", "DETAIL")
			for _, f := range containerd.Doctor(ctx, containerdOptions(p, zap.NewNop())) {
				ok := "yes"
				if !f.OK {
					ok, bad = "NO", bad+1
				}
				fmt.Printf("%-12s %-4s %s\n", f.Name, ok, f.Detail)
				if !f.OK && f.Fix != "" {
					fmt.Printf("%-12s %-4s fix: %s\n", "", "", f.Fix)
				}
			}
			fmt.Printf("%-12s %-4s %s\n", "processes", "yes", isolationLine(cmd, p))
			if bad > 0 {
				fmt.Fprintf(os.Stderr, "%d problem(s): executables still run; containers need the fixes above\n", bad)
				return withCode(exitError, fmt.Errorf("doctor found %d problem(s)", bad))
			}
			return nil
		},
	}
}

// isolationLine says how executables are contained: the running daemon's
// mode if one answers, else what a daemon started here now would use
// (cgroups as root where a hierarchy is writable, else process groups).
func isolationLine(cmd *cobra.Command, p project.Project) string {
	if p.File != "" || p.Dir != "." {
		c := api.Dial(p.Socket())
		defer c.Close()
		ctx, cancel := context.WithTimeout(cmd.Context(), 2*time.Second)
		defer cancel()
		if info, err := c.Info(ctx); err == nil && info.Isolation != nil {
			return fmt.Sprintf("%s (the running daemon, pid %d): %s", info.Isolation.Mode, info.PID, info.Isolation.Detail)
		}
	}
	name := "apphostd-doctor-" + strconv.Itoa(os.Getpid()) // no project here: a probe
	if p.File != "" {
		name = "apphostd-" + p.ID()
	}
	iso := process.DetectIsolation(name)
	return fmt.Sprintf("%s (a daemon started here now): %s", iso.Mode, iso.Detail)
}
