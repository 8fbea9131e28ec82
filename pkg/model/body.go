package model

import (
	"github.com/hashicorp/hcl/v2"
)

// Body is a block body in a format-neutral form. Both front ends (HCL and
// YAML) produce Bodies, and one decoder turns them into Resources, so the
// two formats cannot drift apart in meaning. Attribute values are
// hclsyntax expressions in both cases.
type Body struct {
	// Attributes by name. The front ends report duplicates.
	Attributes map[string]*hcl.Attribute
	// Blocks in declaration order.
	Blocks []*Block
	// Range covers the whole body; MissingItemRange is where a missing
	// required attribute is reported (the block header or the opening brace).
	Range            hcl.Range
	MissingItemRange hcl.Range
}

// Block is one nested block of a Body.
type Block struct {
	Type        string
	Labels      []string
	LabelRanges []hcl.Range
	TypeRange   hcl.Range
	// DefRange is the block header (type and labels), the place to point at
	// when the block as a whole is wrong.
	DefRange hcl.Range
	Body     *Body
}

// Label returns the block's first label, or "" when it has none.
func (b *Block) Label() string {
	if len(b.Labels) == 0 {
		return ""
	}
	return b.Labels[0]
}

// LabelRange returns the range of the first label, or DefRange.
func (b *Block) LabelRange() hcl.Range {
	if len(b.LabelRanges) == 0 {
		return b.DefRange
	}
	return b.LabelRanges[0]
}

// BlockSchema says what a block body may contain. The YAML front end also
// uses it to tell attributes (any YAML value) from nested blocks (mappings
// or sequences of mappings), so integration kinds get YAML support for free.
type BlockSchema struct {
	Attributes []AttributeSchema
	Blocks     []NestedBlockSchema
}

// AttributeSchema describes one attribute.
type AttributeSchema struct {
	Name     string
	Required bool
}

// NestedBlockSchema describes a nested block type.
type NestedBlockSchema struct {
	Type string
	// Labelled blocks take exactly one label (endpoint "http" {}); in YAML
	// they are a mapping keyed by label.
	Labelled bool
	// Repeatable unlabelled blocks (mount) may appear many times; in YAML
	// they are a sequence. Non-repeatable unlabelled blocks (health) may
	// appear at most once; in YAML they are a mapping.
	Repeatable bool
	Body       *BlockSchema
}

func (s *BlockSchema) attr(name string) (AttributeSchema, bool) {
	if s == nil {
		return AttributeSchema{}, false
	}
	for _, a := range s.Attributes {
		if a.Name == name {
			return a, true
		}
	}
	return AttributeSchema{}, false
}

func (s *BlockSchema) block(typ string) (NestedBlockSchema, bool) {
	if s == nil {
		return NestedBlockSchema{}, false
	}
	for _, b := range s.Blocks {
		if b.Type == typ {
			return b, true
		}
	}
	return NestedBlockSchema{}, false
}

// BlocksOfType returns the body's blocks of one type, in order.
func (b *Body) BlocksOfType(typ string) []*Block {
	var out []*Block
	for _, blk := range b.Blocks {
		if blk.Type == typ {
			out = append(out, blk)
		}
	}
	return out
}
