package model

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"go.yaml.in/yaml/v3"
)

// Limits of the YAML front end. Aliases let a small file describe a huge
// tree, so the walk is bounded in depth and in nodes visited.
const maxYAMLDepth = 64

// maxYAMLNodes is a variable only so tests can lower it.
var maxYAMLNodes = 1 << 20

// yamlFront is the YAML front end: it walks yaml.Node trees guided by the
// block schema and produces the same Body the HCL front end produces.
// Every string scalar is parsed as an HCL template whose positions map to
// the scalar in the YAML source.
type yamlFront struct {
	filename string
	src      []byte
	lines    []lineInfo
	nodes    int
	tooBig   bool
	diags    hcl.Diagnostics
}

func parseYAML(filename string, src []byte, schema *BlockSchema) (*Body, hcl.Diagnostics) {
	y := &yamlFront{filename: filename, src: src, lines: indexLines(src)}
	dec := yaml.NewDecoder(bytes.NewReader(src))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return y.emptyBody(), nil
		}
		return nil, hcl.Diagnostics{y.yamlError(err)}
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case errors.Is(err, io.EOF):
	case err != nil:
		return nil, hcl.Diagnostics{y.yamlError(err)}
	default:
		rng := y.nodeRange(&extra)
		return nil, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Multiple YAML documents",
			Detail:   "A project file holds exactly one YAML document; remove the '---' separator and what follows.",
			Subject:  &rng,
		}}
	}
	root := &doc
	if root.Kind == yaml.DocumentNode {
		if len(root.Content) == 0 {
			return y.emptyBody(), nil
		}
		root = root.Content[0]
	}
	body := y.body(root, schema, 0, y.nodeRange(root))
	if y.diags.HasErrors() {
		return nil, y.diags
	}
	return body, y.diags
}

var yamlLineRE = regexp.MustCompile(`line (\d+)`)

func (y *yamlFront) yamlError(err error) *hcl.Diagnostic {
	line := 1
	if m := yamlLineRE.FindStringSubmatch(err.Error()); m != nil {
		if n, convErr := strconv.Atoi(m[1]); convErr == nil && n >= 1 {
			line = n
		}
	}
	rng := y.lineRange(line)
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  "Invalid YAML",
		Detail:   err.Error() + " (the YAML parser names the line where the enclosing construct starts; the mistake is there or just after)",
		Subject:  &rng,
	}
}

func (y *yamlFront) emptyBody() *Body {
	r := hcl.Range{Filename: y.filename, Start: hcl.InitialPos, End: hcl.InitialPos}
	return &Body{Attributes: map[string]*hcl.Attribute{}, Range: r, MissingItemRange: r}
}

func (y *yamlFront) errorf(rng hcl.Range, summary, format string, args ...any) {
	y.diags = append(y.diags, &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  summary,
		Detail:   fmt.Sprintf(format, args...),
		Subject:  &rng,
	})
}

// enter resolves aliases and charges the node budget; it returns nil when
// the walk must stop.
func (y *yamlFront) enter(n *yaml.Node, depth int) *yaml.Node {
	for hops := 0; n != nil && n.Kind == yaml.AliasNode; hops++ {
		if hops > maxYAMLDepth {
			y.errorf(y.nodeRange(n), "YAML nesting too deep", "Aliases refer to each other more than %d times.", maxYAMLDepth)
			return nil
		}
		n = n.Alias
	}
	if n == nil {
		return nil
	}
	if depth > maxYAMLDepth {
		y.errorf(y.nodeRange(n), "YAML nesting too deep", "The document nests more than %d levels deep here.", maxYAMLDepth)
		return nil
	}
	y.nodes++
	if y.nodes > maxYAMLNodes {
		if !y.tooBig {
			y.tooBig = true
			y.errorf(y.nodeRange(n), "YAML document too large", "The document expands (through aliases) to more than %d nodes.", maxYAMLNodes)
		}
		return nil
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

type yamlPair struct{ key, value *yaml.Node }

// pairs returns a mapping's key/value pairs with merge keys (<<) applied:
// explicit keys win over merged ones. Duplicate explicit keys are reported.
func (y *yamlFront) pairs(n *yaml.Node, depth int) []yamlPair {
	var explicit, merged []yamlPair
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
			merged = append(merged, y.mergeSources(v, depth+1)...)
			continue
		}
		if k.Kind != yaml.ScalarNode {
			y.errorf(y.nodeRange(k), "Invalid key", "Mapping keys must be plain strings.")
			continue
		}
		if prev, dup := seen[k.Value]; dup {
			y.errorf(y.nodeRange(k), "Duplicate key", "The key %q was already defined at %s.", k.Value, posString(y.nodeRange(prev)))
			continue
		}
		seen[k.Value] = k
		explicit = append(explicit, yamlPair{k, v})
	}
	for _, p := range merged {
		if _, dup := seen[p.key.Value]; dup || p.key.Kind != yaml.ScalarNode {
			continue
		}
		seen[p.key.Value] = p.key
		explicit = append(explicit, p)
	}
	return explicit
}

