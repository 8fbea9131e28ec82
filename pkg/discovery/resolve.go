package discovery

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"github.com/apphostd/apphostd/pkg/model"
	"github.com/apphostd/apphostd/pkg/runtime"
	"github.com/apphostd/apphostd/pkg/status"
)

// HostAlias is the name containers use to reach processes on the host.
const HostAlias = "host.apphost.internal"

// Ports hands out host ports, stable per key ("resource/endpoint/replica").
// *PortAllocator implements it.
type Ports interface {
	Allocate(key string) (int, error)
	Reserve(key string, port int) error
}

// SocketPorts is a Ports that can also bind and hold the listening socket
// of a socket-activated endpoint (endpoint { socket = true }) from the
// moment its port is chosen, so no other program can take the port before
// the instance starts. AllocateListener may choose another port than a
// plain Allocate would if the usual one cannot be bound. A Ports without
// it still works: the runtime then binds the port at start.
type SocketPorts interface {
	Ports
	AllocateListener(key string) (int, error)
	ReserveListener(key string, port int) error
}

// Input is everything Resolve needs besides the graph.
type Input struct {
	Graph      *model.Graph
	ProjectDir string
	ProjectID  string
	VolumeDir  string
	LogDir     string
	Ports      Ports
	Secrets    *Secrets
	// ParamFile holds values from .apphost/parameters.
	ParamFile map[string]string
	// LookupEnv reads the daemon's environment (os.LookupEnv by default).
	LookupEnv func(string) (string, bool)
	// BaseEnv is inherited by executables (os.Environ() by default). It is
	// not part of the spec hash, so a daemon restarted from another shell
	// does not restart everything it adopts.
	BaseEnv []string
}

// Result is the resolved project: one entry per resource.
type Result struct {
	Resources map[string]*Resolved
	// Secrets are values that must never be shown (secret parameters and
	// everything generated); Mask replaces them.
	Secrets []string
	// Host are the values as a process on the host sees them.
	Host model.Values
}

// Resolved is one resource with ports allocated and expressions evaluated.
type Resolved struct {
	Name     string
	Kind     string
	BaseKind string
	// Wait is set when the resource cannot be resolved yet (a parameter
	// without a value): the reconciler shows it as Waiting with this reason.
	Wait string
	// Fail is set when the resource can never start as declared (a fixed
	// port that is taken): FailedToStart with this reason.
	Fail string
	// Value is a parameter's value.
	Value string
	// Endpoints as seen from the host, every replica.
	Endpoints []status.Endpoint
	// Instances, one per replica, ready for the driver (no LogPath yet).
	Instances []Instance
	// Env is replica 0's declared + injected environment (no inherited
	// variables), for describe and for `apphostd env`.
	Env map[string]string
	// Health probe targets per replica.
	Probes []Probe
	// Warnings for describe.
	Warnings []string

	all map[string]*Resolved // every resource of the same Result
}

// Instance is one replica's launch spec and its identity hash.
type Instance struct {
	Spec runtime.Spec
	Hash string
}

// Probe is a resolved health check target for one replica.
type Probe struct {
	HTTPURL string
	TCPAddr string
	Exec    []string
}

