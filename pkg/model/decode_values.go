package model

import (
	"fmt"
	"math/big"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// Constant and expression decoding helpers shared by the base kinds and
// exported for integration kinds' Expand functions. Each appends its
// diagnostics to *diags and reports whether the attribute was set (a null
// value counts as unset).

func isNullExpr(expr hcl.Expression) bool {
	lit, ok := expr.(*hclsyntax.LiteralValueExpr)
	return ok && lit.Val.IsNull()
}

func errAt(rng hcl.Range, summary, detail string) *hcl.Diagnostic {
	return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: detail, Subject: &rng}
}

func errCtx(subject, context hcl.Range, summary, detail string) *hcl.Diagnostic {
	return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: detail, Subject: &subject, Context: &context}
}

// constValue evaluates a structural attribute, which must not reference
// anything, and converts it to ty.
func constValue(attr *hcl.Attribute, ty cty.Type, diags *hcl.Diagnostics) (cty.Value, bool) {
	if attr == nil || isNullExpr(attr.Expr) {
		return cty.NilVal, false
	}
	return constExprValue(attr.Name, attr.Expr, attr.Range, ty, diags)
}

func constExprValue(name string, expr hcl.Expression, context hcl.Range, ty cty.Type, diags *hcl.Diagnostics) (cty.Value, bool) {
	if vars := expr.Variables(); len(vars) > 0 {
		*diags = append(*diags, errCtx(vars[0].SourceRange(), context, "Reference not allowed here",
			fmt.Sprintf("The value of %s must be a constant: it shapes the graph and is read before anything runs, so it cannot refer to %s.", name, traversalString(vars[0]))))
		return cty.NilVal, false
	}
	v, d := expr.Value(nil)
	if d.HasErrors() {
		*diags = append(*diags, d...)
		return cty.NilVal, false
	}
	if v.IsNull() {
		return cty.NilVal, false
	}
	cv, err := convert.Convert(v, ty)
	if err != nil || !cv.IsKnown() {
		*diags = append(*diags, errCtx(expr.Range(), context, "Incorrect attribute value type",
			fmt.Sprintf("Inappropriate value for %s: %s required.", name, ty.FriendlyName())))
		return cty.NilVal, false
	}
	return cv, true
}

// ConstString decodes an optional constant string attribute of body.
func (b *Body) ConstString(name string, diags *hcl.Diagnostics) (string, bool) {
	v, ok := constValue(b.Attributes[name], cty.String, diags)
	if !ok {
		return "", false
	}
	return v.AsString(), true
}

// ConstBool decodes an optional constant bool attribute of body.
func (b *Body) ConstBool(name string, diags *hcl.Diagnostics) (bool, bool) {
	v, ok := constValue(b.Attributes[name], cty.Bool, diags)
	if !ok {
		return false, false
	}
	return v.True(), true
}

// ConstInt decodes an optional constant whole-number attribute of body.
func (b *Body) ConstInt(name string, diags *hcl.Diagnostics) (int, bool) {
	attr := b.Attributes[name]
	v, ok := constValue(attr, cty.Number, diags)
	if !ok {
		return 0, false
	}
	bf := v.AsBigFloat()
	if !bf.IsInt() {
		*diags = append(*diags, errCtx(attr.Expr.Range(), attr.Range, "Invalid number", fmt.Sprintf("%s must be a whole number.", name)))
		return 0, false
	}
	i, acc := bf.Int64()
	if acc != big.Exact || i > 1<<31 || i < -(1<<31) {
		*diags = append(*diags, errCtx(attr.Expr.Range(), attr.Range, "Invalid number", fmt.Sprintf("%s is out of range.", name)))
		return 0, false
	}
	return int(i), true
}

// ConstDuration decodes an optional non-negative Go duration string ("5s").
func (b *Body) ConstDuration(name string, diags *hcl.Diagnostics) (time.Duration, bool) {
	attr := b.Attributes[name]
	s, ok := b.ConstString(name, diags)
	if !ok {
		return 0, false
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		*diags = append(*diags, errCtx(attr.Expr.Range(), attr.Range, "Invalid duration",
			fmt.Sprintf("%s must be a non-negative duration such as \"500ms\", \"5s\" or \"1m\"; got %q.", name, s)))
		return 0, false
	}
	return d, true
}