func (y *yamlFront) mergeSources(v *yaml.Node, depth int) []yamlPair {
	v = y.enter(v, depth)
	if v == nil {
		return nil
	}
	switch v.Kind {
	case yaml.MappingNode:
		return y.pairs(v, depth)
	case yaml.SequenceNode:
		var out []yamlPair
		for _, item := range v.Content {
			item = y.enter(item, depth+1)
			if item == nil {
				continue
			}
			if item.Kind != yaml.MappingNode {
				y.errorf(y.nodeRange(item), "Invalid merge", "A merge key (<<) takes a mapping or a sequence of mappings.")
				continue
			}
			out = append(out, y.pairs(item, depth+1)...)
		}
		return out
	}
	y.errorf(y.nodeRange(v), "Invalid merge", "A merge key (<<) takes a mapping or a sequence of mappings.")
	return nil
}

// body converts a mapping into a Body: keys naming a nested block of
// schema become Blocks, all other keys become Attributes (the decoder then
// reports the ones schema does not know).
func (y *yamlFront) body(n *yaml.Node, schema *BlockSchema, depth int, header hcl.Range) *Body {
	b := &Body{Attributes: map[string]*hcl.Attribute{}, Range: header, MissingItemRange: header}
	n = y.enter(n, depth)
	if n == nil || isNull(n) {
		return b
	}
	b.Range = y.nodeRange(n)
	if n.Kind != yaml.MappingNode {
		y.errorf(y.nodeRange(n), "Invalid block body", "Expected a mapping of arguments and blocks here, found %s.", describeNode(n))
		return b
	}
	for _, p := range y.pairs(n, depth) {
		keyRange := y.nodeRange(p.key)
		name := p.key.Value
		bs, isBlock := schema.block(name)
		if !isBlock {
			expr := y.expr(p.value, depth+1)
			b.Attributes[name] = &hcl.Attribute{
				Name:      name,
				Expr:      expr,
				Range:     hcl.RangeBetween(keyRange, expr.Range()),
				NameRange: keyRange,
			}
			continue
		}
		v := y.enter(p.value, depth+1)
		if v == nil {
			continue
		}
		switch {
		case bs.Labelled:
			if isNull(v) {
				continue
			}
			if v.Kind != yaml.MappingNode {
				y.errorf(y.nodeRange(v), "Invalid "+name, "%s takes a mapping from name to body, found %s.", name, describeNode(v))
				continue
			}
			for _, lp := range y.pairs(v, depth+1) {
				labelRange := y.nodeRange(lp.key)
				b.Blocks = append(b.Blocks, &Block{
					Type:        name,
					Labels:      []string{lp.key.Value},
					LabelRanges: []hcl.Range{labelRange},
					TypeRange:   keyRange,
					DefRange:    labelRange,
					Body:        y.body(lp.value, bs.Body, depth+2, labelRange),
				})
			}
		case bs.Repeatable:
			if isNull(v) {
				continue
			}
			if v.Kind != yaml.SequenceNode {
				y.errorf(y.nodeRange(v), "Invalid "+name, "%s takes a sequence of mappings, found %s.", name, describeNode(v))
				continue
			}
			for _, item := range v.Content {
				itemRange := y.nodeRange(item)
				b.Blocks = append(b.Blocks, &Block{
					Type:      name,
					TypeRange: keyRange,
					DefRange:  itemRange,
					Body:      y.body(item, bs.Body, depth+2, itemRange),
				})
			}
		default:
			b.Blocks = append(b.Blocks, &Block{
				Type:      name,
				TypeRange: keyRange,
				DefRange:  keyRange,
				Body:      y.body(v, bs.Body, depth+1, keyRange),
			})
		}
	}
	return b
}

