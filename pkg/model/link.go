package model

import (
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// namedExpr is an expression with the attribute it came from, for messages.
type namedExpr struct {
	attr string
	expr hcl.Expression
}

// exprsOf lists every late-bound expression of r.
func exprsOf(r *Resource) []namedExpr {
	var out []namedExpr
	add := func(attr string, e hcl.Expression) {
		if e != nil {
			out = append(out, namedExpr{attr, e})
		}
	}
	addAll := func(attr string, es []hcl.Expression) {
		for _, e := range es {
			add(attr, e)
		}
	}
	if s := r.Executable; s != nil {
		add("command", s.Command)
		addAll("args", s.Args)
		add("dir", s.Dir)
	}
	if s := r.Container; s != nil {
		add("image", s.Image)
		addAll("entrypoint", s.Entrypoint)
		addAll("args", s.Args)
		add("user", s.User)
		add("working_dir", s.WorkingDir)
	}
	if s := r.Parameter; s != nil {
		add("default", s.Default)
	}
	for _, ev := range r.Env {
		add("env."+ev.Name, ev.Value)
	}
	for _, k := range sortedKeys(r.Attributes) {
		add(k, r.Attributes[k])
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// allowedFunctions are the pure functions expressions may call; EvalContext
// provides them.
var allowedFunctions = map[string]bool{"upper": true, "lower": true, "join": true, "format": true}

// link validates every reference and records the dependency edges.
func (c *compiler) link() {
	kindRoots := map[string]bool{KindExecutable: true, KindContainer: true, KindParameter: true, KindVolume: true}
	for _, k := range registeredKinds() {
		kindRoots[k.Name] = true
	}
	for _, r := range c.g.Resources {
		kindRoots[r.Kind] = true
	}
	for _, name := range c.sortedNames() {
		r := c.g.Resources[name]
		for _, ne := range exprsOf(r) {
			c.checkFunctions(ne.expr)
			for _, t := range ne.expr.Variables() {
				if target := c.checkTraversal(r, ne.attr, t, kindRoots); target != "" {
					c.edge(r, target, t.SourceRange())
				}
			}
		}
		c.linkLists(r)
		for _, ref := range c.mountRefs[r.Name] {
			target, ok := c.g.Resources[ref.Name]
			switch {
			case !ok:
				c.diags = append(c.diags, c.undeclared(KindVolume, ref.Name, ref.Range))
			case target.Kind != KindVolume:
				c.diags = append(c.diags, errAt(ref.Range, "Resource kind mismatch",
					fmt.Sprintf("%q is a %s, not a volume.", ref.Name, target.Kind)))
			default:
				c.edge(r, ref.Name, ref.Range)
			}
		}
		if r.Parent != "" {
			if _, ok := c.g.Resources[r.Parent]; !ok {
				c.diags = append(c.diags, internalError(c.filename, fmt.Errorf("%s: parent %q does not exist", r.Name, r.Parent)))
			}
		}
	}
	for name, r := range c.g.Resources {
		deps := make([]string, 0, len(c.edges[name]))
		for to := range c.edges[name] {
			deps = append(deps, to)
		}
		sort.Strings(deps)
		r.DependsOn = deps
	}
}

func (c *compiler) edge(from *Resource, to string, rng hcl.Range) {
	if to == from.Name {
		return
	}
	m := c.edges[from.Name]
	if m == nil {
		m = map[string]hcl.Range{}
		c.edges[from.Name] = m
	}
	if _, ok := m[to]; !ok {
		m[to] = rng
	}
}

func (c *compiler) checkFunctions(expr hcl.Expression) {
	node, ok := expr.(hclsyntax.Node)
	if !ok {
		return
	}
	_ = hclsyntax.VisitAll(node, func(n hclsyntax.Node) hcl.Diagnostics {
		if call, ok := n.(*hclsyntax.FunctionCallExpr); ok && !allowedFunctions[call.Name] {
			c.diags = append(c.diags, errAt(call.NameRange, "Call to unknown function",
				fmt.Sprintf("There is no function named %q. Available: format, join, lower, upper.", call.Name)))
		}
		return nil
	})
}

// checkTraversal validates one reference in an expression of r and
// returns the resource it depends on ("" when invalid).
func (c *compiler) checkTraversal(r *Resource, attr string, t hcl.Traversal, kindRoots map[string]bool) string {
	rng := t.SourceRange()
	root := t.RootName()
	if !kindRoots[root] {
		var roots []string
		for k := range kindRoots {
			roots = append(roots, k)
		}
		sort.Strings(roots)
		c.diags = append(c.diags, errAt(rng, "Unknown reference",
			fmt.Sprintf("%s refers to %q, which is not a resource kind. References start with a kind: %s.%s",
				traversalString(t), root, strings.Join(roots, ", "), suggest(root, roots))))
		return ""
	}
	kind, name, rest, ok := splitRef(t)
	if !ok {
		c.diags = append(c.diags, errAt(rng, "Incomplete reference",
			fmt.Sprintf("%s needs a resource name and a value, e.g. %s.NAME...", traversalString(t), root)))
		return ""
	}
	target, exists := c.g.Resources[name]
	if !exists {
		c.diags = append(c.diags, c.undeclared(kind, name, rng))
		return ""
	}
	if target.Kind != kind {
		c.diags = append(c.diags, errAt(rng, "Resource kind mismatch",
			fmt.Sprintf("%q is a %s, not a %s; write %s.%s.", name, target.Kind, kind, target.Kind, name)))
		return ""
	}
	if target == r && target.BaseKind == KindParameter {
		c.diags = append(c.diags, errAt(rng, "Self-referential parameter",
			fmt.Sprintf("The default of parameter %q cannot refer to its own value.", name)))
		return ""
	}
	steps := traversalNames(rest)
	if len(steps) > 0 && steps[0] == "endpoint" {
		return c.checkEndpointRef(target, t, steps)
	}
	valid := referenceableAttrs(target)
	if len(steps) == 0 {
		c.diags = append(c.diags, errAt(rng, "Incomplete reference",
			fmt.Sprintf("%s is a whole resource; %s needs one of its values: %s.", traversalString(t), attr, strings.Join(valid, ", "))))
		return ""
	}
	if len(steps) != 1 || !containsStr(valid, steps[0]) {
		c.diags = append(c.diags, errAt(rng, "Unsupported attribute",
			fmt.Sprintf("%s %q has no value %q. Available: %s.%s", target.Kind, name, strings.Join(steps, "."), strings.Join(valid, ", "), suggest(steps[0], valid))))
		return ""
	}
	return name
}

func (c *compiler) checkEndpointRef(target *Resource, t hcl.Traversal, steps []string) string {
	rng := t.SourceRange()
	if len(steps) < 2 {
		c.diags = append(c.diags, errAt(rng, "Incomplete reference",
			fmt.Sprintf("%s needs an endpoint name and a value, e.g. %s.http.url.", traversalString(t), traversalString(t))))
		return ""
	}
	if !c.hasEndpoint(target, steps[1]) {
		var epNames []string
		for _, ep := range target.Endpoints {
			epNames = append(epNames, ep.Name)
		}
		detail := fmt.Sprintf("%s %q has no endpoint %q.", target.Kind, target.Name, steps[1])
		if len(epNames) == 0 {
			detail += " It declares no endpoints."
		} else {
			detail += " Endpoints: " + strings.Join(epNames, ", ") + "." + suggest(steps[1], epNames)
		}
		c.diags = append(c.diags, errAt(rng, "Unknown endpoint", detail))
		return ""
	}
	if len(steps) != 3 || !containsStr(endpointAttrs, steps[2]) {
		c.diags = append(c.diags, errAt(rng, "Unsupported attribute",
			fmt.Sprintf("An endpoint reference ends in one of %s; got %s.", strings.Join(endpointAttrs, ", "), traversalString(t))))
		return ""
	}
	return target.Name
}

// hasEndpoint reports whether r declares endpoint name, through an index
// built once per resource (references to one resource can be many).
func (c *compiler) hasEndpoint(r *Resource, name string) bool {
	if c.endpoints == nil {
		c.endpoints = map[string]map[string]bool{}
	}
	idx, ok := c.endpoints[r.Name]
	if !ok {
		idx = make(map[string]bool, len(r.Endpoints))
		for _, ep := range r.Endpoints {
			idx[ep.Name] = true
		}
		c.endpoints[r.Name] = idx
	}
	return idx[name]
}

// referenceableAttrs lists what KIND.NAME.x may read for r.
func referenceableAttrs(r *Resource) []string {
	var out []string
	if len(r.Endpoints) > 0 {
		out = append(out, "endpoint")
	}
	if r.BaseKind == KindParameter {
		out = append(out, "value")
	}
	out = append(out, sortedKeys(r.Attributes)...)
	return out
}

func containsStr(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}

// traversalNames returns the attribute names of a relative traversal;
// index steps become their string key (or "[...]").
func traversalNames(t hcl.Traversal) []string {
	out := make([]string, 0, len(t))
	for _, s := range t {
		switch s := s.(type) {
		case hcl.TraverseAttr:
			out = append(out, s.Name)
		case hcl.TraverseIndex:
			if s.Key.IsKnown() && !s.Key.IsNull() && s.Key.Type().FriendlyName() == "string" {
				out = append(out, s.Key.AsString())
			} else {
				out = append(out, "[...]")
			}
		default:
			out = append(out, "[...]")
		}
	}
	return out
}

// maxSuggestions bounds "did you mean" searches over resource names per
// compilation; past it, errors come without a hint.
const maxSuggestions = 100

func (c *compiler) undeclared(kind, name string, rng hcl.Range) *hcl.Diagnostic {
	hint := ""
	if c.suggestions < maxSuggestions {
		c.suggestions++
		var same []string
		for _, n := range c.sortedNames() {
			if c.g.Resources[n].Kind == kind {
				same = append(same, n)
			}
		}
		hint = suggest(name, same)
	}
	return errAt(rng, "Reference to undeclared resource",
		fmt.Sprintf("No %s named %q is declared.%s", kind, name, hint))
}

// linkLists checks references / wait_for / wait_for_completion.
func (c *compiler) linkLists(r *Resource) {
	written := map[string]listRef{}
	for _, lr := range c.listRefs[r.Name] {
		written[lr.attr+"\x00"+lr.ref.Range.String()] = lr
	}
	for _, l := range []struct {
		attr string
		refs []Ref
	}{{"references", r.References}, {"wait_for", r.WaitFor}, {"wait_for_completion", r.WaitForCompletion}} {
		for _, ref := range l.refs {
			lr, haveKind := written[l.attr+"\x00"+ref.Range.String()]
			target, ok := c.g.Resources[ref.Name]
			switch {
			case !ok:
				kind := "resource"
				if haveKind {
					kind = lr.kind
				}
				c.diags = append(c.diags, c.undeclared(kind, ref.Name, ref.Range))
				continue
			case haveKind && target.Kind != lr.kind:
				c.diags = append(c.diags, errAt(ref.Range, "Resource kind mismatch",
					fmt.Sprintf("%q is a %s, not a %s; write %s.%s.", ref.Name, target.Kind, lr.kind, target.Kind, ref.Name)))
				continue
			case target == r:
				c.diags = append(c.diags, errAt(ref.Range, "Self reference",
					fmt.Sprintf("%s %q cannot list itself in %s.", r.Kind, r.Name, l.attr)))
				continue
			case l.attr != "references" && (target.BaseKind == KindParameter || target.BaseKind == KindVolume):
				c.diags = append(c.diags, errAt(ref.Range, "Invalid "+l.attr+" target",
					fmt.Sprintf("%s waits for executables and containers; %q is a %s, which never runs.", l.attr, ref.Name, target.Kind)))
				continue
			case l.attr == "references" && target.BaseKind == KindVolume:
				c.diags = append(c.diags, errAt(ref.Range, "Invalid references target",
					fmt.Sprintf("%q is a volume; mount it with a mount block instead.", ref.Name)))
				continue
			}
			c.edge(r, ref.Name, ref.Range)
		}
	}
}
