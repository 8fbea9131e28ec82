package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/apphostd/apphostd/pkg/api"
	"github.com/apphostd/apphostd/pkg/project"
	"github.com/spf13/cobra"
)

// probeTimeout bounds the first call to the daemon; a live daemon answers
// /v1/info at once.
const probeTimeout = 3 * time.Second

// dialProject finds the project (-f, else the current directory; a project
// whose file was deleted is still found by its .apphost directory) and
// checks that its daemon answers. The caller closes the client.
//
// No project, or no daemon answering, is exitNoDaemon: for thin clients
// both mean "nothing runs here".
func dialProject(cmd *cobra.Command) (*api.Client, project.Project, error) {
	file, _ := cmd.Flags().GetString("file")
	p, err := project.LocateDir(file, "")
	if err == nil && p.Dir == "" {
		// LocateDir can return an empty project without an error when
		// neither a project file nor .apphost exists here.
		err = errors.New("no apphost.hcl or apphost.yaml in the current directory (use -f FILE)")
	}
	if err != nil {
		return nil, project.Project{}, withCode(exitNoDaemon, err)
	}
	c := api.Dial(p.Socket())
	ctx, cancel := context.WithTimeout(cmd.Context(), probeTimeout)
	defer cancel()
	if _, err := c.Info(ctx); err != nil {
		c.Close()
		return nil, p, daemonErr(p, err)
	}
	return c, p, nil
}

// daemonErr turns a failed call into a message and exit code for people
// and scripts.
func daemonErr(p project.Project, err error) error {
	var ce *exitCodeError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ce):
		return err
	case api.IsNoDaemon(err):
		return withCode(exitNoDaemon, fmt.Errorf("no apphostd is running for %s (start one with `apphostd up`)", p.Dir))
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		// The daemon closes connections from other users unanswered.
		return withCode(exitError, fmt.Errorf("apphostd at %s closed the connection (is it running as another user?): %w", p.Socket(), err))
	case errors.Is(err, context.DeadlineExceeded):
		return withCode(exitTimeout, fmt.Errorf("apphostd at %s did not answer: %w", p.Socket(), err))
	case errors.Is(err, api.ErrTimeout):
		return withCode(exitTimeout, err)
	case errors.Is(err, api.ErrResourceFailed):
		return withCode(exitUnhealthy, err)
	case errors.Is(err, api.ErrBadRequest):
		return withCode(exitUsage, err)
	}
	return withCode(exitError, err)
}

// usageArgs makes a positional-argument error exit with exitUsage.
func usageArgs(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := check(cmd, args); err != nil {
			return withCode(exitUsage, err)
		}
		return nil
	}
}

// thinClient marks cmd as a client of the daemon: bad flags exit with
// exitUsage.
func thinClient(cmd *cobra.Command) *cobra.Command {
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return withCode(exitUsage, err) })
	return cmd
}
