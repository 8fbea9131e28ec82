package containerd

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// Finding is the result of one environment check, for `apphostd doctor`.
type Finding struct {
	Name   string // "root", "containerd", "runc", "cni-plugins", "iptables", "snapshotter"
	OK     bool
	Detail string // what was found
	Fix    string // what to do about it, when !OK
}

// Doctor checks what running containers needs on this host: root, a
// reachable containerd, runc, the CNI plugins, iptables, and which
// snapshotter will be used. It never changes anything.
func Doctor(ctx context.Context, opts Options) []Finding {
	const install = "apt-get install containerd runc containernetworking-plugins iptables (or scripts/install-container-deps.sh)"
	var out []Finding

	root := Finding{Name: "root", OK: os.Geteuid() == 0, Detail: fmt.Sprintf("euid %d", os.Geteuid())}
	if !root.OK {
		root.Fix = "run apphostd as root: containers need network namespaces and iptables (rootless is not supported)"
	}
	out = append(out, root)

	if d, err := New(ctx, opts); err != nil {
		out = append(out, Finding{Name: "containerd", Detail: err.Error(),
			Fix: install + ", then start it (systemctl start containerd, or run containerd as root); or point APPHOST_CONTAINERD_ADDRESS at a running one"})
	} else {
		f := Finding{Name: "containerd", OK: true}
		if v, err := d.client.Version(ctx); err != nil {
			f.OK, f.Detail = false, err.Error()
		} else {
			f.Detail = fmt.Sprintf("%s at %s, namespace %s", v.Version, d.opts.Address, d.opts.Namespace)
		}
		out = append(out, f, Finding{Name: "snapshotter", OK: true, Detail: d.opts.Snapshotter})
		opts = d.opts
		d.Close()
	}

	runc := Finding{Name: "runc"}
	if p, err := exec.LookPath("runc"); err != nil {
		runc.Detail, runc.Fix = "runc not on PATH", "apt-get install runc"
	} else {
		v, _ := exec.CommandContext(ctx, p, "--version").Output()
		runc.OK, runc.Detail = true, strings.SplitN(strings.TrimSpace(string(v)), "\n", 2)[0]
	}
	out = append(out, runc)

	if len(opts.CNIPluginDirs) == 0 {
		opts.CNIPluginDirs = []string{"/usr/lib/cni", "/opt/cni/bin"}
	}
	probe := &Driver{opts: opts}
	plugins := cniPlugins
	if opts.PortmapPlugin {
		plugins = append(plugins, "portmap")
	}
	var missing []string
	for _, p := range plugins {
		if !probe.havePlugin(p) {
			missing = append(missing, p)
		}
	}
	cni := Finding{Name: "cni-plugins", OK: len(missing) == 0, Detail: strings.Join(plugins, ", ") + " in " + strings.Join(opts.CNIPluginDirs, ", ")}
	if !cni.OK {
		cni.Detail = "missing " + strings.Join(missing, ", ") + " in " + strings.Join(opts.CNIPluginDirs, ", ")
		cni.Fix = "apt-get install containernetworking-plugins"
	}
	out = append(out, cni)

	ipt := Finding{Name: "iptables", OK: true}
	for _, b := range []string{"iptables", "iptables-restore"} {
		if _, err := exec.LookPath(b); err != nil {
			ipt.OK, ipt.Detail, ipt.Fix = false, b+" not on PATH", "apt-get install iptables"
		}
	}
	if ipt.OK {
		v, _ := exec.CommandContext(ctx, "iptables", "--version").Output()
		ipt.Detail = strings.TrimSpace(string(v))
	}
	return append(out, ipt)
}
