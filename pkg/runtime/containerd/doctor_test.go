package containerd

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apphostd/apphostd/pkg/runtime"
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

func TestAddressFromEnv(t *testing.T) {
	e := newEnv(t)
	t.Setenv(AddressEnv, e.cd.Address)
	opts := e.opts
	opts.Address = ""
	d, err := New(context.Background(), opts)
	if err != nil {
		t.Fatalf("New with %s set: %v", AddressEnv, err)
	}
	defer d.Close()
	if d.Options().Address != e.cd.Address || d.Options().Namespace != "apphost-test" {
		t.Errorf("options = %+v", d.Options())
	}
	// Without the env var the standard socket is used; where no system
	// containerd runs, New fails naming it.
	t.Setenv(AddressEnv, "")
	if _, err := os.Stat(DefaultAddress); os.IsNotExist(err) {
		_, err := New(context.Background(), Options{Project: "x"})
		if !errors.Is(err, runtime.ErrUnavailable) || !strings.Contains(err.Error(), DefaultAddress) {
			t.Errorf("New with defaults: %v, want ErrUnavailable naming %s", err, DefaultAddress)
		}
	}
}