// ConstStringList decodes an optional list of constant strings.
func (b *Body) ConstStringList(name string, diags *hcl.Diagnostics) ([]string, bool) {
	attr := b.Attributes[name]
	v, ok := constValue(attr, cty.List(cty.String), diags)
	if !ok {
		return nil, false
	}
	out := make([]string, 0, v.LengthInt())
	for it := v.ElementIterator(); it.Next(); {
		_, ev := it.Element()
		if ev.IsNull() {
			*diags = append(*diags, errCtx(attr.Expr.Range(), attr.Range, "Incorrect attribute value type", name+" must not contain null."))
			return nil, false
		}
		out = append(out, ev.AsString())
	}
	return out, true
}

// ConstStringMap decodes an optional map of constant strings.
func (b *Body) ConstStringMap(name string, diags *hcl.Diagnostics) (map[string]string, bool) {
	attr := b.Attributes[name]
	v, ok := constValue(attr, cty.Map(cty.String), diags)
	if !ok {
		return nil, false
	}
	out := make(map[string]string, v.LengthInt())
	for it := v.ElementIterator(); it.Next(); {
		k, ev := it.Element()
		if ev.IsNull() {
			*diags = append(*diags, errCtx(attr.Expr.Range(), attr.Range, "Incorrect attribute value type", name+" must not contain null."))
			return nil, false
		}
		out[k.AsString()] = ev.AsString()
	}
	return out, true
}

// StringExpr returns an optional string-valued expression, kept
// unevaluated for late binding. A constant value is type-checked now.
func (b *Body) StringExpr(name string, diags *hcl.Diagnostics) hcl.Expression {
	attr := b.Attributes[name]
	if attr == nil || isNullExpr(attr.Expr) {
		return nil
	}
	checkStringExpr(name, attr.Expr, attr.Range, diags)
	return attr.Expr
}

// StringListExprs returns an optional list of string-valued expressions.
// The list itself must be written as a list; its elements may refer to
// runtime values.
func (b *Body) StringListExprs(name string, diags *hcl.Diagnostics) []hcl.Expression {
	attr := b.Attributes[name]
	if attr == nil || isNullExpr(attr.Expr) {
		return nil
	}
	elems, d := hcl.ExprList(attr.Expr)
	if d.HasErrors() {
		*diags = append(*diags, errCtx(attr.Expr.Range(), attr.Range, "Incorrect attribute value type",
			fmt.Sprintf("%s must be a list of strings, such as [\"a\", \"b\"].", name)))
		return nil
	}
	out := make([]hcl.Expression, 0, len(elems))
	for _, e := range elems {
		if isNullExpr(e) {
			*diags = append(*diags, errCtx(e.Range(), attr.Range, "Incorrect attribute value type", name+" must not contain null."))
			continue
		}
		checkStringExpr(name, e, attr.Range, diags)
		out = append(out, e)
	}
	return out
}

// checkStringExpr type-checks an expression that has no references.
func checkStringExpr(name string, expr hcl.Expression, context hcl.Range, diags *hcl.Diagnostics) {
	if _, ok := literalString(expr); ok {
		return // the common case, and certainly a string
	}
	if len(expr.Variables()) > 0 {
		return
	}
	v, d := expr.Value(nil)
	if d.HasErrors() {
		// Function calls need an EvalContext; they are checked at link time.
		if hasFunctionCall(expr) {
			return
		}
		*diags = append(*diags, d...)
		return
	}
	if _, err := convert.Convert(v, cty.String); err != nil || v.IsNull() {
		*diags = append(*diags, errCtx(expr.Range(), context, "Incorrect attribute value type",
			fmt.Sprintf("Inappropriate value for %s: string required.", name)))
	}
}

func hasFunctionCall(expr hcl.Expression) bool {
	node, ok := expr.(hclsyntax.Node)
	if !ok {
		return false
	}
	found := false
	_ = hclsyntax.VisitAll(node, func(n hclsyntax.Node) hcl.Diagnostics {
		if _, ok := n.(*hclsyntax.FunctionCallExpr); ok {
			found = true
		}
		return nil
	})
	return found
}