// Resolve allocates ports, settles parameter values and evaluates every
// resource's expressions against them, in the graph's topological order.
// It never fails as a whole: per-resource problems land in Wait or Fail.
func Resolve(in Input) *Result {
	if in.LookupEnv == nil {
		in.LookupEnv = os.LookupEnv
	}
	if in.BaseEnv == nil {
		in.BaseEnv = os.Environ()
	}
	g := in.Graph
	res := &Result{Resources: map[string]*Resolved{}}
	host := model.Values{}  // values as a host process sees them
	inner := model.Values{} // values as a container on the bridge sees them

	// Ports first: every endpoint's address is known before any expression
	// is evaluated, so evaluation order only matters for parameters and
	// integration attributes.
	for _, name := range g.Order {
		r := g.Resources[name]
		rr := &Resolved{Name: name, Kind: r.Kind, BaseKind: r.BaseKind, all: res.Resources}
		res.Resources[name] = rr
		if len(r.Endpoints) == 0 {
			continue
		}
		hv := &model.ResourceValues{Endpoints: map[string]model.EndpointValues{}, Attrs: map[string]string{}}
		iv := &model.ResourceValues{Endpoints: map[string]model.EndpointValues{}, Attrs: map[string]string{}}
		host[name], inner[name] = hv, iv
		for _, ep := range r.Endpoints {
			for rep := 0; rep < max(r.Replicas, 1); rep++ {
				port, target, err := allocate(in.Ports, r, ep, rep)
				if err != nil {
					if rr.Fail == "" {
						rr.Fail = err.Error()
					}
					continue
				}
				scheme := ep.Scheme
				if scheme == "" {
					scheme = "http"
				}
				url := fmt.Sprintf("%s://127.0.0.1:%d", scheme, port)
				rr.Endpoints = append(rr.Endpoints, status.Endpoint{Name: ep.Name, URL: url, Port: port, TargetPort: target, Replica: rep})
				if rep != 0 {
					continue
				}
				hv.Endpoints[ep.Name] = model.EndpointValues{Scheme: scheme, Host: "127.0.0.1", Port: port, TargetPort: target, URL: url}
				ih, ip := HostAlias, port
				if r.BaseKind == model.KindContainer && (r.Container == nil || r.Container.Network != "host") {
					ih, ip = name, target
				}
				iv.Endpoints[ep.Name] = model.EndpointValues{Scheme: scheme, Host: ih, Port: ip, TargetPort: target,
					URL: fmt.Sprintf("%s://%s:%d", scheme, ih, ip)}
			}
		}
	}

	hc := &ctxCache{g: g, vals: host}
	ic := &ctxCache{g: g, vals: inner}
	for _, name := range g.Order {
		r := g.Resources[name]
		rr := res.Resources[name]
		switch r.BaseKind {
		case model.KindParameter:
			v, secret, wait := paramValue(in, r, hc)
			if wait != "" {
				// A default built from another parameter that has no value
				// waits for that one: name it, not the evaluator's words.
				for _, dep := range r.DependsOn {
					if d := res.Resources[dep]; d != nil && d.BaseKind == model.KindParameter && d.Wait != "" {
						wait = fmt.Sprintf("waiting for parameter %s: %s", dep, d.Wait)
						break
					}
				}
			}
			rr.Value, rr.Wait = v, wait
			if wait == "" {
				hc.set(name, "value", v)
				ic.set(name, "value", v)
				if secret && v != "" {
					res.Secrets = append(res.Secrets, v)
				}
			}
			continue
		case model.KindVolume:
			continue
		}
		resolveWorkload(in, r, rr, hc, ic)
	}
	sort.Slice(res.Secrets, func(i, j int) bool { return len(res.Secrets[i]) > len(res.Secrets[j]) })
	res.Host = host
	return res
}

// ConsumerEnv is the environment a host process that references the named
// resources (every workload and parameter if names is empty) would get:
// what `apphostd env` prints and `apphostd run` passes to its command.
func (r *Result) ConsumerEnv(g *model.Graph, names []string) (map[string]string, error) {
	fake := &model.Resource{Name: "consumer"}
	if len(names) == 0 {
		for _, n := range g.Order {
			if k := g.Resources[n].BaseKind; k == model.KindVolume || k == model.KindParameter {
				continue
			}
			fake.References = append(fake.References, model.Ref{Name: n})
		}
	}
	for _, n := range names {
		if g.Resources[n] == nil {
			return nil, fmt.Errorf("no resource named %q", n)
		}
		fake.References = append(fake.References, model.Ref{Name: n})
	}
	return injectedEnv(g, fake, r.Host, r.Resources, false), nil
}

// ctxCache builds an HCL evaluation context for a Values table once and
// rebuilds it only after a value changed: building one walks the whole
// graph, so doing it per resource would make Resolve quadratic.
type ctxCache struct {
	g     *model.Graph
	vals  model.Values
	ctx   *hcl.EvalContext
	dirty bool
}

func (c *ctxCache) get() *hcl.EvalContext {
	if c.ctx == nil || c.dirty {
		c.ctx = model.EvalContext(c.g, c.vals)
		c.dirty = false
	}
	return c.ctx
}

func (c *ctxCache) set(name, key, val string) {
	setAttr(c.vals, name, key, val)
	c.dirty = true
}

