package containerd

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
)

func TestDoctor(t *testing.T) {
	e := newEnv(t)
	for _, f := range Doctor(context.Background(), e.opts) {
		if !f.OK {
			t.Errorf("%s: %s (fix: %s)", f.Name, f.Detail, f.Fix)
		}
	}
	bad := e.opts
	bad.Address = filepath.Join(t.TempDir(), "nothing.sock")
	bad.CNIPluginDirs = []string{t.TempDir()}
	got := map[string]Finding{}
	for _, f := range Doctor(context.Background(), bad) {
		got[f.Name] = f
	}
	if f := got["containerd"]; f.OK || !strings.Contains(f.Fix, "apt-get install containerd") || !strings.Contains(f.Detail, bad.Address) {
		t.Errorf("containerd finding with no daemon = %+v", f)
	}
	if f := got["cni-plugins"]; f.OK || !strings.Contains(f.Detail, "bridge") || !strings.Contains(f.Fix, "containernetworking-plugins") {
		t.Errorf("cni finding with an empty plugin dir = %+v", f)
	}
}