func describeNode(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a sequence"
	case yaml.ScalarNode:
		if isNull(n) {
			return "null"
		}
		return fmt.Sprintf("the scalar %q", truncate(n.Value, 40))
	}
	return "an unsupported node"
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// expr converts an attribute value into an hclsyntax expression.
func (y *yamlFront) expr(n *yaml.Node, depth int) hclsyntax.Expression {
	rng := y.nodeRange(n)
	n = y.enter(n, depth)
	if n == nil {
		return &hclsyntax.LiteralValueExpr{Val: cty.NullVal(cty.DynamicPseudoType), SrcRange: rng}
	}
	rng = y.nodeRange(n)
	switch n.Kind {
	case yaml.SequenceNode:
		t := &hclsyntax.TupleConsExpr{SrcRange: rng, OpenRange: y.pointRange(n.Line, n.Column)}
		for _, item := range n.Content {
			t.Exprs = append(t.Exprs, y.expr(item, depth+1))
		}
		return t
	case yaml.MappingNode:
		o := &hclsyntax.ObjectConsExpr{SrcRange: rng, OpenRange: y.pointRange(n.Line, n.Column)}
		for _, p := range y.pairs(n, depth) {
			kr := y.nodeRange(p.key)
			o.Items = append(o.Items, hclsyntax.ObjectConsItem{
				KeyExpr: &hclsyntax.ObjectConsKeyExpr{
					Wrapped: &hclsyntax.LiteralValueExpr{Val: cty.StringVal(p.key.Value), SrcRange: kr},
				},
				ValueExpr: y.expr(p.value, depth+1),
			})
		}
		return o
	case yaml.ScalarNode:
		return y.scalar(n, rng)
	}
	y.errorf(rng, "Unsupported YAML value", "This kind of YAML node cannot be used as a value.")
	return &hclsyntax.LiteralValueExpr{Val: cty.NullVal(cty.DynamicPseudoType), SrcRange: rng}
}

func (y *yamlFront) scalar(n *yaml.Node, rng hcl.Range) hclsyntax.Expression {
	null := &hclsyntax.LiteralValueExpr{Val: cty.NullVal(cty.DynamicPseudoType), SrcRange: rng}
	switch tag := n.ShortTag(); tag {
	case "!!null":
		return null
	case "!!bool":
		var v bool
		if err := n.Decode(&v); err != nil {
			y.errorf(rng, "Invalid boolean", "%v", err)
			return null
		}
		return &hclsyntax.LiteralValueExpr{Val: cty.BoolVal(v), SrcRange: rng}
	case "!!int", "!!float":
		var v any
		if err := n.Decode(&v); err != nil {
			y.errorf(rng, "Invalid number", "%v", err)
			return null
		}
		var num cty.Value
		switch x := v.(type) {
		case int:
			num = cty.NumberIntVal(int64(x))
		case int64:
			num = cty.NumberIntVal(x)
		case uint64:
			num = cty.NumberUIntVal(x)
		case float64:
			if math.IsNaN(x) || math.IsInf(x, 0) {
				y.errorf(rng, "Invalid number", "%q is not a finite number.", n.Value)
				return null
			}
			num = cty.NumberFloatVal(x)
		default:
			y.errorf(rng, "Invalid number", "%q is not a number apphostd can use.", n.Value)
			return null
		}
		return &hclsyntax.LiteralValueExpr{Val: num, SrcRange: rng}
	case "!!str", "!!timestamp":
		return y.template(n, rng)
	default:
		y.errorf(rng, "Unsupported YAML tag", "The tag %s is not supported; write a plain string, number, boolean, sequence or mapping.", tag)
		return null
	}
}

// template parses a string scalar as an HCL template. Its start position
// is the scalar's first character (after the opening quote), so ranges in
// diagnostics point into the YAML file. Escapes and folding in quoted or
// block scalars can shift columns within the scalar; the line stays right.
func (y *yamlFront) template(n *yaml.Node, rng hcl.Range) hclsyntax.Expression {
	start := rng.Start
	switch n.Style {
	case yaml.DoubleQuotedStyle, yaml.SingleQuotedStyle:
		start = y.pos(n.Line, n.Column+1)
	case yaml.LiteralStyle, yaml.FoldedStyle:
		start = y.pos(n.Line+1, 1)
	}
	if !strings.ContainsAny(n.Value, "$%") {
		// No interpolation or directive can start here: the template is the
		// literal text. Skipping the HCL lexer keeps large files fast.
		lit := &hclsyntax.LiteralValueExpr{Val: cty.StringVal(n.Value), SrcRange: rng}
		return &hclsyntax.TemplateExpr{Parts: []hclsyntax.Expression{lit}, SrcRange: rng}
	}
	src := []byte(n.Value)
	if d := checkNesting(y.filename, src, start, true); d.HasErrors() {
		y.diags = append(y.diags, d...)
		return &hclsyntax.LiteralValueExpr{Val: cty.NullVal(cty.DynamicPseudoType), SrcRange: rng}
	}
	expr, diags := hclsyntax.ParseTemplate(src, y.filename, start)
	y.diags = append(y.diags, diags...)
	if expr == nil || diags.HasErrors() {
		return &hclsyntax.LiteralValueExpr{Val: cty.NullVal(cty.DynamicPseudoType), SrcRange: rng}
	}
	return expr
}

