package model

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// ExprString returns an expression's canonical source text: a walk of its
// hclsyntax tree printed in one normal form, independent of formatting,
// comments, quoting style and front end. An HCL file and its YAML mirror
// yield the same text: "${x}" prints as x, a template without
// interpolations as a quoted string. It feeds SpecHash and the JSON graph.
func ExprString(expr hcl.Expression) string {
	var b strings.Builder
	writeExpr(&b, expr, 0)
	return b.String()
}

const maxCanonDepth = 256

func writeExpr(b *strings.Builder, expr hcl.Expression, depth int) {
	if depth > maxCanonDepth {
		b.WriteString("...")
		return
	}
	d := depth + 1
	switch e := expr.(type) {
	case nil:
		b.WriteString("null")
	case *hclsyntax.LiteralValueExpr:
		writeValue(b, e.Val)
	case *hclsyntax.TemplateExpr:
		if s, ok := literalString(e); ok {
			b.WriteString(quoteHCL(s))
			return
		}
		b.WriteByte('"')
		for _, p := range e.Parts {
			if lit, ok := p.(*hclsyntax.LiteralValueExpr); ok && lit.Val.Type() == cty.String && !lit.Val.IsNull() {
				q := quoteHCL(lit.Val.AsString())
				b.WriteString(q[1 : len(q)-1])
				continue
			}
			b.WriteString("${")
			writeExpr(b, p, d)
			b.WriteByte('}')
		}
		b.WriteByte('"')
	case *hclsyntax.TemplateWrapExpr:
		writeExpr(b, e.Wrapped, d)
	case *hclsyntax.TemplateJoinExpr:
		b.WriteString("join(")
		writeExpr(b, e.Tuple, d)
		b.WriteByte(')')
	case *hclsyntax.ScopeTraversalExpr:
		b.WriteString(traversalString(e.Traversal))
	case *hclsyntax.RelativeTraversalExpr:
		writeExpr(b, e.Source, d)
		b.WriteString(traversalString(e.Traversal))
	case *hclsyntax.FunctionCallExpr:
		b.WriteString(e.Name)
		b.WriteByte('(')
		for i, a := range e.Args {
			if i > 0 {
				b.WriteString(", ")
			}
			writeExpr(b, a, d)
		}
		if e.ExpandFinal {
			b.WriteString("...")
		}
		b.WriteByte(')')
	case *hclsyntax.ConditionalExpr:
		writeExpr(b, e.Condition, d)
		b.WriteString(" ? ")
		writeExpr(b, e.TrueResult, d)
		b.WriteString(" : ")
		writeExpr(b, e.FalseResult, d)
	case *hclsyntax.BinaryOpExpr:
		b.WriteByte('(')
		writeExpr(b, e.LHS, d)
		b.WriteString(" " + opString(e.Op) + " ")
		writeExpr(b, e.RHS, d)
		b.WriteByte(')')
	case *hclsyntax.UnaryOpExpr:
		b.WriteString(opString(e.Op))
		writeExpr(b, e.Val, d)
	case *hclsyntax.ParenthesesExpr:
		writeExpr(b, e.Expression, d)
	case *hclsyntax.TupleConsExpr:
		b.WriteByte('[')
		for i, x := range e.Exprs {
			if i > 0 {
				b.WriteString(", ")
			}
			writeExpr(b, x, d)
		}
		b.WriteByte(']')
	case *hclsyntax.ObjectConsExpr:
		b.WriteByte('{')
		for i, it := range e.Items {
			if i > 0 {
				b.WriteString(", ")
			}
			writeExpr(b, it.KeyExpr, d)
			b.WriteString(" = ")
			writeExpr(b, it.ValueExpr, d)
		}
		b.WriteByte('}')
	case *hclsyntax.ObjectConsKeyExpr:
		if !e.ForceNonLiteral {
			if kw := hcl.ExprAsKeyword(e.Wrapped); kw != "" {
				b.WriteString(kw)
				return
			}
			if s, ok := literalString(e.Wrapped); ok && hclsyntax.ValidIdentifier(s) {
				b.WriteString(s)
				return
			}
		}
		if e.ForceNonLiteral {
			b.WriteByte('(')
			writeExpr(b, e.Wrapped, d)
			b.WriteByte(')')
			return
		}
		writeExpr(b, e.Wrapped, d)
	case *hclsyntax.IndexExpr:
		writeExpr(b, e.Collection, d)
		b.WriteByte('[')
		writeExpr(b, e.Key, d)
		b.WriteByte(']')
	case *hclsyntax.SplatExpr:
		writeExpr(b, e.Source, d)
		b.WriteString("[*]")
		writeExpr(b, e.Each, d)
	case *hclsyntax.AnonSymbolExpr:
	case *hclsyntax.ForExpr:
		open, close := "[", "]"
		if e.KeyExpr != nil {
			open, close = "{", "}"
		}
		b.WriteString(open + "for ")
		if e.KeyVar != "" {
			b.WriteString(e.KeyVar + ", ")
		}
		b.WriteString(e.ValVar + " in ")
		writeExpr(b, e.CollExpr, d)
		b.WriteString(" : ")
		if e.KeyExpr != nil {
			writeExpr(b, e.KeyExpr, d)
			b.WriteString(" => ")
		}
		writeExpr(b, e.ValExpr, d)
		if e.Group {
			b.WriteString("...")
		}
		if e.CondExpr != nil {
			b.WriteString(" if ")
			writeExpr(b, e.CondExpr, d)
		}
		b.WriteString(close)
	default:
		fmt.Fprintf(b, "<%T>", expr)
	}
}

