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
			mode := "process groups (Setpgid); stop signals the group and sweeps what is left in it"
			fmt.Printf("%-12s %-4s %s\n", "processes", "yes", mode)
			if bad > 0 {
				fmt.Fprintf(os.Stderr, "%d problem(s): executables still run; containers need the fixes above\n", bad)
				return withCode(exitError, fmt.Errorf("doctor found %d problem(s)", bad))
			}
			return nil
		},
	}
}
