package integrations

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"go.yaml.in/yaml/v3"

	"github.com/apphostd/apphostd/pkg/model"
)

// AddOptions say what `apphostd add KIND NAME` writes into the block.
type AddOptions struct {
	// Runtime is "executable" or "container"; "" leaves the default
	// (container) implicit.
	Runtime string
	// Databases become `database "NAME" {}` child blocks.
	Databases []string
}

// DiagError carries compiler diagnostics (with the source they point
// into) for the caller to render with snippets.
type DiagError struct {
	Msg      string
	Filename string
	Src      []byte
	Diags    hcl.Diagnostics
}

func (e *DiagError) Error() string { return e.Msg }

var resourceNameRE = regexp.MustCompile(`^[a-z][a-z0-9_-]*$`)

// AppendBlock returns src (the project file named filename, HCL or YAML by
// extension) with a block for integration kind named name added at the end
// (in YAML, as a new entry under the kind's top-level key). It refuses an
// unknown kind, an option the kind does not take, a file that does not
// compile, and a name (or a name the block expands to) already in use; the
// result is compiled before it is returned, so it always validates.
func AppendBlock(filename string, src []byte, kind, name string, o AddOptions) ([]byte, error) {
	i := lookup(kind)
	if i == nil {
		return nil, fmt.Errorf("unknown integration %q; available: %s", kind, strings.Join(Kinds(), ", "))
	}
	switch o.Runtime {
	case "", runtimeContainer:
	case runtimeExecutable:
		if !i.executable {
			return nil, fmt.Errorf("%s runs only as a container; --runtime executable is available for postgres and redis", kind)
		}
	default:
		return nil, fmt.Errorf("--runtime must be container or executable, not %q", o.Runtime)
	}
	if len(o.Databases) > 0 && i.databaseKind == "" {
		return nil, fmt.Errorf("%s has no databases; --database applies to postgres, mysql and mongodb", kind)
	}
	for _, n := range append([]string{name}, o.Databases...) {
		if !resourceNameRE.MatchString(n) {
			return nil, fmt.Errorf("%q is not a valid name: start with a lowercase letter, then use lowercase letters, digits, '-' or '_'", n)
		}
	}
	base := filepath.Base(filename)
	g, diags := model.Compile(filename, src)
	if diags.HasErrors() {
		return nil, &DiagError{Msg: base + " has errors; fix them before adding to it", Filename: filename, Src: src, Diags: diags}
	}
	seen := map[string]bool{}
	for _, n := range append([]string{name}, o.Databases...) {
		if seen[n] {
			return nil, fmt.Errorf("the name %q is given twice", n)
		}
		seen[n] = true
		if r := g.Resources[n]; r != nil {
			return nil, fmt.Errorf("%s already has a resource named %q (%s, at %s); names are unique across all kinds", base, n, r.Kind, r.DeclRange)
		}
	}
	var out []byte
	var err error
	switch strings.ToLower(filepath.Ext(filename)) {
	case ".hcl":
		out = appendHCL(src, hclBlock(kind, name, o))
	case ".yaml", ".yml":
		out, err = appendYAML(src, kind, yamlEntry(name, o))
	default:
		return nil, fmt.Errorf("%s: a project file ends in .hcl, .yaml or .yml", base)
	}
	if err != nil {
		return nil, err
	}
	if _, diags := model.Compile(filename, out); diags.HasErrors() {
		return nil, &DiagError{Msg: fmt.Sprintf("adding %s %q would not compile", kind, name), Filename: filename, Src: out, Diags: diags}
	}
	return out, nil
}

// hclBlock renders the block in the style of docs/reference.md.
func hclBlock(kind, name string, o AddOptions) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %q {", kind, name)
	if o.Runtime == "" && len(o.Databases) == 0 {
		b.WriteString("}\n")
		return b.String()
	}
	b.WriteString("\n")
	if o.Runtime != "" {
		fmt.Fprintf(&b, "  runtime = %q\n", o.Runtime)
	}
	if o.Runtime != "" && len(o.Databases) > 0 {
		b.WriteString("\n")
	}
	for _, db := range o.Databases {
		fmt.Fprintf(&b, "  database %q {}\n", db)
	}
	b.WriteString("}\n")
	return b.String()
}

func appendHCL(src []byte, block string) []byte {
	out := append([]byte(nil), src...)
	if len(bytes.TrimSpace(out)) > 0 {
		if !bytes.HasSuffix(out, []byte("\n")) {
			out = append(out, '\n')
		}
		out = append(out, '\n')
	} else {
		out = out[:0]
	}
	return append(out, block...)
}

// yamlLine is one line of a YAML entry: depth in indentation units.
type yamlLine struct {
	depth int
	text  string
}

