package containerd

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Host services usually listen on 127.0.0.1 (that is what apphostd hands
// its processes). To make host.apphost.internal:PORT reach them from a
// bridged container, TCP sent to the gateway address from the bridge is
// DNATed to 127.0.0.1:PORT. The kernel routes such packets only with
// route_localnet set on the bridge; conntrack rewrites the replies' source
// back to the gateway. One rule per project bridge, removed by Cleanup.

func (d *Driver) hostAliasRule() []string {
	return []string{"PREROUTING", "-i", d.opts.BridgeName, "-d", d.gateway() + "/32", "-p", "tcp",
		"-m", "comment", "--comment", "apphost host alias " + d.opts.BridgeName,
		"-j", "DNAT", "--to-destination", "127.0.0.1"}
}

func iptables(args ...string) error {
	out, err := exec.Command("iptables", append([]string{"-w", "-t", "nat"}, args...)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("iptables %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// ensureHostAlias installs the DNAT rule (idempotent) and sets
// route_localnet on the bridge, which must exist by now (after a CNI ADD).
func (d *Driver) ensureHostAlias() error {
	d.aliasMu.Lock()
	defer d.aliasMu.Unlock()
	if d.aliasDone {
		return nil
	}
	rule := d.hostAliasRule()
	if iptables(append([]string{"-C"}, rule...)...) != nil {
		if err := iptables(append([]string{"-A"}, rule...)...); err != nil {
			return fmt.Errorf("host alias: %w", err)
		}
	}
	p := filepath.Join("/proc/sys/net/ipv4/conf", d.opts.BridgeName, "route_localnet")
	if err := os.WriteFile(p, []byte("1"), 0o644); err != nil {
		return fmt.Errorf("host alias: set %s: %w", p, err)
	}
	d.aliasDone = true
	return nil
}

// removeHostAlias deletes the rule; absent is success.
func (d *Driver) removeHostAlias() error {
	d.aliasMu.Lock()
	defer d.aliasMu.Unlock()
	d.aliasDone = false
	rule := d.hostAliasRule()
	for iptables(append([]string{"-C"}, rule...)...) == nil {
		if err := iptables(append([]string{"-D"}, rule...)...); err != nil {
			return fmt.Errorf("remove host alias: %w", err)
		}
	}
	return nil
}
