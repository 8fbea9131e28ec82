package daemon

import (
	"errors"
	"strings"
	"testing"

	"github.com/apphostd/apphostd/pkg/model"
)

const selectionProject = `
executable "db" {
  command = "db"
  endpoint "tcp" {}
}
executable "migrate" {
  command  = "migrate"
  wait_for = [executable.db]
}
executable "api" {
  command             = "api"
  env                 = { DB = executable.db.endpoint.tcp.url }
  wait_for_completion = [executable.migrate]
  endpoint "http" {}
}
executable "web" {
  command    = "web"
  references = [executable.api]
}
executable "debugdb" {
  command  = "debugdb"
  profiles = ["debug"]
}
executable "inspector" {
  command  = "inspector"
  profiles = ["debug"]
  wait_for = [executable.debugdb]
}
executable "broken" {
  command  = "broken"
  wait_for = [executable.debugdb]
}
executable "manual" {
  command   = "manual"
  autostart = false
}
`

func compileSel(t *testing.T, src string) *model.Graph {
	t.Helper()
	g, diags := model.Compile("apphost.hcl", []byte(src))
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	return g
}

func keys(m map[string]bool) string {
	var out []string
	for _, n := range []string{"db", "migrate", "api", "web", "debugdb", "inspector", "broken", "manual"} {
		if m[n] {
			out = append(out, n)
		}
	}
	return strings.Join(out, ",")
}

func TestSelectNamesPullInWhatTheyNeedOnly(t *testing.T) {
	g := compileSel(t, selectionProject)
	sel, err := Select(g, []string{"api"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := keys(sel.Requested); got != "db,migrate,api" {
		t.Errorf("up api requests %s, want db,migrate,api (expression, wait_for_completion, and migrate's wait_for)", got)
	}
	// A name selects whatever its profiles or autostart.
	sel, err = Select(g, []string{"manual", "inspector"}, nil)
	if err == nil || !errors.Is(err, ErrUnselectable) {
		t.Fatalf("inspector needs debugdb (profile debug): err = %v", err)
	}
	if got := keys(sel.Requested); got != "inspector,manual" {
		t.Errorf("requested %s", got)
	}
	// Naming the dependency too, or its profile, fixes it.
	if _, err := Select(g, []string{"inspector", "debugdb"}, nil); err != nil {
		t.Errorf("naming both: %v", err)
	}
	if sel, err := Select(g, []string{"inspector"}, []string{"debug"}); err != nil || !sel.Requested["debugdb"] {
		t.Errorf("with --profile debug: %v, requested %v", err, sel.Requested)
	}
	if _, err := Select(g, []string{"nope"}, nil); err == nil || !strings.Contains(err.Error(), `"nope"`) {
		t.Errorf("unknown name: %v", err)
	}
}

func TestSelectProfilesOnPlainUp(t *testing.T) {
	g := compileSel(t, selectionProject)
	sel, err := Select(g, nil, nil)
	// broken (no profile) needs debugdb (profile debug): an error naming
	// both, and broken waits; the rest is selected.
	if err == nil || !strings.Contains(err.Error(), "broken needs debugdb (wait_for)") || !strings.Contains(err.Error(), `profile "debug"`) ||
		!strings.Contains(err.Error(), "--profile debug") {
		t.Fatalf("plain up: err = %v", err)
	}
	if got := keys(sel.Enabled); got != "db,migrate,api,web,broken,manual" {
		t.Errorf("enabled %s", got)
	}
	if sel.Blocked["broken"] == "" || len(sel.Blocked) != 1 {
		t.Errorf("blocked %v", sel.Blocked)
	}
	sel, err = Select(g, nil, []string{"debug"})
	if err != nil {
		t.Fatal(err)
	}
	if got := keys(sel.Enabled); got != "db,migrate,api,web,debugdb,inspector,broken,manual" {
		t.Errorf("with debug: enabled %s", got)
	}
}

func TestNeedsForStart(t *testing.T) {
	g := compileSel(t, selectionProject)
	order, err := NeedsForStart(g, "api", func(string) bool { return false })
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(order, ",") != "db,migrate,api" {
		t.Errorf("order %v", order)
	}
	_, err = NeedsForStart(g, "broken", func(string) bool { return false })
	if err == nil || !strings.Contains(err.Error(), "broken needs debugdb") {
		t.Fatalf("start broken: %v", err)
	}
	if _, err := NeedsForStart(g, "broken", func(n string) bool { return n == "debugdb" }); err != nil {
		t.Errorf("with debugdb running: %v", err)
	}
}

func TestSelectionSpecWidens(t *testing.T) {
	g := compileSel(t, selectionProject)
	spec := selectionSpec{names: []string{"api"}}
	// `up web` against a daemon started with `up api`: both chains.
	spec = spec.add(false, []string{"web"}, nil)
	sel, err := selectFor(g, spec)
	if err != nil {
		t.Fatal(err)
	}
	if got := keys(sel.Enabled); got != "db,migrate,api,web" {
		t.Errorf("api + web: %s", got)
	}
	// A plain up widens to the whole project and keeps the names (a
	// named autostart = false resource keeps running).
	spec = spec.add(true, []string{"manual"}, nil)
	sel, _ = selectFor(g, spec)
	if got := keys(sel.Enabled); got != "db,migrate,api,web,broken,manual" || !sel.Requested["manual"] {
		t.Errorf("all + names: enabled %s requested %v", got, sel.Requested)
	}
	// A profile widens further; nothing is blocked then.
	spec = spec.add(true, nil, []string{"debug"})
	sel, err = selectFor(g, spec)
	if err != nil || !sel.Enabled["debugdb"] || len(sel.Blocked) != 0 {
		t.Errorf("with debug: %v %v %v", err, sel.Enabled, sel.Blocked)
	}
}
