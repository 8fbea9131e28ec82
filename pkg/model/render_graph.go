package model

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// WriteDOT writes g as a Graphviz digraph: one node per resource (label
// "kind name"), an edge from each resource to what it depends on, dashed
// for wait_for_completion and dotted from a child to its parent.
func WriteDOT(w io.Writer, g *Graph) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintln(bw, "digraph apphost {")
	fmt.Fprintln(bw, "  rankdir=LR;")
	fmt.Fprintln(bw, "  node [shape=box, fontname=\"sans-serif\"];")
	for _, name := range g.Order {
		r := g.Resources[name]
		if r == nil {
			continue
		}
		fmt.Fprintf(bw, "  %s [label=%s, shape=%s];\n", strconv.Quote(name), strconv.Quote(r.Kind+"\n"+name), dotShape(r.BaseKind))
	}
	for _, name := range g.Order {
		r := g.Resources[name]
		if r == nil {
			continue
		}
		completion := map[string]bool{}
		for _, ref := range r.WaitForCompletion {
			completion[ref.Name] = true
		}
		for _, dep := range r.DependsOn {
			style := ""
			if completion[dep] {
				style = " [style=dashed]"
			}
			fmt.Fprintf(bw, "  %s -> %s%s;\n", strconv.Quote(name), strconv.Quote(dep), style)
		}
		if r.Parent != "" {
			fmt.Fprintf(bw, "  %s -> %s [style=dotted, arrowhead=none];\n", strconv.Quote(name), strconv.Quote(r.Parent))
		}
	}
	fmt.Fprintln(bw, "}")
	return bw.Flush()
}

func dotShape(base string) string {
	switch base {
	case KindContainer:
		return "box3d"
	case KindParameter:
		return "note"
	case KindVolume:
		return "cylinder"
	}
	return "box"
}

// WriteMermaid writes g as a Mermaid flowchart with the same edges as
// WriteDOT. Node ids are n0, n1, ... in Order, since resource names may
// contain '-', which Mermaid ids do not allow everywhere.
func WriteMermaid(w io.Writer, g *Graph) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintln(bw, "flowchart LR")
	ids := make(map[string]string, len(g.Order))
	for i, name := range g.Order {
		r := g.Resources[name]
		if r == nil {
			continue
		}
		id := "n" + strconv.Itoa(i)
		ids[name] = id
		open, close := mermaidShape(r.BaseKind)
		fmt.Fprintf(bw, "  %s%s\"%s %s\"%s\n", id, open, mermaidEscape(r.Kind), mermaidEscape(name), close)
	}
	for _, name := range g.Order {
		r := g.Resources[name]
		if r == nil {
			continue
		}
		completion := map[string]bool{}
		for _, ref := range r.WaitForCompletion {
			completion[ref.Name] = true
		}
		for _, dep := range r.DependsOn {
			arrow := "-->"
			if completion[dep] {
				arrow = "-.->"
			}
			fmt.Fprintf(bw, "  %s %s %s\n", ids[name], arrow, ids[dep])
		}
		if r.Parent != "" {
			fmt.Fprintf(bw, "  %s --- %s\n", ids[name], ids[r.Parent])
		}
	}
	return bw.Flush()
}

func mermaidShape(base string) (string, string) {
	switch base {
	case KindContainer:
		return "[[", "]]"
	case KindParameter:
		return "{{", "}}"
	case KindVolume:
		return "[(", ")]"
	}
	return "[", "]"
}

func mermaidEscape(s string) string {
	return strings.ReplaceAll(s, `"`, "#quot;")
}
