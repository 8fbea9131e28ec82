package model

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// MaxFileSize is the largest project file Compile accepts. Real files are a
// few kilobytes; the bound keeps a mistaken or hostile file from stalling
// the daemon.
const MaxFileSize = 4 << 20

// ProjectFileNames are the project file names FindProjectFile looks for, in
// order of preference.
var ProjectFileNames = []string{"apphost.hcl", "apphost.yaml", "apphost.yml"}

// compiler holds one compilation's state. Phases: parse (front end) →
// decode (structure and values, per resource) → link (references, edges)
// → order (cycles, topological order). Each phase reports all its
// diagnostics; a phase with errors stops the compilation.
type compiler struct {
	filename string
	g        *Graph
	diags    hcl.Diagnostics
	// listRefs records the kind written in references / wait_for /
	// wait_for_completion entries, by resource, for the kind check.
	listRefs map[string][]listRef
	// mountRefs are volume references from container mounts, by resource.
	mountRefs map[string][]Ref
	// edges: from → to → range of the first reference that made the edge.
	edges map[string]map[string]hcl.Range
	// names caches sortedNames.
	names []string
	// endpoints indexes endpoint names by resource (see hasEndpoint).
	endpoints map[string]map[string]bool
	// suggestions counts "did you mean" searches (see maxSuggestions).
	suggestions int
}

type listRef struct {
	attr string
	kind string
	ref  Ref
}

// Compile compiles a project file's bytes into a Graph. filename selects
// the front end by extension (.hcl, .yaml, .yml) and names the file in
// diagnostics. The Graph is nil exactly when diags has errors; warnings may
// accompany a Graph.
func Compile(filename string, src []byte) (g *Graph, diags hcl.Diagnostics) {
	defer func() {
		if p := recover(); p != nil {
			g = nil
			diags = append(diags, internalError(filename, fmt.Errorf("panic: %v\n%s", p, debug.Stack())))
		}
		sortDiagnostics(diags)
	}()
	if len(src) > MaxFileSize {
		return nil, hcl.Diagnostics{fileTooLarge(filename, len(src))}
	}
	schema := rootSchema()
	var body *Body
	switch ext := strings.ToLower(filepath.Ext(filename)); ext {
	case ".hcl":
		body, diags = parseHCL(filename, src)
	case ".yaml", ".yml":
		body, diags = parseYAML(filename, src, schema)
	default:
		return nil, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Unsupported file type",
			Detail:   fmt.Sprintf("%s: a project file ends in .hcl, .yaml or .yml.", filename),
		}}
	}
	if diags.HasErrors() {
		return nil, diags
	}
	c := &compiler{
		filename:  filename,
		g:         &Graph{Filename: filename, Resources: map[string]*Resource{}},
		diags:     diags,
		listRefs:  map[string][]listRef{},
		mountRefs: map[string][]Ref{},
		edges:     map[string]map[string]hcl.Range{},
	}
	c.decode(body, schema)
	if c.diags.HasErrors() {
		return nil, c.diags
	}
	c.link()
	if c.diags.HasErrors() {
		return nil, c.diags
	}
	c.order()
	if c.diags.HasErrors() {
		return nil, c.diags
	}
	inheritProfiles(c.g)
	for _, r := range c.g.Resources {
		r.SpecHash = specHash(r)
	}
	return c.g, c.diags
}

func fileTooLarge(filename string, size int) *hcl.Diagnostic {
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  "File too large",
		Detail:   fmt.Sprintf("%s is %d bytes; a project file may be at most %d bytes (4 MiB).", filename, size, MaxFileSize),
		Subject:  &hcl.Range{Filename: filename, Start: hcl.InitialPos, End: hcl.InitialPos},
	}
}

// LoadFile reads and compiles the project file at path. It returns the
// bytes read (for rendering diagnostics) even when compilation fails.
func LoadFile(path string) (*Graph, []byte, hcl.Diagnostics) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Cannot read project file",
			Detail:   fmt.Sprintf("open %s: %v", path, err),
		}}
	}
	defer f.Close()
	src, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, nil, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Cannot read project file",
			Detail:   fmt.Sprintf("read %s: %v", path, err),
		}}
	}
	if len(src) > MaxFileSize {
		size := len(src)
		if st, err := f.Stat(); err == nil {
			size = int(st.Size())
		}
		return nil, src[:0], hcl.Diagnostics{fileTooLarge(path, size)}
	}
	g, diags := Compile(path, src)
	return g, src, diags
}

// FindProjectFile returns the project file in dir: apphost.hcl, else
// apphost.yaml, else apphost.yml. The error wraps fs.ErrNotExist when there
// is none.
func FindProjectFile(dir string) (string, error) {
	for _, name := range ProjectFileNames {
		p := filepath.Join(dir, name)
		st, err := os.Stat(p)
		if err == nil && !st.IsDir() {
			return p, nil
		}
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("find project file: %w", err)
		}
	}
	return "", fmt.Errorf("find project file in %s: none of %s: %w", dir, strings.Join(ProjectFileNames, ", "), fs.ErrNotExist)
}

