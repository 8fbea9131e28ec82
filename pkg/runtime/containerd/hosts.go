package containerd

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// hostEntry is one bridged container's line in every project hosts file.
type hostEntry struct {
	ip    string
	names []string // resource name, instance ID
}

// bridgedEntries reads the addresses of the project's bridged containers
// from their labels (containerd is the source of truth, so a new Driver
// sees what an earlier one started).
func (d *Driver) bridgedEntries(ctx context.Context) (map[string]hostEntry, error) {
	cs, err := d.client.Containers(ctx, d.projectFilter())
	if err != nil {
		return nil, d.classify("list", "containers", err)
	}
	out := map[string]hostEntry{}
	for _, c := range cs {
		labels, err := labelsOf(ctx, c)
		if err != nil {
			continue // deleted meanwhile
		}
		if ip := labels[labelIP]; ip != "" {
			out[c.ID()] = hostEntry{ip: ip, names: []string{labels[LabelResource], labels[LabelInstance]}}
		}
	}
	return out, nil
}

func (d *Driver) hostsContent(entries map[string]hostEntry) []byte {
	var b strings.Builder
	b.WriteString("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n")
	fmt.Fprintf(&b, "%s\t%s\n", d.gateway(), HostAlias)
	ids := make([]string, 0, len(entries))
	for id := range entries {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		e := entries[id]
		var names []string
		for _, n := range e.names {
			if n != "" && !contains(names, n) {
				names = append(names, n)
			}
		}
		fmt.Fprintf(&b, "%s\t%s\n", e.ip, strings.Join(names, " "))
	}
	return []byte(b.String())
}

// hostHostsContent is the hosts file of a host-network container: the
// host's own plus the alias on loopback.
func hostHostsContent() []byte {
	b, _ := os.ReadFile("/etc/hosts")
	return append(b, []byte("\n127.0.0.1\t"+HostAlias+"\n")...)
}

// writeInPlace rewrites a file without replacing its inode: the file is
// bind-mounted into a running container, which keeps seeing the inode it
// was given. The new bytes are written before the truncate, so a reader
// never sees an empty file.
func writeInPlace(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.WriteAt(data, 0); err != nil {
		f.Close()
		return err
	}
	if err := f.Truncate(int64(len(data))); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// refreshHosts rewrites the hosts file of every bridged container of the
// project, so a container started earlier learns the names of later ones.
// extra (may be nil) is merged in for a container not yet in containerd.
//
// Listing and writing happen under hostsMu as one step: otherwise a
// refresh that listed before a new container's address was recorded could
// write after one that listed it, dropping the name from every file.
func (d *Driver) refreshHosts(ctx context.Context, extra map[string]hostEntry, drop string) error {
	d.hostsMu.Lock()
	defer d.hostsMu.Unlock()
	entries, err := d.bridgedEntries(ctx)
	if err != nil {
		return err
	}
	for id, e := range extra {
		entries[id] = e
	}
	delete(entries, drop)
	content := d.hostsContent(entries)
	var firstErr error
	for id := range entries {
		p := d.hostsPath(id)
		if _, err := os.Stat(p); err != nil {
			if _, isExtra := extra[id]; !isExtra {
				continue
			}
		}
		if err := writeInPlace(p, content); err != nil && firstErr == nil {
			firstErr = fmt.Errorf("write hosts %s: %w", p, err)
		}
	}
	return firstErr
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// resolvConf is the /etc/resolv.conf of bridged containers: the host's,
// without loopback nameservers (127.0.0.53 of systemd-resolved and the
// like answer only inside the host's namespace).
func resolvConf() []byte {
	b, _ := os.ReadFile("/etc/resolv.conf")
	return filterResolv(b)
}

func filterResolv(b []byte) []byte {
	var out strings.Builder
	out.WriteString("# written by apphostd from the host's /etc/resolv.conf\n")
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "nameserver" {
			if ip := net.ParseIP(f[1]); ip == nil || ip.IsLoopback() {
				continue
			}
		}
		if strings.TrimSpace(line) != "" {
			out.WriteString(line + "\n")
		}
	}
	return []byte(out.String())
}

func (d *Driver) resolvPath() string { return filepath.Join(d.opts.StateDir, "resolv.conf") }