// Positions. yaml.Node reports 1-based line and column (in characters);
// hcl.Pos also needs the byte offset. Lines are indexed once so that a
// position costs O(1) (ASCII lines) or one lazily built rune index per
// line, never a rescan: a long flow sequence on one line has many nodes.

type lineInfo struct {
	start, end int   // byte offsets; end excludes the line terminator
	ascii      bool  // every byte < 0x80
	runeOffs   []int // for non-ASCII lines: byte offset of each rune, built on demand
}

func indexLines(src []byte) []lineInfo {
	var lines []lineInfo
	start, ascii := 0, true
	for i, c := range src {
		if c >= 0x80 {
			ascii = false
		}
		if c == '\n' {
			end := i
			if end > start && src[end-1] == '\r' {
				end--
			}
			lines = append(lines, lineInfo{start: start, end: end, ascii: ascii})
			start, ascii = i+1, true
		}
	}
	return append(lines, lineInfo{start: start, end: len(src), ascii: ascii})
}

func (y *yamlFront) line(line int) *lineInfo {
	if line < 1 {
		line = 1
	}
	if line > len(y.lines) {
		line = len(y.lines)
	}
	return &y.lines[line-1]
}

// pos converts a 1-based line and character column to an hcl.Pos,
// clamping to the line's end.
func (y *yamlFront) pos(line, col int) hcl.Pos {
	if line < 1 {
		line = 1
	}
	if line > len(y.lines) {
		line = len(y.lines)
	}
	li := y.line(line)
	if col < 1 {
		col = 1
	}
	if li.ascii {
		off := li.start + col - 1
		if off > li.end {
			off = li.end
			col = li.end - li.start + 1
		}
		return hcl.Pos{Line: line, Column: col, Byte: off}
	}
	if li.runeOffs == nil {
		li.runeOffs = make([]int, 0, li.end-li.start)
		for off := li.start; off < li.end; {
			li.runeOffs = append(li.runeOffs, off)
			_, size := utf8.DecodeRune(y.src[off:li.end])
			off += size
		}
	}
	if col-1 >= len(li.runeOffs) {
		return hcl.Pos{Line: line, Column: len(li.runeOffs) + 1, Byte: li.end}
	}
	return hcl.Pos{Line: line, Column: col, Byte: li.runeOffs[col-1]}
}

func (y *yamlFront) pointRange(line, col int) hcl.Range {
	p := y.pos(line, col)
	return hcl.Range{Filename: y.filename, Start: p, End: p}
}

// lineEnd returns the position at the end of line (before the newline).
func (y *yamlFront) lineEnd(line int) hcl.Pos {
	return y.pos(line, 1<<30)
}

func (y *yamlFront) lineRange(line int) hcl.Range {
	return hcl.Range{Filename: y.filename, Start: y.pos(line, 1), End: y.lineEnd(line)}
}

// nodeRange is the node's start to the end of its scalar text when that is
// known (a plain one-line scalar), else to the end of its first line.
func (y *yamlFront) nodeRange(n *yaml.Node) hcl.Range {
	start := y.pos(n.Line, n.Column)
	end := y.lineEnd(n.Line)
	if n.Kind == yaml.ScalarNode && n.Style == 0 && n.Value != "" {
		e := y.pos(n.Line, n.Column+utf8.RuneCountInString(n.Value))
		if e.Byte <= end.Byte && e.Byte >= start.Byte && bytes.HasPrefix(y.src[start.Byte:], []byte(n.Value)) {
			end = e
		}
	}
	if end.Byte < start.Byte {
		end = start
	}
	return hcl.Range{Filename: y.filename, Start: start, End: end}
}
