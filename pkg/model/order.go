package model

import (
	"container/heap"
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// order reports dependency cycles (each once, with every reference's
// range) and otherwise fills Graph.Order topologically, ties by name.
func (c *compiler) order() {
	for _, scc := range c.stronglyConnected() {
		c.diags = append(c.diags, c.cycleDiag(scc))
	}
	if c.diags.HasErrors() {
		return
	}
	// Kahn's algorithm with a min-heap of ready names.
	indeg := make(map[string]int, len(c.g.Resources))
	dependents := make(map[string][]string, len(c.g.Resources))
	for name, r := range c.g.Resources {
		indeg[name] += 0
		for _, d := range r.DependsOn {
			indeg[name]++
			dependents[d] = append(dependents[d], name)
		}
	}
	ready := &nameHeap{}
	for name, n := range indeg {
		if n == 0 {
			*ready = append(*ready, name)
		}
	}
	heap.Init(ready)
	order := make([]string, 0, len(c.g.Resources))
	for ready.Len() > 0 {
		name := heap.Pop(ready).(string)
		order = append(order, name)
		for _, dep := range dependents[name] {
			indeg[dep]--
			if indeg[dep] == 0 {
				heap.Push(ready, dep)
			}
		}
	}
	c.g.Order = order
}

type nameHeap []string

func (h nameHeap) Len() int           { return len(h) }
func (h nameHeap) Less(i, j int) bool { return h[i] < h[j] }
func (h nameHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *nameHeap) Push(x any)        { *h = append(*h, x.(string)) }
func (h *nameHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// stronglyConnected returns the strongly connected components with more
// than one resource (self edges are never recorded), each sorted, ordered
// by their first name. Iterative Tarjan: a long dependency chain must not
// grow the goroutine stack without bound.
func (c *compiler) stronglyConnected() [][]string {
	names := c.sortedNames()
	index := make(map[string]int, len(names))
	low := make(map[string]int, len(names))
	onStack := make(map[string]bool, len(names))
	var stack []string
	var out [][]string
	next := 0
	type frame struct {
		name string
		deps []string
		i    int
	}
	for _, start := range names {
		if _, seen := index[start]; seen {
			continue
		}
		work := []*frame{{name: start, deps: c.g.Resources[start].DependsOn}}
		index[start], low[start] = next, next
		next++
		stack = append(stack, start)
		onStack[start] = true
		for len(work) > 0 {
			f := work[len(work)-1]
			if f.i < len(f.deps) {
				d := f.deps[f.i]
				f.i++
				if _, seen := index[d]; !seen {
					index[d], low[d] = next, next
					next++
					stack = append(stack, d)
					onStack[d] = true
					work = append(work, &frame{name: d, deps: c.g.Resources[d].DependsOn})
				} else if onStack[d] {
					low[f.name] = min(low[f.name], index[d])
				}
				continue
			}
			work = work[:len(work)-1]
			if len(work) > 0 {
				p := work[len(work)-1]
				low[p.name] = min(low[p.name], low[f.name])
			}
			if low[f.name] == index[f.name] {
				var comp []string
				for {
					top := stack[len(stack)-1]
					stack = stack[:len(stack)-1]
					onStack[top] = false
					comp = append(comp, top)
					if top == f.name {
						break
					}
				}
				if len(comp) > 1 {
					sort.Strings(comp)
					out = append(out, comp)
				}
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i][0] < out[j][0] })
	return out
}

// cycleDiag finds one cycle through the component's first name (shortest,
// by breadth-first search over sorted edges) and describes it.
func (c *compiler) cycleDiag(scc []string) *hcl.Diagnostic {
	in := map[string]bool{}
	for _, n := range scc {
		in[n] = true
	}
	start := scc[0]
	prev := map[string]string{}
	queue := []string{start}
	found := false
	for len(queue) > 0 && !found {
		n := queue[0]
		queue = queue[1:]
		for _, d := range c.g.Resources[n].DependsOn {
			if !in[d] {
				continue
			}
			if d == start {
				prev[start] = n
				found = true
				break
			}
			if _, seen := prev[d]; !seen {
				prev[d] = n
				queue = append(queue, d)
			}
		}
	}
	// Walk back from start to rebuild start -> ... -> start.
	path := []string{start}
	for n := prev[start]; n != start && n != ""; n = prev[n] {
		path = append(path, n)
		if len(path) > len(scc)+1 {
			break
		}
	}
	path = append(path, start)
	for i, j := 1, len(path)-2; i < j; i, j = i+1, j-1 {
		path[i], path[j] = path[j], path[i]
	}
	var lines []string
	for i := 0; i+1 < len(path); i++ {
		rng := c.edges[path[i]][path[i+1]]
		lines = append(lines, fmt.Sprintf("  %s -> %s at %s", path[i], path[i+1], posString(rng)))
	}
	subject := c.edges[path[0]][path[1]]
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  "Dependency cycle",
		Detail: fmt.Sprintf("These resources depend on each other in a cycle: %s\n%s\nBreak the cycle: nothing in it could ever start.",
			strings.Join(path, " -> "), strings.Join(lines, "\n")),
		Subject: &subject,
	}
}