// decode turns the root body into resources: checks names, kinds and
// structure, decodes each resource and expands integration kinds.
func (c *compiler) decode(body *Body, schema *BlockSchema) {
	// Top-level attributes are never allowed; checkBody on the root with
	// blocks skipped reports them.
	c.diags = append(c.diags, checkBody(&Body{Attributes: body.Attributes, MissingItemRange: body.MissingItemRange}, &BlockSchema{})...)
	for _, blk := range body.Blocks {
		bs, ok := schema.block(blk.Type)
		if !ok {
			var kindNames []string
			for _, b := range schema.Blocks {
				kindNames = append(kindNames, b.Type)
			}
			c.diags = append(c.diags, errAt(blk.TypeRange, "Unsupported block type",
				fmt.Sprintf("There is no resource kind %q. Kinds: %s.%s", blk.Type, strings.Join(kindNames, ", "), suggest(blk.Type, kindNames))))
			continue
		}
		// The root schema labels every kind; checkBody on a wrapper reports
		// label problems, then the body itself.
		structural := checkBody(&Body{Attributes: map[string]*hcl.Attribute{}, Blocks: []*Block{blk}}, &BlockSchema{Blocks: []NestedBlockSchema{bs}})
		c.diags = append(c.diags, structural...)
		if structural.HasErrors() && len(blk.Labels) != 1 {
			continue
		}
		if !c.checkName(blk.Label(), blk.LabelRange(), blk.DefRange) {
			continue
		}
		if structural.HasErrors() {
			continue
		}
		if def := lookupKind(blk.Type); def != nil {
			c.expand(def, blk)
			continue
		}
		c.add(c.decodeResource(blk))
	}
}

// checkName validates a resource name and reserves it, reporting a
// duplicate with the earlier definition's location.
func (c *compiler) checkName(name string, rng, decl hcl.Range) bool {
	if !nameRE.MatchString(name) {
		c.diags = append(c.diags, errAt(rng, "Invalid resource name",
			fmt.Sprintf("%q is not a valid name: start with a lowercase letter, then use lowercase letters, digits, '-' or '_'.", name)))
		return false
	}
	if prev, dup := c.g.Resources[name]; dup {
		c.diags = append(c.diags, errAt(rng, "Duplicate resource name",
			fmt.Sprintf("A resource named %q (%s) was already defined at %s. Names are unique across all kinds.", name, prev.Kind, posString(prev.DeclRange))))
		return false
	}
	return true
}

func (c *compiler) add(r *Resource) {
	if r == nil {
		return
	}
	if r.Labels == nil {
		r.Labels = map[string]string{}
	}
	c.g.Resources[r.Name] = r
}

// expand runs an integration kind's Expand and validates what it returns.
func (c *compiler) expand(def *KindDef, blk *Block) {
	rs, diags := def.Expand(blk)
	c.diags = append(c.diags, diags...)
	if diags.HasErrors() {
		return
	}
	var primary *Resource
	for _, r := range rs {
		if r == nil {
			continue
		}
		if r.DeclRange == (hcl.Range{}) {
			r.DeclRange = blk.DefRange
		}
		if r.Kind == "" {
			r.Kind = def.Name
		}
		if !isBaseKind(r.BaseKind) {
			c.diags = append(c.diags, internalError(c.filename, fmt.Errorf("kind %s expanded %q with base kind %q", def.Name, r.Name, r.BaseKind)))
			continue
		}
		if r.Name == blk.Label() {
			primary = r
		} else if !c.checkName(r.Name, r.DeclRange, r.DeclRange) {
			continue
		}
		if r.Replicas == 0 {
			r.Replicas = 1
		}
		if r.Restart.Policy == "" {
			r.Restart = RestartPolicy{Policy: RestartNever, BackoffInitial: defaultBackoffInitial, BackoffMax: defaultBackoffMax}
		}
		c.add(r)
	}
	if primary == nil {
		c.diags = append(c.diags, internalError(c.filename, fmt.Errorf("kind %s did not expand a resource named %q", def.Name, blk.Label())))
		return
	}
	if def.Common {
		c.decodeCommon(primary, blk.Body)
	}
}

// sortedNames returns the graph's resource names, sorted. The list is
// computed once, after decoding (the set is fixed from then on).
func (c *compiler) sortedNames() []string {
	if c.names != nil && len(c.names) == len(c.g.Resources) {
		return c.names
	}
	names := make([]string, 0, len(c.g.Resources))
	for n := range c.g.Resources {
		names = append(names, n)
	}
	sort.Strings(names)
	c.names = names
	return names
}
