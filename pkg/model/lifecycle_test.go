package model_test

import (
	"testing"

	"github.com/apphostd/apphostd/pkg/model"
)

func TestLifecycleAttributesDecode(t *testing.T) {
	src := `
executable "migrate" {
  command = "./migrate"
  run     = "once"
  inputs  = ["migrations/*.sql", "schema.sql"]
  restart = "on-failure"
}

executable "api" {
  command               = "./api"
  profiles              = ["debug", "web", "debug"]
  on_dependency_restart = "restart"
  wait_for_completion   = [executable.migrate]
  limits {
    memory = "256MiB"
    cpus   = 0.5
    pids   = 64
  }
  endpoint "http" {
    env    = "PORT"
    socket = true
  }
}

executable "plain" {
  command = "./plain"
  limits {
    memory = 8388608
  }
}

testdb "db" {
  profiles = ["data"]
  database "app" {}
}
`
	g, diags := model.Compile("apphost.hcl", []byte(src))
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	m := g.Resources["migrate"]
	if m.Run != model.RunOnce || len(m.Inputs) != 2 || m.Inputs[0] != "migrations/*.sql" {
		t.Errorf("migrate: run %q inputs %v", m.Run, m.Inputs)
	}
	if m.OnDependencyRestart != model.DepRestartWait {
		t.Errorf("default on_dependency_restart = %q, want wait", m.OnDependencyRestart)
	}
	a := g.Resources["api"]
	if len(a.Profiles) != 2 || a.Profiles[0] != "debug" || a.Profiles[1] != "web" {
		t.Errorf("profiles %v, want [debug web] (deduplicated)", a.Profiles)
	}
	if a.OnDependencyRestart != model.DepRestartRestart || a.Run != model.RunAlways {
		t.Errorf("api: on_dep %q run %q", a.OnDependencyRestart, a.Run)
	}
	if l := a.Limits; l == nil || l.MemoryBytes != 256<<20 || l.CPUs != 0.5 || l.PIDs != 64 {
		t.Errorf("limits %+v", a.Limits)
	}
	if !a.Endpoints[0].Socket {
		t.Error("socket not decoded")
	}
	if l := g.Resources["plain"].Limits; l == nil || l.MemoryBytes != 8<<20 {
		t.Errorf("numeric memory: %+v", l)
	}
	// An integration's expanded children share its profiles.
	if p := g.Resources["app"].Profiles; len(p) != 1 || p[0] != "data" {
		t.Errorf("child of a profiled integration has profiles %v, want [data]", p)
	}
	if p := g.Resources["db-password"].Profiles; len(p) != 0 {
		t.Errorf("a parameter (never runs) got profiles %v", p)
	}
}

func TestLifecycleHashing(t *testing.T) {
	base := `executable "a" {
  command = "./a"
  endpoint "http" {}
}
`
	hash := func(src string) string {
		g, diags := model.Compile("apphost.hcl", []byte(src))
		if diags.HasErrors() {
			t.Fatal(diags.Error())
		}
		return g.Resources["a"].SpecHash
	}
	h0 := hash(base)
	// Selection and policy do not change how an instance launches.
	if h := hash(`executable "a" {
  command               = "./a"
  profiles              = ["x"]
  on_dependency_restart = "ignore"
  run                   = "once"
  endpoint "http" {}
}
`); h != h0 {
		t.Error("profiles/on_dependency_restart/run changed the spec hash")
	}
	// Limits and socket activation do.
	if h := hash(`executable "a" {
  command = "./a"
  limits { pids = 10 }
  endpoint "http" {}
}
`); h == h0 {
		t.Error("limits did not change the spec hash")
	}
	if h := hash(`executable "a" {
  command = "./a"
  endpoint "http" { socket = true }
}
`); h == h0 {
		t.Error("socket did not change the spec hash")
	}
}
