package model

import (
	"encoding/json"
	"sort"

	"github.com/hashicorp/hcl/v2"
)

// The JSON form of a Graph: deterministic (resources in Order, sorted
// maps), free of source positions so an HCL file and its YAML mirror give
// byte-identical output. Expressions appear as canonical source text plus
// the references they contain.

type jsonGraph struct {
	Order     []string        `json:"order"`
	Resources []*jsonResource `json:"resources"`
}

type jsonExpr struct {
	Expr string   `json:"expr"`
	Refs []string `json:"refs,omitempty"`
}

type jsonResource struct {
	Name              string               `json:"name"`
	Kind              string               `json:"kind"`
	BaseKind          string               `json:"base_kind"`
	Parent            string               `json:"parent,omitempty"`
	Executable        *jsonExecutable      `json:"executable,omitempty"`
	Container         *jsonContainer       `json:"container,omitempty"`
	Parameter         *jsonParameter       `json:"parameter,omitempty"`
	Env               []jsonEnv            `json:"env,omitempty"`
	Endpoints         []jsonEndpoint       `json:"endpoints,omitempty"`
	Health            *jsonHealth          `json:"health,omitempty"`
	References        []string             `json:"references,omitempty"`
	WaitFor           []string             `json:"wait_for,omitempty"`
	WaitForCompletion []string             `json:"wait_for_completion,omitempty"`
	Replicas          int                  `json:"replicas,omitempty"`
	Restart           *jsonRestart         `json:"restart,omitempty"`
	Autostart         bool                 `json:"autostart"`
	Labels            map[string]string    `json:"labels,omitempty"`
	Attributes        map[string]*jsonExpr `json:"attributes,omitempty"`
	DependsOn         []string             `json:"depends_on,omitempty"`
	SpecHash          string               `json:"spec_hash"`
	// Lifecycle settings, present only when they differ from the default.
	Profiles            []string    `json:"profiles,omitempty"`
	OnDependencyRestart string      `json:"on_dependency_restart,omitempty"`
	Run                 string      `json:"run,omitempty"`
	Inputs              []string    `json:"inputs,omitempty"`
	Limits              *jsonLimits `json:"limits,omitempty"`
}

type jsonLimits struct {
	MemoryBytes int64   `json:"memory_bytes,omitempty"`
	CPUs        float64 `json:"cpus,omitempty"`
	PIDs        int     `json:"pids,omitempty"`
}

type jsonExecutable struct {
	Command *jsonExpr   `json:"command"`
	Args    []*jsonExpr `json:"args,omitempty"`
	Dir     *jsonExpr   `json:"dir,omitempty"`
}

type jsonContainer struct {
	Image      *jsonExpr   `json:"image"`
	Entrypoint []*jsonExpr `json:"entrypoint,omitempty"`
	Args       []*jsonExpr `json:"args,omitempty"`
	User       *jsonExpr   `json:"user,omitempty"`
	WorkingDir *jsonExpr   `json:"working_dir,omitempty"`
	Mounts     []jsonMount `json:"mounts,omitempty"`
	Pull       string      `json:"pull,omitempty"`
	Network    string      `json:"network,omitempty"`
	StopSignal string      `json:"stop_signal,omitempty"`
}

type jsonParameter struct {
	Default  *jsonExpr     `json:"default,omitempty"`
	Env      string        `json:"env,omitempty"`
	Secret   bool          `json:"secret,omitempty"`
	Generate *jsonGenerate `json:"generate,omitempty"`
}

type jsonEnv struct {
	Name  string    `json:"name"`
	Value *jsonExpr `json:"value"`
}

type jsonHealth struct {
	HTTP        *jsonHTTPProbe `json:"http,omitempty"`
	TCP         *jsonTCPProbe  `json:"tcp,omitempty"`
	Exec        *jsonExecProbe `json:"exec,omitempty"`
	Interval    string         `json:"interval"`
	Timeout     string         `json:"timeout"`
	Retries     int            `json:"retries"`
	StartPeriod string         `json:"start_period"`
}

type jsonEndpoint struct {
	Name       string `json:"name"`
	Scheme     string `json:"scheme"`
	Port       int    `json:"port,omitempty"`
	TargetPort int    `json:"target_port,omitempty"`
	Env        string `json:"env,omitempty"`
	Proxy      bool   `json:"proxy"`
	Socket     bool   `json:"socket,omitempty"`
}

type jsonMount struct {
	Type     string `json:"type"`
	Source   string `json:"source"`
	Target   string `json:"target"`
	ReadOnly bool   `json:"read_only"`
}

type jsonGenerate struct {
	Length  int  `json:"length"`
	Lower   bool `json:"lower"`
	Upper   bool `json:"upper"`
	Numeric bool `json:"numeric"`
	Special bool `json:"special"`
}

type jsonHTTPProbe struct {
	Endpoint  string `json:"endpoint"`
	Path      string `json:"path"`
	StatusMin int    `json:"status_min"`
	StatusMax int    `json:"status_max"`
}

type jsonTCPProbe struct {
	Endpoint string `json:"endpoint"`
}

type jsonExecProbe struct {
	Command []string `json:"command"`
}

type jsonRestart struct {
	Policy         string `json:"policy"`
	BackoffInitial string `json:"backoff_initial"`
	BackoffMax     string `json:"backoff_max"`
}

// maskedExpr stands for the text of a secret parameter's default.
const maskedExpr = "********"

