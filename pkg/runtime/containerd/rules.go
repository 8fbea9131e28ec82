package containerd

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	gocni "github.com/containerd/go-cni"
)

// Published ports and NAT, in the kernel (iptables nat table), with one
// iptables-restore per container instead of the portmap and ipMasq plugins'
// dozen-odd iptables runs each (measured: they were half of a bridged
// start). Options.PortmapPlugin switches back to the plugins.
//
// Per project, installed once after the first CNI ADD (idempotent, so a
// restarted daemon re-checks rather than duplicates):
//
//	nat APH-<bridge>            DNAT rules, one per published port
//	OUTPUT, PREROUTING          -m addrtype --dst-type LOCAL -j APH-<bridge>
//	POSTROUTING                 -s 127.0.0.1 -o <bridge> -j MASQUERADE   (127.0.0.1:HostPort → container)
//	POSTROUTING                 -s <subnet> ! -d <subnet> -j MASQUERADE  (containers → outside)
//	PREROUTING                  -i <bridge> -d <gateway> -p tcp -j DNAT --to 127.0.0.1
//	                            (host.apphost.internal:PORT → host services on 127.0.0.1:PORT)
//	net.ipv4.conf.<bridge>.route_localnet = 1 (lets 127.0.0.1 cross to the bridge and back)
//
// Host services usually listen on 127.0.0.1 (that is what apphostd hands its
// processes), hence the gateway DNAT; conntrack rewrites the replies.

func (d *Driver) natChain() string { return "APH-" + d.opts.BridgeName }

func (d *Driver) projectRules(portmapPlugin bool) [][]string {
	br, chain := d.opts.BridgeName, d.natChain()
	cm := []string{"-m", "comment", "--comment", "apphost " + br}
	rules := [][]string{
		append(append([]string{"POSTROUTING", "-s", "127.0.0.1/32", "-o", br}, cm...), "-j", "MASQUERADE"),
		append(append([]string{"PREROUTING", "-i", br, "-d", d.gateway() + "/32", "-p", "tcp"}, cm...), "-j", "DNAT", "--to-destination", "127.0.0.1"),
	}
	if !portmapPlugin {
		rules = append(rules,
			append(append([]string{"OUTPUT", "-m", "addrtype", "--dst-type", "LOCAL"}, cm...), "-j", chain),
			append(append([]string{"PREROUTING", "-m", "addrtype", "--dst-type", "LOCAL"}, cm...), "-j", chain),
			append(append([]string{"POSTROUTING", "-s", d.opts.Subnet, "!", "-d", d.opts.Subnet}, cm...), "-j", "MASQUERADE"),
		)
	}
	return rules
}

func iptables(args ...string) error {
	out, err := exec.Command("iptables", append([]string{"-w", "-t", "nat"}, args...)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("iptables %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

func iptablesRestore(rules string) error {
	cmd := exec.Command("iptables-restore", "-w", "--noflush")
	cmd.Stdin = strings.NewReader("*nat\n" + rules + "COMMIT\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("iptables-restore: %v: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}

// ensureProjectRules installs the project's NAT rules once per Driver; the
// bridge must exist (after a CNI ADD) for route_localnet.
func (d *Driver) ensureProjectRules() error {
	d.rulesMu.Lock()
	defer d.rulesMu.Unlock()
	if d.rulesDone {
		return nil
	}
	if !d.opts.PortmapPlugin {
		if err := iptables("-N", d.natChain()); err != nil && !strings.Contains(err.Error(), "already exists") {
			return fmt.Errorf("project NAT rules: %w", err)
		}
	}
	for _, r := range d.projectRules(d.opts.PortmapPlugin) {
		if iptables(append([]string{"-C"}, r...)...) == nil {
			continue
		}
		if err := iptables(append([]string{"-A"}, r...)...); err != nil {
			return fmt.Errorf("project NAT rules: %w", err)
		}
	}
	p := filepath.Join("/proc/sys/net/ipv4/conf", d.opts.BridgeName, "route_localnet")
	if err := os.WriteFile(p, []byte("1"), 0o644); err != nil {
		return fmt.Errorf("project NAT rules: set %s: %w", p, err)
	}
	d.rulesDone = true
	return nil
}

// removeProjectRules deletes the project's rules and chain; absent is success.
func (d *Driver) removeProjectRules() error {
	d.rulesMu.Lock()
	defer d.rulesMu.Unlock()
	d.rulesDone = false
	var errs []error
	// Both variants' rules: a project may have run with the other setting.
	for _, r := range d.projectRules(false) {
		for iptables(append([]string{"-C"}, r...)...) == nil {
			if err := iptables(append([]string{"-D"}, r...)...); err != nil {
				errs = append(errs, err)
				break
			}
		}
	}
	if iptables("-S", d.natChain()) == nil {
		if err := iptables("-F", d.natChain()); err != nil {
			errs = append(errs, err)
		}
		if err := iptables("-X", d.natChain()); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (d *Driver) portRule(cid, ip string, p gocni.PortMapping) string {
	dst := ""
	if p.HostIP != "" && p.HostIP != "0.0.0.0" {
		dst = " -d " + p.HostIP + "/32"
	}
	return fmt.Sprintf("%s -p %s -m %s --dport %d -m comment --comment %s -j DNAT --to-destination %s:%d\n",
		dst, p.Protocol, p.Protocol, p.HostPort, cid, ip, p.ContainerPort)
}

// publish adds the container's DNAT rules in one iptables-restore.
func (d *Driver) publish(cid, ip string, ports []gocni.PortMapping) error {
	if len(ports) == 0 {
		return nil
	}
	var b strings.Builder
	for _, p := range ports {
		b.WriteString("-A " + d.natChain() + d.portRule(cid, ip, p))
	}
	if err := iptablesRestore(b.String()); err != nil {
		return fmt.Errorf("publish ports of %s: %w", cid, err)
	}
	return nil
}

// unpublish deletes every DNAT rule carrying the container's ID; none is success.
func (d *Driver) unpublish(cid string) error {
	out, err := exec.Command("iptables", "-w", "-t", "nat", "-S", d.natChain()).Output()
	if err != nil {
		return nil // no chain: nothing published
	}
	var b strings.Builder
	for _, line := range bytes.Split(out, []byte("\n")) {
		l := string(line)
		if strings.HasPrefix(l, "-A ") && strings.Contains(l, "--comment "+cid+" ") {
			b.WriteString("-D " + strings.TrimPrefix(l, "-A ") + "\n")
		}
	}
	if b.Len() == 0 {
		return nil
	}
	if err := iptablesRestore(b.String()); err != nil {
		return fmt.Errorf("unpublish ports of %s: %w", cid, err)
	}
	return nil
}
