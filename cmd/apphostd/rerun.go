package main

import (
	"github.com/spf13/cobra"

	"github.com/apphostd/apphostd/pkg/api"
)

// rerun forces a job to run again: a run = "once" job is otherwise
// skipped while its spec and inputs are unchanged. Same flags, output and
// exit codes as start (control.go): it returns once the job has finished,
// 5 if it failed, 4 at --timeout.
func init() {
	register(func() *cobra.Command {
		return newControlCmd("rerun", `Run a job again now, ignoring its run = "once" record, and wait until it has finished`, (*api.Client).Rerun)
	})
}