func exprJSON(e hcl.Expression) *jsonExpr {
	if e == nil {
		return nil
	}
	j := &jsonExpr{Expr: ExprString(e)}
	seen := map[string]bool{}
	for _, t := range e.Variables() {
		s := traversalString(t)
		if !seen[s] {
			seen[s] = true
			j.Refs = append(j.Refs, s)
		}
	}
	sort.Strings(j.Refs)
	return j
}

func exprsJSON(es []hcl.Expression) []*jsonExpr {
	if es == nil {
		return nil
	}
	out := make([]*jsonExpr, len(es))
	for i, e := range es {
		out[i] = exprJSON(e)
	}
	return out
}

func refNames(refs []Ref) []string {
	if len(refs) == 0 {
		return nil
	}
	out := make([]string, len(refs))
	for i, r := range refs {
		out[i] = r.Name
	}
	return out
}

// MarshalGraphJSON renders g as indented, deterministic JSON (see the
// jsonGraph types): what `apphostd graph --format json` prints and what the
// golden tests compare.
func MarshalGraphJSON(g *Graph) ([]byte, error) {
	out := jsonGraph{Order: g.Order, Resources: make([]*jsonResource, 0, len(g.Order))}
	if out.Order == nil {
		out.Order = []string{}
	}
	for _, name := range g.Order {
		r := g.Resources[name]
		if r == nil {
			continue
		}
		jr := &jsonResource{
			Name: r.Name, Kind: r.Kind, BaseKind: r.BaseKind, Parent: r.Parent,
			References:        refNames(r.References),
			WaitFor:           refNames(r.WaitFor),
			WaitForCompletion: refNames(r.WaitForCompletion),
			Autostart:         r.Autostart,
			DependsOn:         r.DependsOn,
			SpecHash:          r.SpecHash,
		}
		for _, ep := range r.Endpoints {
			jr.Endpoints = append(jr.Endpoints, jsonEndpoint{Name: ep.Name, Scheme: ep.Scheme, Port: ep.Port, TargetPort: ep.TargetPort, Env: ep.Env, Proxy: ep.Proxy, Socket: ep.Socket})
		}
		jr.Profiles, jr.Inputs = r.Profiles, r.Inputs
		if r.OnDependencyRestart != "" && r.OnDependencyRestart != DepRestartWait {
			jr.OnDependencyRestart = r.OnDependencyRestart
		}
		if r.Run == RunOnce {
			jr.Run = r.Run
		}
		if l := r.Limits; l != nil {
			jr.Limits = &jsonLimits{MemoryBytes: l.MemoryBytes, CPUs: l.CPUs, PIDs: l.PIDs}
		}
		if len(r.Labels) > 0 {
			jr.Labels = r.Labels
		}
		if r.BaseKind == KindExecutable || r.BaseKind == KindContainer {
			jr.Replicas = r.Replicas
			jr.Restart = &jsonRestart{
				Policy:         r.Restart.Policy,
				BackoffInitial: r.Restart.BackoffInitial.String(),
				BackoffMax:     r.Restart.BackoffMax.String(),
			}
		}
		if s := r.Executable; s != nil {
			jr.Executable = &jsonExecutable{Command: exprJSON(s.Command), Args: exprsJSON(s.Args), Dir: exprJSON(s.Dir)}
		}
		if s := r.Container; s != nil {
			jr.Container = &jsonContainer{
				Image: exprJSON(s.Image), Entrypoint: exprsJSON(s.Entrypoint), Args: exprsJSON(s.Args),
				User: exprJSON(s.User), WorkingDir: exprJSON(s.WorkingDir),
				Pull: s.Pull, Network: s.Network, StopSignal: s.StopSignal,
			}
			for _, m := range s.Mounts {
				jr.Container.Mounts = append(jr.Container.Mounts, jsonMount{Type: m.Type, Source: m.Source, Target: m.Target, ReadOnly: m.ReadOnly})
			}
		}
		if s := r.Parameter; s != nil {
			jr.Parameter = &jsonParameter{Default: exprJSON(s.Default), Env: s.Env, Secret: s.Secret}
			if s.Secret && jr.Parameter.Default != nil {
				// A secret's default may be the secret itself, written in
				// the file; graph output shows only what it refers to.
				jr.Parameter.Default.Expr = maskedExpr
			}
			if g := s.Generate; g != nil {
				jr.Parameter.Generate = &jsonGenerate{Length: g.Length, Lower: g.Lower, Upper: g.Upper, Numeric: g.Numeric, Special: g.Special}
			}
		}
		for _, ev := range r.Env {
			jr.Env = append(jr.Env, jsonEnv{Name: ev.Name, Value: exprJSON(ev.Value)})
		}
		if h := r.Health; h != nil {
			jr.Health = &jsonHealth{
				Interval: h.Interval.String(), Timeout: h.Timeout.String(),
				Retries: h.Retries, StartPeriod: h.StartPeriod.String(),
			}
		}
		if h := r.Health; h != nil {
			if p := h.HTTP; p != nil {
				jr.Health.HTTP = &jsonHTTPProbe{Endpoint: p.Endpoint, Path: p.Path, StatusMin: p.StatusMin, StatusMax: p.StatusMax}
			}
			if p := h.TCP; p != nil {
				jr.Health.TCP = &jsonTCPProbe{Endpoint: p.Endpoint}
			}
			if p := h.Exec; p != nil {
				jr.Health.Exec = &jsonExecProbe{Command: p.Command}
			}
		}
		if len(r.Attributes) > 0 {
			jr.Attributes = map[string]*jsonExpr{}
			for k, e := range r.Attributes {
				jr.Attributes[k] = exprJSON(e)
			}
		}
		out.Resources = append(out.Resources, jr)
	}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}
