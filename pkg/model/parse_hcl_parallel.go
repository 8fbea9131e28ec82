package model

import (
	"bytes"
	"runtime"
	"sync"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// parallelMinBytes is the size from which a file is parsed in parallel
// chunks; below it the goroutines cost more than they save.
const parallelMinBytes = 128 << 10

// parallelParse switches parseHCLParallel off (tests compare both paths).
var parallelParse = true

// parseHCLParallel parses a large file as several chunks split between
// top-level blocks, on all processors, and merges the bodies. hclsyntax's
// lexer dominates the compile time of big projects (about two thirds),
// and top-level blocks are independent, so this scales with cores.
//
// It is an optimisation only: it returns ok=false whenever the split is in
// doubt — a chunk with any error (a split inside a heredoc or a block
// comment leaves the chunk before it unterminated, which is an error), or
// a top-level attribute defined in two chunks — and the caller then parses
// the whole file as one, which also gives the canonical diagnostics.
func parseHCLParallel(filename string, src []byte) (body *hclsyntax.Body, diags hcl.Diagnostics, ok bool) {
	procs := runtime.GOMAXPROCS(0)
	if !parallelParse || len(src) < parallelMinBytes || procs < 2 {
		return nil, nil, false
	}
	cuts := topLevelCuts(src, procs*2)
	if len(cuts) == 0 {
		return nil, nil, false
	}
	type chunk struct {
		start hcl.Pos
		src   []byte
		body  *hclsyntax.Body
		diags hcl.Diagnostics
	}
	chunks := make([]*chunk, 0, len(cuts)+1)
	prev, line := 0, 1
	for _, c := range append(cuts, len(src)) {
		chunks = append(chunks, &chunk{start: hcl.Pos{Line: line, Column: 1, Byte: prev}, src: src[prev:c]})
		line += bytes.Count(src[prev:c], []byte{'\n'})
		prev = c
	}
	var wg sync.WaitGroup
	for _, c := range chunks {
		wg.Add(1)
		go func(c *chunk) {
			defer wg.Done()
			f, d := hclsyntax.ParseConfig(c.src, filename, c.start)
			c.diags = d
			if f != nil {
				c.body, _ = f.Body.(*hclsyntax.Body)
			}
		}(c)
	}
	wg.Wait()
	merged := &hclsyntax.Body{Attributes: hclsyntax.Attributes{}}
	for _, c := range chunks {
		if c.diags.HasErrors() || c.body == nil {
			return nil, nil, false
		}
		diags = append(diags, c.diags...)
		for name, a := range c.body.Attributes {
			if _, dup := merged.Attributes[name]; dup {
				return nil, nil, false
			}
			merged.Attributes[name] = a
		}
		merged.Blocks = append(merged.Blocks, c.body.Blocks...)
	}
	last := chunks[len(chunks)-1].body
	merged.SrcRange = hcl.Range{Filename: filename, Start: hcl.InitialPos, End: last.SrcRange.End}
	merged.EndRange = last.EndRange
	return merged, diags, true
}

// topLevelCuts returns up to n-1 byte offsets, spread evenly, where a line
// starts a new top-level block: it begins with a letter in column 1 and
// the previous non-blank line is a lone "}" in column 1 (the end of the
// previous top-level block, as formatted files have it).
func topLevelCuts(src []byte, n int) []int {
	if n < 2 {
		return nil
	}
	var cuts []int
	want := len(src) / n
	next := want
	closed := false // previous non-blank line was "}" at column 1
	for off := 0; off < len(src); {
		end := bytes.IndexByte(src[off:], '\n')
		if end < 0 {
			end = len(src)
		} else {
			end += off
		}
		line := bytes.TrimRight(src[off:end], " \t\r")
		switch {
		case len(line) == 0:
		case closed && off >= next && isIdentStart(line[0]):
			cuts = append(cuts, off)
			next = off + want
			closed = false
			if len(cuts) == n-1 {
				return cuts
			}
		default:
			closed = len(line) == 1 && line[0] == '}'
		}
		off = end + 1
	}
	return cuts
}

func isIdentStart(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_'
}
