package model

import (
	"fmt"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// maxNesting bounds bracket/quote/interpolation nesting and chains of
// unary operators. hclsyntax parses recursively, so unbounded nesting in a
// hostile file could exhaust the stack, which Go cannot recover from.
const maxNesting = 64

// parseHCL is the HCL front end: native syntax to a format-neutral Body.
func parseHCL(filename string, src []byte) (*Body, hcl.Diagnostics) {
	if !quickNestingOK(src) {
		if diags := checkNesting(filename, src, hcl.InitialPos, false); diags.HasErrors() {
			return nil, diags
		}
	}
	if body, diags, ok := parseHCLParallel(filename, src); ok {
		return convertHCLBody(body), diags
	}
	f, diags := hclsyntax.ParseConfig(src, filename, hcl.InitialPos)
	if diags.HasErrors() {
		return nil, diags
	}
	sb, ok := f.Body.(*hclsyntax.Body)
	if !ok {
		return nil, append(diags, internalError(filename, fmt.Errorf("unexpected body type %T", f.Body)))
	}
	return convertHCLBody(sb), diags
}

func convertHCLBody(sb *hclsyntax.Body) *Body {
	b := &Body{
		Attributes:       make(map[string]*hcl.Attribute, len(sb.Attributes)),
		Range:            sb.SrcRange,
		MissingItemRange: sb.MissingItemRange(),
	}
	for name, a := range sb.Attributes {
		b.Attributes[name] = a.AsHCLAttribute()
	}
	for _, blk := range sb.Blocks {
		b.Blocks = append(b.Blocks, &Block{
			Type:        blk.Type,
			Labels:      blk.Labels,
			LabelRanges: blk.LabelRanges,
			TypeRange:   blk.TypeRange,
			DefRange:    blk.DefRange(),
			Body:        convertHCLBody(blk.Body),
		})
	}
	return b
}

// checkNesting lexes src and rejects nesting deeper than maxNesting before
// the recursive parser sees it. template selects template-mode lexing (YAML
// scalars).
func checkNesting(filename string, src []byte, start hcl.Pos, template bool) hcl.Diagnostics {
	var toks hclsyntax.Tokens
	var diags hcl.Diagnostics
	if template {
		toks, diags = hclsyntax.LexTemplate(src, filename, start)
	} else {
		toks, diags = hclsyntax.LexConfig(src, filename, start)
	}
	_ = diags // the parser reports lexical errors itself, with better context
	depth, unary, cond, splat := 0, 0, 0, 0
	for i := range toks {
		t := &toks[i]
		switch t.Type {
		case hclsyntax.TokenOBrace, hclsyntax.TokenOBrack, hclsyntax.TokenOParen,
			hclsyntax.TokenTemplateInterp, hclsyntax.TokenTemplateControl,
			hclsyntax.TokenOQuote, hclsyntax.TokenOHeredoc:
			depth++
		case hclsyntax.TokenCBrace, hclsyntax.TokenCBrack, hclsyntax.TokenCParen,
			hclsyntax.TokenTemplateSeqEnd, hclsyntax.TokenCQuote, hclsyntax.TokenCHeredoc:
			depth--
		case hclsyntax.TokenComma, hclsyntax.TokenEqual:
			cond, splat = 0, 0
		case hclsyntax.TokenNewline:
			if depth == 0 {
				cond, splat = 0, 0
			}
		case hclsyntax.TokenStar:
			// a[*][*]... : each full splat parses the rest recursively.
			if i > 0 && toks[i-1].Type == hclsyntax.TokenOBrack {
				splat++
			}
		}
		switch t.Type {
		case hclsyntax.TokenBang, hclsyntax.TokenMinus:
			unary++
		default:
			unary = 0
		}
		if t.Type == hclsyntax.TokenQuestion {
			cond++
		}
		if depth > maxNesting || unary > maxNesting || cond > maxNesting || splat > maxNesting {
			rng := t.Range
			return hcl.Diagnostics{{
				Severity: hcl.DiagError,
				Summary:  "Nesting too deep",
				Detail:   fmt.Sprintf("Brackets, strings, operators or conditionals are nested more than %d levels deep here.", maxNesting),
				Subject:  &rng,
			}}
		}
	}
	return nil
}

func internalError(filename string, err error) *hcl.Diagnostic {
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  "Internal error",
		Detail:   fmt.Sprintf("apphostd could not compile %s: %v. This is a bug; please report it with the file.", filename, err),
		Subject:  &hcl.Range{Filename: filename, Start: hcl.InitialPos, End: hcl.InitialPos},
	}
}
