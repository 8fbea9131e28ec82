package containerd

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/apphostd/apphostd/pkg/runtime"
	cdclient "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/oci"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// specOpts translates a runtime.Spec into OCI spec options. nsPath is the
// network namespace for bridged containers ("" = host network); hostsPath
// and resolvPath (bridged only) are bind-mounted read-only at /etc/hosts
// and /etc/resolv.conf.
func specOpts(img cdclient.Image, spec runtime.Spec, nsPath, hostsPath, resolvPath string) ([]oci.SpecOpts, error) {
	var opts []oci.SpecOpts
	switch {
	case spec.Entrypoint != nil:
		// As docker: a new entrypoint drops the image's cmd.
		opts = append(opts, oci.WithImageConfig(img), oci.WithProcessArgs(append(append([]string{}, spec.Entrypoint...), spec.Args...)...))
	case spec.Args != nil:
		opts = append(opts, oci.WithImageConfigArgs(img, spec.Args))
	default:
		opts = append(opts, oci.WithImageConfig(img))
	}
	if len(spec.Env) > 0 {
		opts = append(opts, oci.WithEnv(spec.Env))
	}
	if spec.User != "" {
		opts = append(opts, oci.WithUser(spec.User))
	}
	if spec.WorkingDir != "" {
		if !filepath.IsAbs(spec.WorkingDir) {
			return nil, fmt.Errorf("working dir %q is not absolute: %w", spec.WorkingDir, runtime.ErrInvalidSpec)
		}
		opts = append(opts, oci.WithProcessCwd(spec.WorkingDir))
	}
	var mounts []specs.Mount
	for _, m := range spec.Mounts {
		if !filepath.IsAbs(m.Source) || !filepath.IsAbs(m.Target) {
			return nil, fmt.Errorf("mount %s:%s: paths must be absolute: %w", m.Source, m.Target, runtime.ErrInvalidSpec)
		}
		// As docker does for -v: a missing source becomes a directory.
		if _, err := os.Stat(m.Source); os.IsNotExist(err) {
			if err := os.MkdirAll(m.Source, 0o755); err != nil {
				return nil, fmt.Errorf("create mount source %s: %w", m.Source, err)
			}
		}
		mode := "rw"
		if m.ReadOnly {
			mode = "ro"
		}
		mounts = append(mounts, specs.Mount{Type: "bind", Source: m.Source, Destination: m.Target, Options: []string{"rbind", mode}})
	}
	if hostsPath != "" {
		mounts = append(mounts, specs.Mount{Type: "bind", Source: hostsPath, Destination: "/etc/hosts", Options: []string{"rbind", "ro"}})
	}
	if resolvPath != "" {
		mounts = append(mounts, specs.Mount{Type: "bind", Source: resolvPath, Destination: "/etc/resolv.conf", Options: []string{"rbind", "ro"}})
	}
	if len(mounts) > 0 {
		opts = append(opts, oci.WithMounts(mounts))
	}
	if nsPath == "" {
		opts = append(opts, oci.WithHostNamespace(specs.NetworkNamespace), oci.WithHostResolvconf)
	} else {
		opts = append(opts, oci.WithLinuxNamespace(specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: nsPath}))
		if spec.Resource != "" {
			opts = append(opts, oci.WithHostname(spec.Resource))
		}
	}
	return opts, nil
}