func setAttr(v model.Values, name, key, val string) {
	rv := v[name]
	if rv == nil {
		rv = &model.ResourceValues{Endpoints: map[string]model.EndpointValues{}, Attrs: map[string]string{}}
		v[name] = rv
	}
	rv.Attrs[key] = val
}

// allocate returns the host port and the target port of one replica's
// endpoint. For executables without a proxy they are the same port: the
// process listens where consumers connect.
func allocate(p Ports, r *model.Resource, ep *model.Endpoint, rep int) (port, target int, err error) {
	key := fmt.Sprintf("%s/%s/%d", r.Name, ep.Name, rep)
	fixed := ep.Port
	if rep > 0 {
		fixed = 0 // replicas beyond the first take allocated ports
	}
	isContainer := r.BaseKind == model.KindContainer
	if !isContainer && !ep.Proxy && fixed == 0 && ep.TargetPort != 0 && rep == 0 {
		fixed = ep.TargetPort
	}
	sp, socket := p.(SocketPorts)
	socket = socket && ep.Socket && !isContainer
	switch {
	case fixed != 0 && socket:
		if err := sp.ReserveListener(key, fixed); err != nil {
			return 0, 0, fmt.Errorf("endpoint %q: port %d: %w", ep.Name, fixed, err)
		}
		port = fixed
	case fixed != 0:
		if err := p.Reserve(key, fixed); err != nil {
			return 0, 0, fmt.Errorf("endpoint %q: port %d: %w", ep.Name, fixed, err)
		}
		port = fixed
	case socket:
		if port, err = sp.AllocateListener(key); err != nil {
			return 0, 0, fmt.Errorf("endpoint %q: allocate port: %w", ep.Name, err)
		}
	default:
		if port, err = p.Allocate(key); err != nil {
			return 0, 0, fmt.Errorf("endpoint %q: allocate port: %w", ep.Name, err)
		}
	}
	target = port
	switch {
	case isContainer:
		target = ep.TargetPort
		if target == 0 {
			target = port
		}
	case ep.Proxy:
		if ep.TargetPort != 0 && rep == 0 {
			target = ep.TargetPort
		} else if target, err = p.Allocate(key + "/target"); err != nil {
			return 0, 0, fmt.Errorf("endpoint %q: allocate target port: %w", ep.Name, err)
		}
	}
	return port, target, nil
}

// paramValue settles a parameter: the daemon's environment variable, then
// .apphost/parameters, then a generated (persisted) value, then the default.
func paramValue(in Input, r *model.Resource, vals *ctxCache) (value string, secret bool, wait string) {
	p := r.Parameter
	if p == nil {
		return "", false, "internal: parameter without spec"
	}
	secret = p.Secret || p.Generate != nil
	if p.Env != "" {
		if v, ok := in.LookupEnv(p.Env); ok {
			return v, secret, ""
		}
	}
	if v, ok := in.ParamFile[r.Name]; ok {
		return v, secret, ""
	}
	if p.Generate != nil && in.Secrets != nil {
		v, err := in.Secrets.GetOrGenerate(r.Name, p.Generate)
		if err != nil {
			return "", secret, "generate value: " + err.Error()
		}
		return v, secret, ""
	}
	if p.Default != nil {
		v, diags := evalString(p.Default, vals.get())
		if diags.HasErrors() {
			return "", secret, "default: " + diagText(diags)
		}
		return v, secret, ""
	}
	hint := fmt.Sprintf("add %s=VALUE to .apphost/parameters", r.Name)
	if p.Env != "" {
		hint = fmt.Sprintf("set $%s or %s", p.Env, hint)
	}
	return "", secret, fmt.Sprintf("parameter %q has no value: %s", r.Name, hint)
}

func evalString(e hcl.Expression, ctx *hcl.EvalContext) (string, hcl.Diagnostics) {
	v, diags := e.Value(ctx)
	if diags.HasErrors() {
		return "", diags
	}
	if !v.IsWhollyKnown() || v.IsNull() {
		return "", hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "value not known yet"}}
	}
	s, err := convert.Convert(v, cty.String)
	if err != nil {
		return "", hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "not a string: " + err.Error()}}
	}
	return s.AsString(), nil
}

