package daemon

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/apphostd/apphostd/pkg/model"
	"github.com/apphostd/apphostd/pkg/reconcile"
)

// A selection is what `apphostd up [NAME...] [--profile P...]` asked for:
//
//   - no names: every resource without profiles, or with an active one;
//   - names: those resources (whatever their profiles and autostart) and
//     everything they need, transitively: references, wait_for,
//     wait_for_completion and expression references (DependsOn).
//
// Either way, a selected resource that needs one the selection leaves out
// (a profile that is not active) is an error naming both. The daemon
// keeps the names and profiles and recomputes the selection on every
// reload, so resources added to the file later follow the same rule.

// ErrUnselectable is wrapped by selection errors: a requested resource
// needs one that its profiles leave out.
var ErrUnselectable = errors.New("needs a resource left out by its profiles")

// selectionSpec is the daemon's record of what `up`s asked for.
type selectionSpec struct {
	all      bool     // the whole project (a plain up)
	names    []string // requested by name, sorted, unique
	profiles []string // active, sorted, unique
}

// add widens s: more names and profiles; all once a plain up asked.
func (s selectionSpec) add(all bool, names, profiles []string) selectionSpec {
	return selectionSpec{all: s.all || all, names: union(s.names, names), profiles: union(s.profiles, profiles)}
}

func union(a, b []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, x := range append(append([]string(nil), a...), b...) {
		if x != "" && !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	sort.Strings(out)
	return out
}

// Select computes the selection of g for `up` with names and active
// profiles. Unknown names are an error. A selected resource that needs a
// resource out of the selection is reported in Blocked (it waits) and in
// the returned error, which names both (and wraps ErrUnselectable); the
// Selection is valid either way.
func Select(g *model.Graph, names, profiles []string) (reconcile.Selection, error) {
	return selectFor(g, selectionSpec{all: len(names) == 0, names: names, profiles: profiles})
}

// selectFor computes the selection of a spec: the whole project (by
// profile) if spec.all, plus the named resources and what they need.
func selectFor(g *model.Graph, spec selectionSpec) (reconcile.Selection, error) {
	names, profiles := spec.names, spec.profiles
	active := map[string]bool{}
	for _, p := range profiles {
		active[p] = true
	}
	profiled := func(r *model.Resource) bool {
		if len(r.Profiles) == 0 {
			return true
		}
		for _, p := range r.Profiles {
			if active[p] {
				return true
			}
		}
		return false
	}
	var unknown []string
	for _, n := range names {
		if g.Resources[n] == nil {
			unknown = append(unknown, n)
		}
	}
	if len(unknown) > 0 {
		return reconcile.Selection{}, fmt.Errorf("no resource named %s in %s", strings.Join(quoteAll(unknown), ", "), g.Filename)
	}
	sel := reconcile.Selection{Enabled: map[string]bool{}, Blocked: map[string]string{}}
	named := map[string]bool{}
	for _, n := range names {
		named[n] = true
	}
	if spec.all {
		for n, r := range g.Resources {
			if profiled(r) {
				sel.Enabled[n] = true
			}
		}
	}
	if len(names) > 0 {
		sel.Requested = map[string]bool{}
		var visit func(n string)
		visit = func(n string) {
			if sel.Requested[n] {
				return
			}
			r := g.Resources[n]
			if r == nil {
				return
			}
			// A needed resource left out by its profiles is not pulled
			// in: naming it (or its profile) is the user's call.
			if !named[n] && !profiled(r) {
				return
			}
			sel.Requested[n] = true
			sel.Enabled[n] = true
			for _, d := range r.DependsOn {
				visit(d)
			}
		}
		for _, n := range names {
			visit(n)
		}
	}
	// Which selected resource needs one that is out?
	var problems []string
	for _, n := range g.Order {
		r := g.Resources[n]
		if !sel.Enabled[n] || !runs(r) {
			continue
		}
		if !r.Autostart && !sel.Requested[n] {
			continue // not started by up anyway; `start` checks its own
		}
		if why := needsOut(g, r, sel, profiled, named); why != "" {
			sel.Blocked[n] = why
			problems = append(problems, why)
		}
	}
	if len(problems) > 0 {
		return sel, fmt.Errorf("%w: %s", ErrUnselectable, strings.Join(problems, "; "))
	}
	return sel, nil
}

// needsOut returns why r cannot start under sel: the first resource it
// depends on that the selection leaves out by profile, or "".
func needsOut(g *model.Graph, r *model.Resource, sel reconcile.Selection, profiled func(*model.Resource) bool, named map[string]bool) string {
	for _, d := range r.DependsOn {
		dep := g.Resources[d]
		if dep == nil || !runs(dep) || sel.Enabled[d] || named[d] || profiled(dep) {
			continue
		}
		return fmt.Sprintf("%s needs %s (%s), which is only in profile %s: add %s, or name %s too",
			r.Name, d, edgeKind(r, d), strings.Join(quoteAll(dep.Profiles), " or "), profileFlags(dep.Profiles), d)
	}
	return ""
}

// NeedsForStart checks `start NAME`: what NAME needs, transitively, must
// be allowed to run — selected, already running (allowed reports both),
// or free of profiles; one left out by its profiles is an error naming
// both. It returns the closure of what NAME needs, dependencies first and
// NAME last, for the caller to start.
func NeedsForStart(g *model.Graph, name string, allowed func(string) bool) ([]string, error) {
	if g.Resources[name] == nil {
		return nil, fmt.Errorf("no resource named %q", name)
	}
	var order []string
	seen := map[string]bool{}
	var problems []string
	var visit func(n string)
	visit = func(n string) {
		if seen[n] {
			return
		}
		seen[n] = true
		r := g.Resources[n]
		if r == nil {
			return
		}
		for _, d := range r.DependsOn {
			dep := g.Resources[d]
			if dep == nil {
				continue
			}
			if runs(dep) && len(dep.Profiles) > 0 && !allowed(d) {
				problems = append(problems, fmt.Sprintf("%s needs %s (%s), which is only in profile %s: start %s first, or run `apphostd up %s`",
					n, d, edgeKind(r, d), strings.Join(quoteAll(dep.Profiles), " or "), d, profileFlags(dep.Profiles)))
				continue
			}
			visit(d)
		}
		order = append(order, n)
	}
	visit(name)
	if len(problems) > 0 {
		return nil, fmt.Errorf("%w: %s", ErrUnselectable, strings.Join(problems, "; "))
	}
	return order, nil
}

// runs reports whether r is something that runs (a profile matters).
func runs(r *model.Resource) bool {
	return r.BaseKind == model.KindExecutable || r.BaseKind == model.KindContainer
}

// edgeKind names how r needs dep, for messages.
func edgeKind(r *model.Resource, dep string) string {
	for _, l := range []struct {
		name string
		refs []model.Ref
	}{{"wait_for", r.WaitFor}, {"wait_for_completion", r.WaitForCompletion}, {"references", r.References}} {
		for _, ref := range l.refs {
			if ref.Name == dep {
				return l.name
			}
		}
	}
	return "an expression refers to it"
}

func profileFlags(ps []string) string {
	if len(ps) == 0 {
		return ""
	}
	return "--profile " + ps[0]
}

func quoteAll(xs []string) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = fmt.Sprintf("%q", x)
	}
	return out
}
