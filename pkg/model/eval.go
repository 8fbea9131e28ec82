package model

import (
	"fmt"
	"net"
	"strconv"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
)

// functions available to expressions; keep in sync with allowedFunctions.
var functions = map[string]function.Function{
	"upper":  stdlib.UpperFunc,
	"lower":  stdlib.LowerFunc,
	"join":   stdlib.JoinFunc,
	"format": stdlib.FormatFunc,
}

// EvalContext builds the late-binding evaluation context for g from v:
// KIND.NAME.endpoint.EP.{url,host,port,target_port,host_port,scheme},
// parameter.NAME.value and KIND.NAME.ATTR for integration attributes.
// Every value the graph declares is present; what v lacks is unknown, so
// Resolve can name it instead of failing on a missing attribute.
func EvalContext(g *Graph, v Values) *hcl.EvalContext {
	byKind := map[string]map[string]cty.Value{}
	for name, r := range g.Resources {
		rv := v[name]
		obj := map[string]cty.Value{}
		if len(r.Endpoints) > 0 || (rv != nil && len(rv.Endpoints) > 0) {
			eps := map[string]cty.Value{}
			for _, ep := range r.Endpoints {
				eps[ep.Name] = endpointValue(rv, ep.Name)
			}
			if rv != nil {
				for epName := range rv.Endpoints {
					if _, ok := eps[epName]; !ok {
						eps[epName] = endpointValue(rv, epName)
					}
				}
			}
			obj["endpoint"] = cty.ObjectVal(eps)
		}
		attrs := map[string]bool{}
		if r.BaseKind == KindParameter {
			attrs["value"] = true
		}
		for k := range r.Attributes {
			attrs[k] = true
		}
		if rv != nil {
			for k := range rv.Attrs {
				attrs[k] = true
			}
		}
		for k := range attrs {
			if k == "endpoint" {
				continue
			}
			if rv != nil {
				if s, ok := rv.Attrs[k]; ok {
					obj[k] = cty.StringVal(s)
					continue
				}
			}
			obj[k] = cty.UnknownVal(cty.String)
		}
		m := byKind[r.Kind]
		if m == nil {
			m = map[string]cty.Value{}
			byKind[r.Kind] = m
		}
		m[name] = cty.ObjectVal(obj)
	}
	vars := make(map[string]cty.Value, len(byKind))
	for kind, m := range byKind {
		vars[kind] = cty.ObjectVal(m)
	}
	return &hcl.EvalContext{Variables: vars, Functions: functions}
}

func endpointValue(rv *ResourceValues, name string) cty.Value {
	unknownStr, unknownNum := cty.UnknownVal(cty.String), cty.UnknownVal(cty.Number)
	if rv == nil {
		return cty.ObjectVal(map[string]cty.Value{
			"url": unknownStr, "host": unknownStr, "port": unknownNum,
			"target_port": unknownNum, "host_port": unknownStr, "scheme": unknownStr,
		})
	}
	ev, ok := rv.Endpoints[name]
	if !ok {
		return endpointValue(nil, name)
	}
	str := func(s string) cty.Value {
		if s == "" {
			return unknownStr
		}
		return cty.StringVal(s)
	}
	num := func(n int) cty.Value {
		if n == 0 {
			return unknownNum
		}
		return cty.NumberIntVal(int64(n))
	}
	hostPort := unknownStr
	if ev.Host != "" && ev.Port != 0 {
		hostPort = cty.StringVal(net.JoinHostPort(ev.Host, strconv.Itoa(ev.Port)))
	}
	return cty.ObjectVal(map[string]cty.Value{
		"url": str(ev.URL), "host": str(ev.Host), "port": num(ev.Port),
		"target_port": num(ev.TargetPort), "host_port": hostPort, "scheme": str(ev.Scheme),
	})
}