func diagText(d hcl.Diagnostics) string {
	var parts []string
	for _, x := range d {
		if x.Severity != hcl.DiagError {
			continue
		}
		s := x.Summary
		if x.Detail != "" {
			s += ": " + x.Detail
		}
		if x.Subject != nil {
			s = fmt.Sprintf("%s:%d:%d: %s", filepath.Base(x.Subject.Filename), x.Subject.Start.Line, x.Subject.Start.Column, s)
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, "; ")
}

func resolveWorkload(in Input, r *model.Resource, rr *Resolved, hc, ic *ctxCache) {
	isContainer := r.BaseKind == model.KindContainer
	viewc := hc
	if isContainer && (r.Container == nil || r.Container.Network != "host") {
		viewc = ic
	}
	view := viewc.vals
	// A parameter without a value is the usual reason an expression cannot
	// be evaluated yet; say so in its words rather than the evaluator's.
	for _, dep := range r.DependsOn {
		if d := rr.all[dep]; d != nil && d.BaseKind == model.KindParameter && d.Wait != "" {
			rr.Wait = d.Wait
			return
		}
	}
	// A referenced resource that cannot be resolved itself (an integration
	// whose password parameter has no value) has no values to inject yet:
	// starting without them would hand the consumer a partial environment.
	for _, ref := range r.References {
		if d := rr.all[ref.Name]; d != nil && d.Wait != "" {
			rr.Wait = fmt.Sprintf("waiting for %s %s: %s", d.Kind, ref.Name, d.Wait)
			return
		}
	}
	spec, diags := r.Resolve(viewc.get())
	if diags.HasErrors() {
		rr.Wait = diagText(diags)
		return
	}
	// Integration attributes become visible to later resources, in the
	// view of each kind of consumer.
	if len(spec.Attributes) > 0 {
		if viewc == hc {
			for k, v := range spec.Attributes {
				hc.set(r.Name, k, v)
			}
			if ispec, d := r.Resolve(ic.get()); !d.HasErrors() {
				for k, v := range ispec.Attributes {
					ic.set(r.Name, k, v)
				}
			}
		} else {
			for k, v := range spec.Attributes {
				ic.set(r.Name, k, v)
			}
			if hspec, d := r.Resolve(hc.get()); !d.HasErrors() {
				for k, v := range hspec.Attributes {
					hc.set(r.Name, k, v)
				}
			}
		}
	}
	if rr.Fail != "" {
		return
	}

	injected := injectedEnv(in.Graph, r, view, rr.all, viewc == ic)
	replicas := max(r.Replicas, 1)
	for rep := 0; rep < replicas; rep++ {
		env := map[string]string{"OTEL_SERVICE_NAME": r.Name}
		for k, v := range injected {
			env[k] = v
		}
		var ports []runtime.PortMapping
		for _, ep := range rr.Endpoints {
			if ep.Replica != rep {
				continue
			}
			e := endpointByName(r, ep.Name)
			if e != nil && e.Env != "" {
				env[e.Env] = strconv.Itoa(ep.TargetPort)
			}
			ports = append(ports, runtime.PortMapping{Name: ep.Name, HostIP: "127.0.0.1", HostPort: ep.Port, ContainerPort: ep.TargetPort, Protocol: "tcp",
				Socket: e != nil && e.Socket && !isContainer})
		}
		for k, v := range spec.Env {
			env[k] = v
		}
		if rep == 0 {
			rr.Env = env
		}
		s := runtime.Spec{
			ID:       instanceID(r.Name, rep, replicas),
			Resource: r.Name,
			Replica:  rep,
			Project:  in.ProjectID,
			Labels:   map[string]string{},
		}
		for k, v := range r.Labels {
			s.Labels[k] = v
		}
		if l := r.Limits; l != nil {
			s.Limits = &runtime.Limits{MemoryBytes: l.MemoryBytes, CPUs: l.CPUs, PIDs: l.PIDs}
		}
		declared := sortedEnv(env)
		if isContainer {
			c := r.Container
			s.Image = spec.Image
			s.Entrypoint = spec.Entrypoint
			s.Args = spec.Args
			s.User = spec.User
			s.WorkingDir = spec.WorkingDir
			s.Env = declared
			s.Ports = ports
			if c != nil {
				s.Network = c.Network
				s.Pull = c.Pull
				s.StopSignal = parseSignal(c.StopSignal)
				for _, m := range c.Mounts {
					src := m.Source
					if m.Type == "volume" {
						src = filepath.Join(in.VolumeDir, m.Source)
					} else if !filepath.IsAbs(src) {
						src = filepath.Join(in.ProjectDir, src)
					}
					if m.Type != "volume" && rep == 0 && !within(in.ProjectDir, src) {
						rr.Warnings = append(rr.Warnings, fmt.Sprintf("bind mount %s → %s is outside the project directory", src, m.Target))
					}
					s.Mounts = append(s.Mounts, runtime.Mount{Source: src, Target: m.Target, ReadOnly: m.ReadOnly})
				}
			}
		} else {
			s.Command = spec.Command
			s.Args = spec.Args
			s.Dir = in.ProjectDir
			if spec.Dir != "" {
				if filepath.IsAbs(spec.Dir) {
					s.Dir = spec.Dir
				} else {
					s.Dir = filepath.Join(in.ProjectDir, spec.Dir)
				}
			}
			s.Env = mergeEnv(in.BaseEnv, declared)
			// An executable listens on its ports itself; only the sockets
			// the daemon hands it are the driver's business. (Listing only
			// those keeps the hash of every other executable unchanged.)
			for _, pm := range ports {
				if pm.Socket {
					s.Ports = append(s.Ports, pm)
				}
			}
		}
		rr.Instances = append(rr.Instances, Instance{Spec: s, Hash: hashSpec(s, declared)})
		rr.Probes = append(rr.Probes, probeFor(r, rr, rep))
	}
}

func within(dir, p string) bool {
	rel, err := filepath.Rel(dir, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, "../")
}

// instanceID names a replica: "api" for a single instance, "api-0",
// "api-1"... with replicas.
func instanceID(name string, rep, replicas int) string {
	if replicas == 1 {
		return name
	}
	return fmt.Sprintf("%s-%d", name, rep)
}

func endpointByName(r *model.Resource, name string) *model.Endpoint {
	for _, e := range r.Endpoints {
		if e.Name == name {
			return e
		}
	}
	return nil
}

// injectedEnv builds the Aspire-convention variables for every resource r
// references.
//
// With replicas, services__NAME__EP__i is set for every replica i (as a
// host process or a host-network container sees them); NAME_EP is the
// first replica's URL.
func injectedEnv(g *model.Graph, r *model.Resource, view model.Values, all map[string]*Resolved, inner bool) map[string]string {
	env := map[string]string{}
	for _, ref := range r.References {
		dep := g.Resources[ref.Name]
		if dep == nil {
			continue
		}
		prefix := EnvPrefix(dep.Name)
		vals := view[dep.Name]
		if dep.BaseKind == model.KindParameter {
			if vals != nil {
				if v, ok := vals.Attrs["value"]; ok {
					env[prefix] = v
				}
			}
			continue
		}
		for _, ep := range dep.Endpoints {
			if vals == nil {
				break
			}
			ev, ok := vals.Endpoints[ep.Name]
			if !ok {
				continue
			}
			env[prefix+"_"+EnvPrefix(ep.Name)] = ev.URL
			env[fmt.Sprintf("services__%s__%s__0", dep.Name, ep.Name)] = ev.URL
			if dr := all[dep.Name]; dr != nil && dep.Replicas > 1 && (!inner || dep.BaseKind != model.KindContainer) {
				for _, e := range dr.Endpoints {
					if e.Name != ep.Name || e.Replica == 0 {
						continue
					}
					url := e.URL
					if inner {
						url = strings.Replace(url, "127.0.0.1", HostAlias, 1)
					}
					env[fmt.Sprintf("services__%s__%s__%d", dep.Name, ep.Name, e.Replica)] = url
				}
			}
		}
		if vals == nil {
			continue
		}
		if cs, ok := vals.Attrs["connection_string"]; ok {
			env["ConnectionStrings__"+dep.Name] = cs
		}
		for _, a := range []string{"host", "port", "username", "password", "uri", "database"} {
			if v, ok := vals.Attrs[a]; ok {
				env[prefix+"_"+strings.ToUpper(a)] = v
			}
		}
	}
	return env
}

func probeFor(r *model.Resource, rr *Resolved, rep int) Probe {
	h := r.Health
	if h == nil {
		return Probe{}
	}
	find := func(name string, httpOnly bool) *status.Endpoint {
		for i := range rr.Endpoints {
			e := &rr.Endpoints[i]
			if e.Replica != rep {
				continue
			}
			if name != "" {
				if e.Name == name {
					return e
				}
				continue
			}
			if !httpOnly || strings.HasPrefix(e.URL, "http") {
				return e
			}
		}
		return nil
	}
	switch {
	case h.HTTP != nil:
		if e := find(h.HTTP.Endpoint, true); e != nil {
			path := h.HTTP.Path
			if path == "" {
				path = "/"
			}
			if !strings.HasPrefix(path, "/") {
				path = "/" + path
			}
			return Probe{HTTPURL: e.URL + path}
		}
	case h.TCP != nil:
		if e := find(h.TCP.Endpoint, false); e != nil {
			return Probe{TCPAddr: fmt.Sprintf("127.0.0.1:%d", e.Port)}
		}
	case h.Exec != nil:
		return Probe{Exec: append([]string(nil), h.Exec.Command...)}
	}
	return Probe{}
}

func sortedEnv(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// mergeEnv returns base with every variable in over replacing or adding.
func mergeEnv(base, over []string) []string {
	idx := map[string]int{}
	out := make([]string, 0, len(base)+len(over))
	for _, kv := range base {
		k, _, _ := strings.Cut(kv, "=")
		if i, ok := idx[k]; ok {
			out[i] = kv
			continue
		}
		idx[k] = len(out)
		out = append(out, kv)
	}
	for _, kv := range over {
		k, _, _ := strings.Cut(kv, "=")
		if i, ok := idx[k]; ok {
			out[i] = kv
			continue
		}
		idx[k] = len(out)
		out = append(out, kv)
	}
	return out
}

// hashSpec digests everything launch-relevant. Inherited environment is
// excluded (declared holds the declared and injected variables only).
func hashSpec(s runtime.Spec, declared []string) string {
	h := sha256.New()
	w := func(parts ...string) {
		for _, p := range parts {
			h.Write([]byte(p))
			h.Write([]byte{0})
		}
		h.Write([]byte{1})
	}
	w(s.ID, s.Command, s.Dir, s.Image, s.User, s.WorkingDir, s.Network, s.Pull, strconv.Itoa(int(s.StopSignal)))
	w(s.Args...)
	w(fmt.Sprint(s.Args == nil), fmt.Sprint(s.Entrypoint == nil))
	w(s.Entrypoint...)
	w(declared...)
	for _, m := range s.Mounts {
		w(m.Source, m.Target, strconv.FormatBool(m.ReadOnly))
	}
	for _, p := range s.Ports {
		w(p.Name, p.HostIP, strconv.Itoa(p.HostPort), strconv.Itoa(p.ContainerPort), p.Protocol)
		if p.Socket {
			// Only when set, so hashes of specs without it stay as they
			// were and an upgrade restarts nothing.
			w("socket")
		}
	}
	if l := s.Limits; l != nil {
		w("limits", strconv.FormatInt(l.MemoryBytes, 10), strconv.FormatFloat(l.CPUs, 'g', -1, 64), strconv.Itoa(l.PIDs))
	}
	keys := make([]string, 0, len(s.Labels))
	for k := range s.Labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		w(k, s.Labels[k])
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

func parseSignal(name string) syscall.Signal {
	switch strings.TrimPrefix(strings.ToUpper(name), "SIG") {
	case "INT":
		return syscall.SIGINT
	case "QUIT":
		return syscall.SIGQUIT
	case "KILL":
		return syscall.SIGKILL
	case "HUP":
		return syscall.SIGHUP
	case "USR1":
		return syscall.SIGUSR1
	case "USR2":
		return syscall.SIGUSR2
	case "TERM":
		return syscall.SIGTERM
	}
	return 0
}

// Mask replaces every secret value in s with ********.
func (r *Result) Mask(s string) string {
	for _, sec := range r.Secrets {
		if sec != "" {
			s = strings.ReplaceAll(s, sec, "********")
		}
	}
	return s
}

// MaskEnv returns a copy of env with secret values masked.
func (r *Result) MaskEnv(env map[string]string) map[string]string {
	out := make(map[string]string, len(env))
	for k, v := range env {
		out[k] = r.Mask(v)
	}
	return out
}
