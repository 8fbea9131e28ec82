package model

import (
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// Schemas of the base kinds, as pinned in notes/SYNTAX.md.

var endpointSchema = &BlockSchema{Attributes: []AttributeSchema{
	{Name: "scheme"}, {Name: "target_port"}, {Name: "port"}, {Name: "env"}, {Name: "proxy"}, {Name: "socket"},
}}

var healthSchema = &BlockSchema{
	Attributes: []AttributeSchema{{Name: "interval"}, {Name: "timeout"}, {Name: "retries"}, {Name: "start_period"}},
	Blocks: []NestedBlockSchema{
		{Type: "http", Body: &BlockSchema{Attributes: []AttributeSchema{{Name: "path"}, {Name: "endpoint"}, {Name: "status"}}}},
		{Type: "tcp", Body: &BlockSchema{Attributes: []AttributeSchema{{Name: "endpoint"}}}},
		{Type: "exec", Body: &BlockSchema{Attributes: []AttributeSchema{{Name: "command", Required: true}}}},
	},
}

var backoffSchema = &BlockSchema{Attributes: []AttributeSchema{{Name: "initial"}, {Name: "max"}}}

var limitsSchema = &BlockSchema{Attributes: []AttributeSchema{{Name: "memory"}, {Name: "cpus"}, {Name: "pids"}}}

// commonAttributes are accepted by every runnable kind (executable,
// container, and integration kinds that set BlockSchema-level Common).
var commonAttributes = []AttributeSchema{
	{Name: "env"}, {Name: "references"}, {Name: "wait_for"}, {Name: "wait_for_completion"},
	{Name: "replicas"}, {Name: "restart"}, {Name: "autostart"}, {Name: "labels"},
	{Name: "profiles"}, {Name: "on_dependency_restart"}, {Name: "run"}, {Name: "inputs"},
}

var commonBlocks = []NestedBlockSchema{
	{Type: "endpoint", Labelled: true, Repeatable: true, Body: endpointSchema},
	{Type: "health", Body: healthSchema},
	{Type: "backoff", Body: backoffSchema},
	{Type: "limits", Body: limitsSchema},
}

var executableSchema = &BlockSchema{
	Attributes: append([]AttributeSchema{{Name: "command", Required: true}, {Name: "args"}, {Name: "dir"}}, commonAttributes...),
	Blocks:     commonBlocks,
}

var containerSchema = &BlockSchema{
	Attributes: append([]AttributeSchema{
		{Name: "image", Required: true}, {Name: "entrypoint"}, {Name: "args"}, {Name: "user"},
		{Name: "working_dir"}, {Name: "pull"}, {Name: "network"}, {Name: "stop_signal"},
	}, commonAttributes...),
	Blocks: append([]NestedBlockSchema{
		{Type: "mount", Repeatable: true, Body: &BlockSchema{Attributes: []AttributeSchema{
			{Name: "source", Required: true}, {Name: "target", Required: true}, {Name: "read_only"},
		}}},
	}, commonBlocks...),
}

var parameterSchema = &BlockSchema{
	Attributes: []AttributeSchema{{Name: "default"}, {Name: "env"}, {Name: "secret"}},
	Blocks: []NestedBlockSchema{{Type: "generate", Body: &BlockSchema{Attributes: []AttributeSchema{
		{Name: "length"}, {Name: "lower"}, {Name: "upper"}, {Name: "numeric"}, {Name: "special"},
	}}}},
}

var volumeSchema = &BlockSchema{}

// rootSchema returns the top-level schema: one labelled block type per base
// kind and per registered integration kind.
func rootSchema() *BlockSchema {
	s := &BlockSchema{Blocks: []NestedBlockSchema{
		{Type: KindParameter, Labelled: true, Repeatable: true, Body: parameterSchema},
		{Type: KindVolume, Labelled: true, Repeatable: true, Body: volumeSchema},
		{Type: KindContainer, Labelled: true, Repeatable: true, Body: containerSchema},
		{Type: KindExecutable, Labelled: true, Repeatable: true, Body: executableSchema},
	}}
	for _, k := range registeredKinds() {
		s.Blocks = append(s.Blocks, NestedBlockSchema{Type: k.Name, Labelled: true, Repeatable: true, Body: k.bodySchema()})
	}
	return s
}

// checkBody reports everything structurally wrong with body against schema,
// recursively: unknown attributes and blocks, label counts, repeated single
// blocks and missing required attributes.
func checkBody(body *Body, schema *BlockSchema) hcl.Diagnostics {
	var diags hcl.Diagnostics
	names := make([]string, 0, len(body.Attributes))
	for name := range body.Attributes {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		attr := body.Attributes[name]
		if _, ok := schema.attr(name); !ok {
			rng := attr.NameRange
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Unsupported argument",
				Detail:   fmt.Sprintf("An argument named %q is not expected here.%s", name, suggest(name, schemaNames(schema))),
				Subject:  &rng,
			})
		}
	}
	for _, a := range schema.Attributes {
		if !a.Required {
			continue
		}
		if attr, ok := body.Attributes[a.Name]; !ok || isNullExpr(attr.Expr) {
			rng := body.MissingItemRange
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Missing required argument",
				Detail:   fmt.Sprintf("The argument %q is required, but no definition was found.", a.Name),
				Subject:  &rng,
			})
		}
	}
	seen := map[string]*Block{}
	for _, blk := range body.Blocks {
		bs, ok := schema.block(blk.Type)
		if !ok {
			rng := blk.TypeRange
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Unsupported block type",
				Detail:   fmt.Sprintf("Blocks of type %q are not expected here.%s", blk.Type, suggest(blk.Type, schemaNames(schema))),
				Subject:  &rng,
			})
			continue
		}
		switch {
		case bs.Labelled && len(blk.Labels) == 0:
			rng := blk.DefRange
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  fmt.Sprintf("Missing name for %s", blk.Type),
				Detail:   fmt.Sprintf("All %s blocks must have 1 label: the name.", blk.Type),
				Subject:  &rng,
			})
			continue
		case bs.Labelled && len(blk.Labels) > 1, !bs.Labelled && len(blk.Labels) > 0:
			want := 0
			if bs.Labelled {
				want = 1
			}
			rng := blk.LabelRanges[want]
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Extraneous label for " + blk.Type,
				Detail:   fmt.Sprintf("%s blocks take %d label(s).", blk.Type, want),
				Subject:  &rng,
			})
			continue
		}
		if !bs.Labelled && !bs.Repeatable {
			if prev, dup := seen[blk.Type]; dup {
				rng := blk.DefRange
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  fmt.Sprintf("Duplicate %s block", blk.Type),
					Detail:   fmt.Sprintf("Only one %s block is allowed here; the first was defined at %s.", blk.Type, posString(prev.DefRange)),
					Subject:  &rng,
				})
				continue
			}
			seen[blk.Type] = blk
		}
		diags = append(diags, checkBody(blk.Body, bs.Body)...)
	}
	return diags
}

func schemaNames(s *BlockSchema) []string {
	var out []string
	for _, a := range s.Attributes {
		out = append(out, a.Name)
	}
	for _, b := range s.Blocks {
		out = append(out, b.Type)
	}
	return out
}

// maxSuggestOptions bounds the work of one suggestion: a hostile file with
// thousands of bad references against thousands of names must not turn
// into millions of edit-distance computations.
const maxSuggestOptions = 4096

// suggest returns " Did you mean "x"?" for a close match, or "".
func suggest(given string, options []string) string {
	if len(options) > maxSuggestOptions {
		return ""
	}
	best, bestDist := "", 3
	for _, o := range options {
		if d := levenshtein(given, o); d < bestDist {
			best, bestDist = o, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" Did you mean %q?", best)
}

func levenshtein(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 1 << 20
	}
	ra, rb := []rune(strings.ToLower(a)), []rune(strings.ToLower(b))
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
