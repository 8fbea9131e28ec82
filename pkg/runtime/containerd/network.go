package containerd

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/apphostd/apphostd/pkg/runtime"
	gocni "github.com/containerd/go-cni"
)

// HostAlias names the host (the bridge gateway) inside bridged containers.
const HostAlias = "host.apphost.internal"

// cniPlugins are the plugin binaries the bridge network needs.
var cniPlugins = []string{"bridge", "host-local", "loopback"}

// network lazily loads the CNI configuration: bridge (gateway on the host,
// hairpin) with host-local IPAM kept in StateDir; NAT and published ports
// are rules.go's (or, with Options.PortmapPlugin, the portmap plugin's and
// the bridge's ipMasq).
func (d *Driver) network() (gocni.CNI, error) {
	d.cniOnce.Do(func() {
		plugins := cniPlugins
		if d.opts.PortmapPlugin {
			plugins = append(plugins, "portmap")
		}
		for _, p := range plugins {
			if !d.havePlugin(p) {
				d.cniErr = fmt.Errorf("CNI plugin %q not found in %s; install it with: apt-get install containernetworking-plugins: %w",
					p, strings.Join(d.opts.CNIPluginDirs, ", "), runtime.ErrUnavailable)
				return
			}
		}
		if _, _, err := net.ParseCIDR(d.opts.Subnet); err != nil {
			d.cniErr = fmt.Errorf("subnet %q: %v: %w", d.opts.Subnet, err, runtime.ErrInvalidSpec)
			return
		}
		conf, err := d.cniConfList()
		if err != nil {
			d.cniErr = err
			return
		}
		c, err := gocni.New(gocni.WithPluginDir(d.opts.CNIPluginDirs), gocni.WithInterfacePrefix("eth"),
			gocni.WithMinNetworkCount(2))
		if err != nil {
			d.cniErr = fmt.Errorf("init CNI: %w", err)
			return
		}
		if err := c.Load(gocni.WithConfListBytes(conf), gocni.WithLoNetwork); err != nil {
			d.cniErr = fmt.Errorf("load CNI config: %w", err)
			return
		}
		d.cni = c
	})
	return d.cni, d.cniErr
}

func (d *Driver) havePlugin(name string) bool {
	for _, dir := range d.opts.CNIPluginDirs {
		if st, err := os.Stat(filepath.Join(dir, name)); err == nil && !st.IsDir() {
			return true
		}
	}
	return false
}

func (d *Driver) cniConfList() ([]byte, error) {
	plugins := []any{
		map[string]any{
			"type":        "bridge",
			"bridge":      d.opts.BridgeName,
			"isGateway":   true,
			"ipMasq":      d.opts.PortmapPlugin, // else one project-wide rule (rules.go)
			"hairpinMode": true,
			"ipam": map[string]any{
				"type":    "host-local",
				"ranges":  [][]map[string]string{{{"subnet": d.opts.Subnet}}},
				"routes":  []map[string]string{{"dst": "0.0.0.0/0"}},
				"dataDir": d.ipamDir(),
			},
		},
	}
	if d.opts.PortmapPlugin {
		plugins = append(plugins, map[string]any{
			"type":         "portmap",
			"capabilities": map[string]bool{"portMappings": true},
			"snat":         true,
		})
	}
	b, err := json.Marshal(map[string]any{"cniVersion": "1.0.0", "name": d.networkName(), "plugins": plugins})
	if err != nil {
		return nil, fmt.Errorf("encode CNI config: %w", err)
	}
	return b, nil
}

// gateway is the bridge's address: host-local hands out .1 of the subnet as
// the gateway, which the bridge plugin assigns to the bridge.
func (d *Driver) gateway() string {
	_, n, err := net.ParseCIDR(d.opts.Subnet)
	if err != nil {
		return ""
	}
	ip := n.IP.To4()
	if ip == nil {
		return ""
	}
	gw := make(net.IP, 4)
	copy(gw, ip)
	gw[3]++
	return gw.String()
}

func portMappings(ports []runtime.PortMapping) []gocni.PortMapping {
	var out []gocni.PortMapping
	for _, p := range ports {
		if p.HostPort == 0 || p.ContainerPort == 0 {
			continue
		}
		proto := strings.ToLower(p.Protocol)
		if proto == "" {
			proto = "tcp"
		}
		hostIP := p.HostIP
		if hostIP == "" {
			hostIP = "127.0.0.1"
		}
		out = append(out, gocni.PortMapping{HostPort: int32(p.HostPort), ContainerPort: int32(p.ContainerPort), Protocol: proto, HostIP: hostIP})
	}
	return out
}

// attachNetwork runs the CNI ADD for an existing netns (createNetNS) and
// returns the container's IPv4 address. On error the partial ADD is undone
// (CNI DEL); the netns is left to the caller.
func (d *Driver) attachNetwork(ctx context.Context, cid, nsPath string, ports []gocni.PortMapping) (string, error) {
	cni, err := d.network()
	if err != nil {
		return "", err
	}
	undo := func() {
		_ = d.unpublish(cid)
		_ = cni.Remove(context.WithoutCancel(ctx), cid, nsPath, d.cniPorts(ports)...)
	}
	res, err := cni.Setup(ctx, cid, nsPath, d.cniPorts(ports)...)
	if err != nil {
		undo()
		return "", fmt.Errorf("CNI setup %s: %w", cid, err)
	}
	if err := d.ensureProjectRules(); err != nil {
		undo()
		return "", err
	}
	ip := ""
	for name, iface := range res.Interfaces {
		if !strings.HasPrefix(name, "eth") {
			continue
		}
		for _, c := range iface.IPConfigs {
			if v4 := c.IP.To4(); v4 != nil && ip == "" {
				ip = v4.String()
			}
		}
	}
	if ip == "" {
		undo()
		return "", fmt.Errorf("CNI setup %s: no IPv4 address in result", cid)
	}
	if !d.opts.PortmapPlugin {
		if err := d.publish(cid, ip, ports); err != nil {
			undo()
			return "", err
		}
	}
	return ip, nil
}

// cniPorts is what the portmap plugin (when used) gets as capability args.
func (d *Driver) cniPorts(ports []gocni.PortMapping) []gocni.NamespaceOpts {
	if !d.opts.PortmapPlugin || len(ports) == 0 {
		return nil
	}
	return []gocni.NamespaceOpts{gocni.WithCapabilityPortMap(ports)}
}

// teardownNetwork is the CNI DEL (without it host-local keeps the IP
// reserved and portmap keeps its DNAT rules) followed by removing the netns.
// It is idempotent: DEL of an unknown container succeeds.
func (d *Driver) teardownNetwork(ctx context.Context, cid string, ports []gocni.PortMapping) error {
	cni, err := d.network()
	if err != nil {
		return err
	}
	nsPath := d.netnsPath(cid)
	if _, statErr := os.Stat(nsPath); statErr != nil {
		nsPath = "" // plugins then only release what they hold for the ID
	}
	if err := d.unpublish(cid); err != nil {
		return err
	}
	if err := cni.Remove(ctx, cid, nsPath, d.cniPorts(ports)...); err != nil {
		return fmt.Errorf("CNI remove %s: %w", cid, err)
	}
	return removeNetNS(d.netnsPath(cid))
}
