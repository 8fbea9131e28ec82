// Command apphostd compiles an apphost.hcl / apphost.yaml project into a
// resource graph and runs it. This package only wires flags, logging and
// signals; the work lives in pkg/.
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

// Exit codes. Documented in docs/cli.md.
const (
	exitOK        = 0
	exitError     = 1 // generic failure, invalid config
	exitUsage     = 2 // bad flags or arguments
	exitNoDaemon  = 3 // no daemon runs for this project
	exitTimeout   = 4 // --timeout elapsed before the target state
	exitUnhealthy = 5 // a resource failed (FailedToStart, exited non-zero, unhealthy)
)

// exitError carries a process exit code through cobra's error return.
type exitCodeError struct {
	code int
	err  error
}

func (e *exitCodeError) Error() string { return e.err.Error() }
func (e *exitCodeError) Unwrap() error { return e.err }

// withCode wraps err so main exits with code.
func withCode(code int, err error) error {
	if err == nil {
		return nil
	}
	return &exitCodeError{code: code, err: err}
}

// commands registers subcommand constructors; each file adds its own in init.
var commands []func() *cobra.Command

func register(f func() *cobra.Command) { commands = append(commands, f) }

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "apphostd",
		Short:         "Run an apphost.hcl project: processes, containers, discovery, health, hot reload",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringP("file", "f", "", "project file (default: apphost.hcl, then apphost.yaml, in the current directory)")
	root.PersistentFlags().StringVar(&containerdAddress, "containerd-address", os.Getenv("APPHOST_CONTAINERD_ADDRESS"), "containerd socket for container resources (default /run/containerd/containerd.sock)")
	root.PersistentFlags().StringVar(&containerdNamespace, "containerd-namespace", os.Getenv("APPHOST_CONTAINERD_NAMESPACE"), "containerd namespace (default apphost)")
	root.PersistentFlags().StringVar(&bridgeName, "bridge-name", os.Getenv("APPHOST_BRIDGE_NAME"), "the project's container bridge interface (default aph + a hash of the project directory)")
	root.PersistentFlags().StringVar(&bridgeSubnet, "subnet", os.Getenv("APPHOST_SUBNET"), "the project's container subnet in CIDR form (default a /24 in 10.200.0.0/13 derived from the project)")
	// A detached daemon inherits the environment, not the flags.
	root.PersistentPreRun = func(*cobra.Command, []string) {
		if containerdAddress != "" {
			os.Setenv("APPHOST_CONTAINERD_ADDRESS", containerdAddress)
		}
		if containerdNamespace != "" {
			os.Setenv("APPHOST_CONTAINERD_NAMESPACE", containerdNamespace)
		}
		if bridgeName != "" {
			os.Setenv("APPHOST_BRIDGE_NAME", bridgeName)
		}
		if bridgeSubnet != "" {
			os.Setenv("APPHOST_SUBNET", bridgeSubnet)
		}
	}
	for _, f := range commands {
		root.AddCommand(f())
	}
	return root
}

func main() {
	err := newRootCmd().Execute()
	if err == nil {
		os.Exit(exitOK)
	}
	code := exitError
	var ce *exitCodeError
	if errors.As(err, &ce) {
		code = ce.code
	}
	if msg := err.Error(); msg != "" {
		fmt.Fprintln(os.Stderr, "apphostd:", msg)
	}
	os.Exit(code)
}