func opString(op *hclsyntax.Operation) string {
	switch op {
	case hclsyntax.OpLogicalOr:
		return "||"
	case hclsyntax.OpLogicalAnd:
		return "&&"
	case hclsyntax.OpLogicalNot:
		return "!"
	case hclsyntax.OpEqual:
		return "=="
	case hclsyntax.OpNotEqual:
		return "!="
	case hclsyntax.OpGreaterThan:
		return ">"
	case hclsyntax.OpGreaterThanOrEqual:
		return ">="
	case hclsyntax.OpLessThan:
		return "<"
	case hclsyntax.OpLessThanOrEqual:
		return "<="
	case hclsyntax.OpAdd:
		return "+"
	case hclsyntax.OpSubtract, hclsyntax.OpNegate:
		return "-"
	case hclsyntax.OpMultiply:
		return "*"
	case hclsyntax.OpDivide:
		return "/"
	case hclsyntax.OpModulo:
		return "%"
	}
	return "?"
}

func writeValue(b *strings.Builder, v cty.Value) {
	switch {
	case v.IsNull():
		b.WriteString("null")
	case !v.IsKnown():
		b.WriteString("(unknown)")
	case v.Type() == cty.String:
		b.WriteString(quoteHCL(v.AsString()))
	case v.Type() == cty.Number:
		b.WriteString(v.AsBigFloat().Text('g', -1))
	case v.Type() == cty.Bool:
		b.WriteString(strconv.FormatBool(v.True()))
	default:
		fmt.Fprintf(b, "<%s>", v.Type().FriendlyName())
	}
}

// quoteHCL quotes s as an HCL string literal, escaping template sequences.
func quoteHCL(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch ch {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case '$', '%':
			b.WriteByte(ch)
			if i+1 < len(s) && s[i+1] == '{' {
				b.WriteByte(ch)
			}
		default:
			if ch < 0x20 {
				fmt.Fprintf(&b, `\u%04x`, ch)
			} else {
				b.WriteByte(ch)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}

// traversalString prints a traversal as written: root.attr["key"][0].
func traversalString(t hcl.Traversal) string {
	var b strings.Builder
	for _, s := range t {
		switch s := s.(type) {
		case hcl.TraverseRoot:
			b.WriteString(s.Name)
		case hcl.TraverseAttr:
			b.WriteByte('.')
			b.WriteString(s.Name)
		case hcl.TraverseIndex:
			b.WriteByte('[')
			writeValue(&b, s.Key)
			b.WriteByte(']')
		case hcl.TraverseSplat:
			b.WriteString("[*]")
		}
	}
	return b.String()
}