// yamlEntry is the entry under the kind's key: "NAME: {}" or NAME with
// its settings.
func yamlEntry(name string, o AddOptions) []yamlLine {
	if o.Runtime == "" && len(o.Databases) == 0 {
		return []yamlLine{{0, name + ": {}"}}
	}
	lines := []yamlLine{{0, name + ":"}}
	if o.Runtime != "" {
		lines = append(lines, yamlLine{1, "runtime: " + o.Runtime})
	}
	if len(o.Databases) > 0 {
		lines = append(lines, yamlLine{1, "database:"})
		for _, db := range o.Databases {
			lines = append(lines, yamlLine{2, db + ": {}"})
		}
	}
	return lines
}

func renderYAML(lines []yamlLine, base int, unit int) string {
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(strings.Repeat(" ", base+l.depth*unit))
		b.WriteString(l.text)
		b.WriteByte('\n')
	}
	return b.String()
}

// appendYAML adds entry under the top-level key kind: a new "kind:" section
// at the end when there is none, else new lines at the end of the existing
// block mapping, indented like its entries. Only text is inserted, so the
// rest of the file (comments, anchors, layout) stays as written.
func appendYAML(src []byte, kind string, entry []yamlLine) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		return nil, fmt.Errorf("parse YAML: %w", err)
	}
	var root *yaml.Node
	if len(doc.Content) > 0 {
		root = doc.Content[0]
	}
	if root != nil && root.Kind != yaml.MappingNode && !(root.Kind == yaml.ScalarNode && root.Tag == "!!null") {
		return nil, errors.New("the YAML project file is not a mapping of kinds")
	}
	if root != nil && root.Kind == yaml.MappingNode && root.Style&yaml.FlowStyle != 0 {
		return nil, errors.New("the YAML project file is written in flow style ({...}); add the block by hand")
	}
	lines := strings.SplitAfter(string(src), "\n")
	if len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	var key, val, next *yaml.Node
	if root != nil && root.Kind == yaml.MappingNode {
		for j := 0; j+1 < len(root.Content); j += 2 {
			if root.Content[j].Value == kind {
				key, val = root.Content[j], root.Content[j+1]
				if j+2 < len(root.Content) {
					next = root.Content[j+2]
				}
			}
		}
	}
	if key == nil {
		var b strings.Builder
		b.WriteString(strings.Join(lines, ""))
		if b.Len() > 0 && !strings.HasSuffix(b.String(), "\n") {
			b.WriteByte('\n')
		}
		b.WriteString(kind + ":\n")
		b.WriteString(renderYAML(entry, 2, 2))
		return []byte(b.String()), nil
	}
	switch {
	case val.Kind == yaml.ScalarNode && val.Tag == "!!null" && val.Line == key.Line:
		// "kind:" with nothing after it: the entries go right below.
		return insertLines(lines, key.Line, renderYAML(entry, 2, 2)), nil
	case val.Kind == yaml.MappingNode && val.Style&yaml.FlowStyle == 0 && len(val.Content) > 0:
		indent := val.Content[0].Column - 1
		unit := 2
		if indent > 0 {
			unit = indent
		}
		// The mapping ends where the next top-level key (or the file)
		// begins, less the blank lines and top-level comments before it.
		end := len(lines)
		if next != nil {
			end = next.Line - 1
		}
		for end > key.Line {
			t := lines[end-1]
			trimmed := strings.TrimSpace(t)
			if trimmed == "" || (strings.HasPrefix(t, "#")) {
				end--
				continue
			}
			break
		}
		return insertLines(lines, end, renderYAML(entry, indent, unit)), nil
	}
	return nil, fmt.Errorf("the %s: section is not a block mapping (it is empty braces or flow style); add the block by hand", kind)
}

// insertLines inserts text after the first n lines.
func insertLines(lines []string, n int, text string) []byte {
	var b strings.Builder
	for i, l := range lines {
		if i == n {
			break
		}
		b.WriteString(l)
	}
	if n > 0 && n <= len(lines) && !strings.HasSuffix(lines[n-1], "\n") {
		b.WriteByte('\n')
	}
	b.WriteString(text)
	for i := n; i < len(lines); i++ {
		b.WriteString(lines[i])
	}
	return []byte(b.String())
}

// References returns how consumers refer to what `add` created: KIND.NAME
// and, for each database, DATABASEKIND.DB.
func References(kind, name string, databases []string) []string {
	out := []string{kind + "." + name}
	if i := lookup(kind); i != nil && i.databaseKind != "" {
		for _, db := range databases {
			out = append(out, i.databaseKind+"."+db)
		}
	}
	return out
}

// Summary returns a kind's one-line description ("" if unknown), for the
// CLI's help.
func Summary(kind string) string {
	if i := lookup(kind); i != nil {
		return i.summary
	}
	return ""
}
