package containerd

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFilterResolv(t *testing.T) {
	in := "nameserver 127.0.0.53\nnameserver ::1\nnameserver 10.0.0.2\nsearch example.internal\noptions edns0\n"
	got := string(filterResolv([]byte(in)))
	for _, want := range []string{"nameserver 10.0.0.2\n", "search example.internal\n", "options edns0\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in\n%s", want, got)
		}
	}
	if strings.Contains(got, "127.0.0.53") || strings.Contains(got, "::1") {
		t.Errorf("loopback resolver kept:\n%s", got)
	}
}

func TestHostsContentAndWriteInPlace(t *testing.T) {
	d := &Driver{opts: Options{Subnet: "10.9.8.0/24"}}
	got := string(d.hostsContent(map[string]hostEntry{
		"c2": {ip: "10.9.8.3", names: []string{"web", "web-0"}},
		"c1": {ip: "10.9.8.2", names: []string{"api", "api", ""}},
	}))
	want := "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n10.9.8.1\thost.apphost.internal\n10.9.8.2\tapi\n10.9.8.3\tweb web-0\n"
	if got != want {
		t.Errorf("hosts =\n%s\nwant\n%s", got, want)
	}
	p := filepath.Join(t.TempDir(), "hosts")
	if err := writeInPlace(p, []byte("a long first version\n")); err != nil {
		t.Fatal(err)
	}
	before, _ := os.Stat(p)
	if err := writeInPlace(p, []byte("short\n")); err != nil {
		t.Fatal(err)
	}
	after, _ := os.Stat(p)
	if b, _ := os.ReadFile(p); string(b) != "short\n" {
		t.Errorf("content %q", b)
	}
	if !os.SameFile(before, after) {
		t.Error("writeInPlace replaced the inode; a bind mount would keep the old file")
	}
}

func TestDefaults(t *testing.T) {
	if b := defaultBridgeName("some/project"); len(b) > 15 || !strings.HasPrefix(b, "aph") {
		t.Errorf("bridge name %q", b)
	}
	if s := defaultSubnet("a"); !strings.HasPrefix(s, "10.20") || !strings.HasSuffix(s, ".0/24") {
		t.Errorf("default subnet %q, want a /24 in 10.200.0.0/13", s)
	}
	d := &Driver{opts: Options{Project: "0123456789abcdef", Subnet: "10.1.2.0/24"}}
	if got := d.containerID("api-0"); got != "ah-0123456789ab-api-0" {
		t.Errorf("containerID = %q", got)
	}
	if gw := d.gateway(); gw != "10.1.2.1" {
		t.Errorf("gateway = %q", gw)
	}
}