// Resolve evaluates r's expressions in ctx (from EvalContext). A value
// that is not available yet (an unready parameter, an unallocated port)
// yields a "Value not available" diagnostic naming the reference, so the
// caller can hold the resource in Waiting; the spec is then partial.
func (r *Resource) Resolve(ctx *hcl.EvalContext) (*ResolvedSpec, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	spec := &ResolvedSpec{}
	str := func(attr string, e hcl.Expression) string {
		s, _, d := evalString(ctx, attr, e)
		diags = append(diags, d...)
		return s
	}
	strs := func(attr string, es []hcl.Expression) []string {
		if es == nil {
			return nil
		}
		out := make([]string, 0, len(es))
		for _, e := range es {
			out = append(out, str(attr, e))
		}
		return out
	}
	if s := r.Executable; s != nil {
		spec.Command = str("command", s.Command)
		spec.Args = strs("args", s.Args)
		spec.Dir = str("dir", s.Dir)
	}
	if s := r.Container; s != nil {
		spec.Image = str("image", s.Image)
		spec.Entrypoint = strs("entrypoint", s.Entrypoint)
		spec.Args = strs("args", s.Args)
		spec.User = str("user", s.User)
		spec.WorkingDir = str("working_dir", s.WorkingDir)
	}
	if len(r.Env) > 0 {
		spec.Env = make(map[string]string, len(r.Env))
		for _, ev := range r.Env {
			spec.Env[ev.Name] = str("env."+ev.Name, ev.Value)
		}
	}
	if len(r.Attributes) > 0 {
		spec.Attributes = make(map[string]string, len(r.Attributes))
		for _, k := range sortedKeys(r.Attributes) {
			spec.Attributes[k] = str(k, r.Attributes[k])
		}
	}
	return spec, diags
}

// EvalParameterDefault evaluates a parameter's default. ok is false when
// the parameter has no default or the value is not available yet (diags
// then says which reference is missing).
func (r *Resource) EvalParameterDefault(ctx *hcl.EvalContext) (value string, ok bool, diags hcl.Diagnostics) {
	if r.Parameter == nil || r.Parameter.Default == nil {
		return "", false, nil
	}
	return evalString(ctx, "default", r.Parameter.Default)
}

// evalString evaluates one string-valued expression. Evaluation errors and
// unknown results become diagnostics; it never panics on missing values.
func evalString(ctx *hcl.EvalContext, attr string, e hcl.Expression) (s string, ok bool, diags hcl.Diagnostics) {
	if e == nil {
		return "", false, nil
	}
	defer func() {
		if p := recover(); p != nil {
			rng := e.Range()
			s, ok = "", false
			diags = append(diags, errAt(rng, "Internal error", fmt.Sprintf("evaluating %s panicked: %v", attr, p)))
		}
	}()
	for _, t := range e.Variables() {
		v, d := t.TraverseAbs(ctx)
		if d.HasErrors() {
			diags = append(diags, redact(d)...)
			continue
		}
		if !v.IsWhollyKnown() {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Value not available",
				Detail:   fmt.Sprintf("%s is not known yet (needed by %s).", traversalString(t), attr),
				Subject:  t.SourceRange().Ptr(),
			})
		}
	}
	if diags.HasErrors() {
		return "", false, diags
	}
	v, d := e.Value(ctx)
	diags = append(diags, redact(d)...)
	if d.HasErrors() {
		return "", false, diags
	}
	if !v.IsWhollyKnown() {
		return "", false, append(diags, errAt(e.Range(), "Value not available", fmt.Sprintf("%s is not known yet.", attr)))
	}
	if v.IsNull() {
		return "", false, append(diags, errAt(e.Range(), "Invalid value", fmt.Sprintf("%s evaluated to null.", attr)))
	}
	sv, err := convert.Convert(v, cty.String)
	if err != nil {
		return "", false, append(diags, errAt(e.Range(), "Incorrect value type", fmt.Sprintf("%s must be a string: %v.", attr, err)))
	}
	return sv.AsString(), true, diags
}

// redact drops the expression and context hclsyntax attaches to evaluation
// diagnostics: the text writer would print the referenced variables'
// values, and those include secrets.
func redact(diags hcl.Diagnostics) hcl.Diagnostics {
	for _, d := range diags {
		d.Expression, d.EvalContext = nil, nil
	}
	return diags
}
