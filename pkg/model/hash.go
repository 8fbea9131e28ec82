package model

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"sort"
	"strconv"

	"github.com/hashicorp/hcl/v2"
)

// specHash digests everything about r that decides how an instance is
// launched: kind, the spec (expressions in canonical form), env, endpoints,
// references, mounts, labels, integration attributes, parameter settings
// and limits. It deliberately leaves out what the reconciler applies
// without restarting an instance: health, restart policy, replicas,
// autostart, wait_for, wait_for_completion, profiles,
// on_dependency_restart, run and inputs; compare those fields directly.
// Canonical walks make the digest independent of formatting, map order and
// source format (HCL or YAML).
func specHash(r *Resource) string {
	h := &hasher{h: sha256.New()}
	h.str("v1", r.Kind, r.BaseKind, r.Parent)
	if s := r.Executable; s != nil {
		h.str("executable")
		h.expr(s.Command)
		h.exprs(s.Args)
		h.expr(s.Dir)
	}
	if s := r.Container; s != nil {
		h.str("container")
		h.expr(s.Image)
		h.exprs(s.Entrypoint)
		h.exprs(s.Args)
		h.expr(s.User)
		h.expr(s.WorkingDir)
		h.str(s.Pull, s.Network, s.StopSignal)
		h.int(len(s.Mounts))
		for _, m := range s.Mounts {
			h.str(m.Type, m.Source, m.Target, strconv.FormatBool(m.ReadOnly))
		}
	}
	if s := r.Parameter; s != nil {
		h.str("parameter")
		h.expr(s.Default)
		h.str(s.Env, strconv.FormatBool(s.Secret))
		if g := s.Generate; g != nil {
			h.str("generate", fmt.Sprint(g.Length, g.Lower, g.Upper, g.Numeric, g.Special))
		}
	}
	h.int(len(r.Env))
	for _, ev := range r.Env {
		h.str(ev.Name)
		h.expr(ev.Value)
	}
	h.int(len(r.Endpoints))
	for _, ep := range r.Endpoints {
		h.str(ep.Name, ep.Scheme, ep.Env, strconv.FormatBool(ep.Proxy))
		h.int(ep.Port)
		h.int(ep.TargetPort)
		if ep.Socket {
			// Only when set, so digests of files without it stay as they were.
			h.str("socket")
		}
	}
	refs := make([]string, 0, len(r.References))
	for _, ref := range r.References {
		refs = append(refs, ref.Name)
	}
	sort.Strings(refs)
	h.str(refs...)
	keys := sortedKeys(r.Labels)
	h.int(len(keys))
	for _, k := range keys {
		h.str(k, r.Labels[k])
	}
	keys = sortedKeys(r.Attributes)
	h.int(len(keys))
	for _, k := range keys {
		h.str(k)
		h.expr(r.Attributes[k])
	}
	if l := r.Limits; l != nil {
		h.str("limits", strconv.FormatInt(l.MemoryBytes, 10), strconv.FormatFloat(l.CPUs, 'g', -1, 64), strconv.Itoa(l.PIDs))
	}
	return hex.EncodeToString(h.h.Sum(nil))
}

// hasher writes length-prefixed fields so that adjacent fields cannot run
// into each other ("ab"+"c" vs "a"+"bc").
type hasher struct{ h hash.Hash }

func (h *hasher) str(ss ...string) {
	h.int(len(ss))
	for _, s := range ss {
		h.int(len(s))
		h.h.Write([]byte(s))
	}
}

func (h *hasher) int(n int) {
	var buf [20]byte
	h.h.Write(strconv.AppendInt(buf[:0], int64(n), 10))
	h.h.Write([]byte{0})
}

func (h *hasher) expr(e hcl.Expression) {
	if e == nil {
		h.str("<nil>")
		return
	}
	h.str(ExprString(e))
}

func (h *hasher) exprs(es []hcl.Expression) {
	h.int(len(es))
	for _, e := range es {
		h.expr(e)
	}
}

// Hash returns a stable digest of the resolved spec: sha256 over its JSON
// form, whose map keys encoding/json sorts. Two specs with equal Hash
// launch identically, which is what hot reload compares.
func (s *ResolvedSpec) Hash() string {
	b, err := json.Marshal(s)
	if err != nil {
		// Only strings, slices and string maps: Marshal cannot fail.
		return ""
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
