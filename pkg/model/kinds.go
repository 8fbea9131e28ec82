package model

import (
	"fmt"
	"regexp"
	"sort"
	"sync"

	"github.com/hashicorp/hcl/v2"
)

// KindDef defines an integration kind (postgres, redis, ...): a top-level
// block type whose body has its own schema and which expands into base
// resources (executables or containers, plus parameters and volumes).
//
// The expanded resources are ordinary Resources: they keep Kind = the
// integration's name (or a child kind the expansion chooses, e.g.
// "postgres_database"), are validated, linked and ordered like declared
// ones, and their Attributes (connection_string, host, port, username,
// password, uri) are evaluated late like any other expression. References
// to them are written KIND.NAME.ATTR, where KIND is the expanded
// resource's Kind.
type KindDef struct {
	// Name is the block type, e.g. "postgres". It must match the resource
	// name syntax and must not be a base kind.
	Name string
	// Schema is the block body's schema (attributes and child blocks such
	// as `database "x" {}`).
	Schema *BlockSchema
	// Common adds the runtime attributes every executable and container
	// accepts (env, references, wait_for, wait_for_completion, replicas,
	// restart, autostart, labels, and endpoint/health/backoff blocks) to
	// Schema. The compiler decodes them itself and applies them to the
	// primary resource: the expanded resource whose name is the block label.
	Common bool
	// Expand turns the decoded block (already checked against Schema) into
	// one or more resources. The primary resource must be named after the
	// block label; child resources set Parent. Expand must not keep b.
	// Diagnostics it returns are reported at their ranges; use b.DefRange
	// and the attribute ranges.
	Expand func(b *Block) ([]*Resource, hcl.Diagnostics)
}

func (k *KindDef) bodySchema() *BlockSchema {
	s := &BlockSchema{}
	if k.Schema != nil {
		s.Attributes = append(s.Attributes, k.Schema.Attributes...)
		s.Blocks = append(s.Blocks, k.Schema.Blocks...)
	}
	if k.Common {
		for _, a := range commonAttributes {
			if _, ok := s.attr(a.Name); !ok {
				s.Attributes = append(s.Attributes, a)
			}
		}
		for _, b := range commonBlocks {
			if _, ok := s.block(b.Type); !ok {
				s.Blocks = append(s.Blocks, b)
			}
		}
	}
	return s
}

var (
	kindsMu sync.RWMutex
	kinds   = map[string]*KindDef{}
)

var nameRE = regexp.MustCompile(`^[a-z][a-z0-9_-]*$`)

// RegisterKind makes an integration kind available to Compile. Call it from
// an init function of the integration's package. It panics on a programming
// error (empty or invalid name, a base kind's name, a duplicate, nil
// Expand), never on user input.
func RegisterKind(def KindDef) {
	switch {
	case !nameRE.MatchString(def.Name):
		panic(fmt.Sprintf("model.RegisterKind: invalid kind name %q", def.Name))
	case isBaseKind(def.Name):
		panic(fmt.Sprintf("model.RegisterKind: %q is a base kind", def.Name))
	case def.Expand == nil:
		panic(fmt.Sprintf("model.RegisterKind: kind %q has no Expand", def.Name))
	}
	kindsMu.Lock()
	defer kindsMu.Unlock()
	if _, dup := kinds[def.Name]; dup {
		panic(fmt.Sprintf("model.RegisterKind: kind %q registered twice", def.Name))
	}
	d := def
	kinds[def.Name] = &d
}

func lookupKind(name string) *KindDef {
	kindsMu.RLock()
	defer kindsMu.RUnlock()
	return kinds[name]
}

// registeredKinds returns the integration kinds sorted by name.
func registeredKinds() []*KindDef {
	kindsMu.RLock()
	defer kindsMu.RUnlock()
	out := make([]*KindDef, 0, len(kinds))
	for _, k := range kinds {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func isBaseKind(k string) bool {
	switch k {
	case KindExecutable, KindContainer, KindParameter, KindVolume:
		return true
	}
	return false
}

// NewResource returns a resource with the compiler's defaults (one
// replica, autostart, restart never with default backoff), for Expand
// functions to fill in.
func NewResource(name, kind, baseKind string, decl hcl.Range) *Resource {
	r := &Resource{
		Name:      name,
		Kind:      kind,
		BaseKind:  baseKind,
		DeclRange: decl,
		Replicas:  1,
		Autostart: true,
		Restart:   RestartPolicy{Policy: RestartNever, BackoffInitial: defaultBackoffInitial, BackoffMax: defaultBackoffMax},
		Labels:    map[string]string{},

		OnDependencyRestart: DepRestartWait,
		Run:                 RunAlways,
	}
	switch baseKind {
	case KindExecutable:
		r.Executable = &ExecutableSpec{}
	case KindContainer:
		r.Container = &ContainerSpec{Pull: "missing"}
	case KindParameter:
		r.Parameter = &ParameterSpec{}
	case KindVolume:
		r.Volume = &VolumeSpec{}
	}
	return r
}
