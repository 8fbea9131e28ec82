package discovery

import (
	"fmt"
	"testing"
)

// listenPorts is a seqPorts that also records which keys were asked to
// hold a listening socket.
type listenPorts struct {
	*seqPorts
	listened map[string]int
	refuse   map[int]bool
}

func (p *listenPorts) AllocateListener(key string) (int, error) {
	port, err := p.Allocate(key)
	if err == nil {
		p.listened[key] = port
	}
	return port, err
}

func (p *listenPorts) ReserveListener(key string, port int) error {
	if p.refuse[port] {
		return fmt.Errorf("port %d is in use by pid 42 (squatter)", port)
	}
	if err := p.Reserve(key, port); err != nil {
		return err
	}
	p.listened[key] = port
	return nil
}

func TestSocketEndpointsHoldListenersAndLimitsReachTheSpec(t *testing.T) {
	src := `
executable "api" {
  command = "api"
  endpoint "http" {
    env    = "PORT"
    socket = true
  }
  endpoint "admin" { env = "ADMIN_PORT" }
  limits {
    memory = "64M"
    pids   = 32
  }
}
executable "fixed" {
  command = "fixed"
  endpoint "http" {
    port   = 18080
    socket = true
  }
}
executable "plain" {
  command = "plain"
  endpoint "http" {}
}
`
	ports := &listenPorts{seqPorts: newSeqPorts(), listened: map[string]int{}, refuse: map[int]bool{}}
	res := resolve(t, src, ports, nil)
	api := res.Resources["api"]
	if api.Fail != "" || api.Wait != "" {
		t.Fatalf("api: fail %q wait %q", api.Fail, api.Wait)
	}
	if _, ok := ports.listened["api/http/0"]; !ok {
		t.Errorf("socket endpoint was not allocated through AllocateListener: %v", ports.listened)
	}
	if _, ok := ports.listened["api/admin/0"]; ok {
		t.Error("a plain endpoint holds a listener")
	}
	if ports.listened["fixed/http/0"] != 18080 {
		t.Errorf("fixed socket port not reserved as a listener: %v", ports.listened)
	}
	spec := api.Instances[0].Spec
	var sock, plain int
	for _, p := range spec.Ports {
		if p.Socket {
			sock++
			if p.Name != "http" {
				t.Errorf("socket flag on %s", p.Name)
			}
		} else {
			plain++
		}
	}
	if sock != 1 || plain != 0 {
		t.Errorf("ports %+v: want the socket endpoint only (an executable binds its other ports itself)", spec.Ports)
	}
	if l := spec.Limits; l == nil || l.MemoryBytes != 64<<20 || l.PIDs != 32 {
		t.Errorf("limits %+v", spec.Limits)
	}
	if res.Resources["plain"].Instances[0].Spec.Limits != nil {
		t.Error("limits on a resource without a limits block")
	}

	// A fixed socket port someone else holds fails that resource only,
	// naming the holder.
	ports2 := &listenPorts{seqPorts: newSeqPorts(), listened: map[string]int{}, refuse: map[int]bool{18080: true}}
	res2 := resolve(t, src, ports2, nil)
	if f := res2.Resources["fixed"].Fail; f == "" || !contains(f, "pid 42") {
		t.Errorf("fixed: Fail = %q, want the holder named", f)
	}
	if res2.Resources["api"].Fail != "" {
		t.Error("another resource failed too")
	}
	// The socket flag and limits are part of the launch hash.
	noSock := resolve(t, `
executable "api" {
  command = "api"
  endpoint "http" {
    env = "PORT"
  }
  endpoint "admin" { env = "ADMIN_PORT" }
  limits {
    memory = "64M"
    pids   = 32
  }
}
`, &listenPorts{seqPorts: newSeqPorts(), listened: map[string]int{}}, nil)
	if noSock.Resources["api"].Instances[0].Hash == api.Instances[0].Hash {
		t.Error("socket = true did not change the instance hash")
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}