// MapExprs returns the key/value pairs of an optional map-valued attribute
// with constant string keys, in source order. Duplicate keys are reported
// naming the earlier one.
func (b *Body) MapExprs(name string, diags *hcl.Diagnostics) []EnvVar {
	attr := b.Attributes[name]
	if attr == nil || isNullExpr(attr.Expr) {
		return nil
	}
	pairs, d := hcl.ExprMap(attr.Expr)
	if d.HasErrors() {
		*diags = append(*diags, errCtx(attr.Expr.Range(), attr.Range, "Incorrect attribute value type",
			fmt.Sprintf("%s must be a map, such as { NAME = \"value\" }.", name)))
		return nil
	}
	seen := map[string]hcl.Range{}
	out := make([]EnvVar, 0, len(pairs))
	for _, p := range pairs {
		kv, ok := constExprValue(name+" key", p.Key, attr.Range, cty.String, diags)
		if !ok {
			continue
		}
		k := kv.AsString()
		if prev, dup := seen[k]; dup {
			*diags = append(*diags, errCtx(p.Key.Range(), attr.Range, "Duplicate key",
				fmt.Sprintf("%s already has a key %q, defined at %s.", name, k, posString(prev))))
			continue
		}
		seen[k] = p.Key.Range()
		if isNullExpr(p.Value) {
			*diags = append(*diags, errCtx(p.Value.Range(), attr.Range, "Incorrect attribute value type",
				fmt.Sprintf("%s.%s must not be null.", name, k)))
			continue
		}
		checkStringExpr(name+"."+k, p.Value, attr.Range, diags)
		out = append(out, EnvVar{Name: k, Value: p.Value, Range: hcl.RangeBetween(p.Key.Range(), p.Value.Range())})
	}
	return out
}

// refTraversal extracts a resource traversal from a list element: a bare
// traversal (container.cache) or, as YAML writes it, a literal string
// holding one ("container.cache").
func refTraversal(expr hcl.Expression) (hcl.Traversal, hcl.Diagnostics) {
	if w, ok := expr.(*hclsyntax.TemplateWrapExpr); ok {
		expr = w.Wrapped
	}
	if t, d := hcl.AbsTraversalForExpr(expr); !d.HasErrors() {
		return t, nil
	}
	if s, ok := literalString(expr); ok {
		start := expr.Range().Start
		t, d := hclsyntax.ParseTraversalAbs([]byte(s), expr.Range().Filename, start)
		if !d.HasErrors() {
			return t, nil
		}
	}
	return nil, hcl.Diagnostics{errAt(expr.Range(), "Invalid reference",
		"Expected a resource reference such as container.cache (in YAML, the string \"container.cache\").")}
}

// literalString returns the value of an expression that is a plain string
// literal (a template without interpolations, or a literal value).
func literalString(expr hcl.Expression) (string, bool) {
	switch e := expr.(type) {
	case *hclsyntax.LiteralValueExpr:
		if e.Val.Type() == cty.String && !e.Val.IsNull() {
			return e.Val.AsString(), true
		}
	case *hclsyntax.TemplateExpr:
		s := ""
		for _, p := range e.Parts {
			lit, ok := p.(*hclsyntax.LiteralValueExpr)
			if !ok || lit.Val.Type() != cty.String || lit.Val.IsNull() {
				return "", false
			}
			s += lit.Val.AsString()
		}
		return s, true
	}
	return "", false
}

// TemplateExpr parses src as an HCL template for an integration kind's
// generated expression (e.g. a connection string). rng is where
// diagnostics about it point, usually the block's DefRange.
func TemplateExpr(src string, rng hcl.Range) (hcl.Expression, hcl.Diagnostics) {
	if d := checkNesting(rng.Filename, []byte(src), rng.Start, true); d.HasErrors() {
		return nil, d
	}
	e, d := hclsyntax.ParseTemplate([]byte(src), rng.Filename, rng.Start)
	if d.HasErrors() {
		return nil, d
	}
	return e, d
}
