package model

import (
	"fmt"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// Defaults from notes/SYNTAX.md.
const (
	defaultInterval       = 5 * time.Second
	defaultTimeout        = 2 * time.Second
	defaultRetries        = 3
	defaultBackoffInitial = 500 * time.Millisecond
	defaultBackoffMax     = 30 * time.Second
	defaultGenerateLength = 22
)

// endpointAttrs are the values a reference may read from an endpoint.
var endpointAttrs = []string{"url", "host", "port", "target_port", "host_port", "scheme"}

var (
	schemeRE = regexp.MustCompile(`^[a-z][a-z0-9+.-]*$`)
	envRE    = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	signalRE = regexp.MustCompile(`^SIG[A-Z][A-Z0-9]*(\+[0-9]+)?$`)
	statusRE = regexp.MustCompile(`^([0-9]{3})(?:-([0-9]{3}))?$`)
	volumeRE = regexp.MustCompile(`^volume\.[a-z][a-z0-9_-]*$`)
)

// decodeResource decodes one top-level block of a base kind.
func (c *compiler) decodeResource(blk *Block) *Resource {
	r := &Resource{
		Name:      blk.Label(),
		Kind:      blk.Type,
		BaseKind:  blk.Type,
		DeclRange: blk.DefRange,
		Replicas:  1,
		Autostart: true,
		Restart:   RestartPolicy{Policy: RestartNever, BackoffInitial: defaultBackoffInitial, BackoffMax: defaultBackoffMax},
	}
	body := blk.Body
	d := &c.diags
	switch blk.Type {
	case KindExecutable:
		r.Executable = &ExecutableSpec{
			Command: body.StringExpr("command", d),
			Args:    body.StringListExprs("args", d),
			Dir:     body.StringExpr("dir", d),
		}
		c.decodeCommon(r, body)
		for _, ep := range r.Endpoints {
			if !ep.Proxy && ep.Port != 0 && ep.TargetPort != 0 && ep.Port != ep.TargetPort {
				c.diags = append(c.diags, errAt(ep.Range, "Conflicting ports",
					fmt.Sprintf("Endpoint %q sets port %d and target_port %d without proxy; an executable without a proxy listens where consumers connect, so set one of them, or set proxy = true.", ep.Name, ep.Port, ep.TargetPort)))
			}
		}
	case KindContainer:
		spec := &ContainerSpec{
			Image:      body.StringExpr("image", d),
			Entrypoint: body.StringListExprs("entrypoint", d),
			Args:       body.StringListExprs("args", d),
			User:       body.StringExpr("user", d),
			WorkingDir: body.StringExpr("working_dir", d),
			Pull:       "missing",
		}
		c.oneOf(body, "pull", []string{"missing", "always", "never"}, &spec.Pull)
		network := "bridge"
		c.oneOf(body, "network", []string{"bridge", "host"}, &network)
		if network == "host" {
			spec.Network = "host"
		}
		if s, ok := body.ConstString("stop_signal", d); ok {
			if !signalRE.MatchString(s) {
				attr := body.Attributes["stop_signal"]
				c.diags = append(c.diags, errCtx(attr.Expr.Range(), attr.Range, "Invalid stop signal",
					fmt.Sprintf("stop_signal must be a signal name such as \"SIGTERM\" or \"SIGINT\"; got %q.", s)))
			} else {
				spec.StopSignal = s
			}
		}
		for _, mb := range body.BlocksOfType("mount") {
			if m := c.decodeMount(r, mb); m != nil {
				spec.Mounts = append(spec.Mounts, m)
			}
		}
		r.Container = spec
		c.decodeCommon(r, body)
		for _, ep := range r.Endpoints {
			if ep.TargetPort == 0 && !c.endpointHasAttr(body, ep.Name, "target_port") {
				c.diags = append(c.diags, errAt(ep.Range, "Missing target_port",
					fmt.Sprintf("Container endpoint %q needs target_port: the port the process inside the container listens on.", ep.Name)))
			}
		}
	case KindParameter:
		r.Parameter = c.decodeParameter(body)
	case KindVolume:
		r.Volume = &VolumeSpec{}
	}
	return r
}

// endpointHasAttr reports whether the endpoint block named ep sets attr
// (validly or not), so a bad value is not also reported as missing.
func (c *compiler) endpointHasAttr(body *Body, ep, attr string) bool {
	for _, eb := range body.BlocksOfType("endpoint") {
		if eb.Label() == ep {
			if a := eb.Body.Attributes[attr]; a != nil && !isNullExpr(a.Expr) {
				return true
			}
		}
	}
	return false
}

// oneOf decodes an optional enumerated constant string into *dst.
func (c *compiler) oneOf(body *Body, name string, allowed []string, dst *string) {
	s, ok := body.ConstString(name, &c.diags)
	if !ok {
		return
	}
	for _, a := range allowed {
		if s == a {
			*dst = s
			return
		}
	}
	attr := body.Attributes[name]
	c.diags = append(c.diags, errCtx(attr.Expr.Range(), attr.Range, "Invalid value for "+name,
		fmt.Sprintf("%s must be one of %s; got %q.", name, quoteList(allowed), s)))
}

func quoteList(xs []string) string {
	q := make([]string, len(xs))
	for i, x := range xs {
		q[i] = strconv.Quote(x)
	}
	return strings.Join(q, ", ")
}

// decodeCommon decodes what every runnable resource accepts: env,
// endpoints, health, reference lists, replicas, restart, autostart, labels.
func (c *compiler) decodeCommon(r *Resource, body *Body) {
	d := &c.diags
	for _, ev := range body.MapExprs("env", d) {
		if !envRE.MatchString(ev.Name) {
			c.diags = append(c.diags, errAt(ev.Range, "Invalid environment variable name",
				fmt.Sprintf("%q is not a valid variable name: use letters, digits and underscores, not starting with a digit.", ev.Name)))
			continue
		}
		r.Env = append(r.Env, ev)
	}
	sortEnv(r.Env)
	seenEP := map[string]*Endpoint{}
	for _, ep := range r.Endpoints {
		seenEP[ep.Name] = ep
	}
	for _, eb := range body.BlocksOfType("endpoint") {
		ep := c.decodeEndpoint(r, eb)
		if ep == nil {
			continue
		}
		if prev, dup := seenEP[ep.Name]; dup {
			c.diags = append(c.diags, errAt(eb.LabelRange(), "Duplicate endpoint",
				fmt.Sprintf("%s %q already has an endpoint %q, defined at %s.", r.Kind, r.Name, ep.Name, posString(prev.Range))))
			continue
		}
		seenEP[ep.Name] = ep
		r.Endpoints = append(r.Endpoints, ep)
	}
	if hbs := body.BlocksOfType("health"); len(hbs) > 0 {
		r.Health = c.decodeHealth(r, hbs[0])
	}
	for _, l := range []struct {
		attr string
		dst  *[]Ref
	}{{"references", &r.References}, {"wait_for", &r.WaitFor}, {"wait_for_completion", &r.WaitForCompletion}} {
		*l.dst = append(*l.dst, c.decodeRefList(r, body, l.attr)...)
	}
	if n, ok := body.ConstInt("replicas", d); ok {
		if n < 1 {
			attr := body.Attributes["replicas"]
			c.diags = append(c.diags, errCtx(attr.Expr.Range(), attr.Range, "Invalid replicas", fmt.Sprintf("replicas must be at least 1; got %d.", n)))
		} else {
			r.Replicas = n
		}
	}
	c.oneOf(body, "restart", []string{RestartNever, RestartOnFailure, RestartAlways}, &r.Restart.Policy)
	if bbs := body.BlocksOfType("backoff"); len(bbs) > 0 {
		bb := bbs[0].Body
		if v, ok := bb.ConstDuration("initial", d); ok {
			r.Restart.BackoffInitial = v
		}
		if v, ok := bb.ConstDuration("max", d); ok {
			r.Restart.BackoffMax = v
		}
		if r.Restart.BackoffInitial > r.Restart.BackoffMax {
			c.diags = append(c.diags, errAt(bbs[0].DefRange, "Invalid backoff",
				fmt.Sprintf("backoff initial (%s) is larger than max (%s).", r.Restart.BackoffInitial, r.Restart.BackoffMax)))
		}
	}
	if v, ok := body.ConstBool("autostart", d); ok {
		r.Autostart = v
	}
	if m, ok := body.ConstStringMap("labels", d); ok {
		r.Labels = m
	}
	c.decodeLifecycle(r, body)
}

func sortEnv(env []EnvVar) {
	sort.SliceStable(env, func(i, j int) bool { return env[i].Name < env[j].Name })
}

func (c *compiler) decodeEndpoint(r *Resource, blk *Block) *Endpoint {
	name := blk.Label()
	if !nameRE.MatchString(name) {
		c.diags = append(c.diags, errAt(blk.LabelRange(), "Invalid endpoint name",
			fmt.Sprintf("%q is not a valid endpoint name: start with a lowercase letter, then lowercase letters, digits, '-' or '_'.", name)))
		return nil
	}
	body := blk.Body
	d := &c.diags
	ep := &Endpoint{Name: name, Scheme: "http", Range: blk.DefRange}
	if s, ok := body.ConstString("scheme", d); ok {
		if !schemeRE.MatchString(s) {
			attr := body.Attributes["scheme"]
			c.diags = append(c.diags, errCtx(attr.Expr.Range(), attr.Range, "Invalid scheme",
				fmt.Sprintf("%q is not a URL scheme; use e.g. \"http\", \"https\" or \"tcp\".", s)))
		} else {
			ep.Scheme = s
		}
	}
	ep.Port = c.port(body, "port")
	ep.TargetPort = c.port(body, "target_port")
	if s, ok := body.ConstString("env", d); ok {
		if !envRE.MatchString(s) {
			attr := body.Attributes["env"]
			c.diags = append(c.diags, errCtx(attr.Expr.Range(), attr.Range, "Invalid environment variable name",
				fmt.Sprintf("%q is not a valid variable name.", s)))
		} else {
			ep.Env = s
		}
	}
	if v, ok := body.ConstBool("proxy", d); ok {
		ep.Proxy = v
	}
	if v, ok := body.ConstBool("socket", d); ok {
		ep.Socket = v
		attr := body.Attributes["socket"]
		switch {
		case v && r.BaseKind != KindExecutable:
			c.diags = append(c.diags, errCtx(attr.Expr.Range(), attr.Range, "Socket activation needs an executable",
				fmt.Sprintf("socket = true passes a listening socket to a local process; %s %q is a %s. Remove socket, or publish the port with target_port.", r.Kind, r.Name, r.BaseKind)))
		case v && ep.Proxy:
			c.diags = append(c.diags, errCtx(attr.Expr.Range(), attr.Range, "Conflicting endpoint options",
				fmt.Sprintf("Endpoint %q sets both socket and proxy; with socket = true the process itself gets the listening socket on port, so drop proxy.", name)))
		}
	}
	return ep
}

func (c *compiler) port(body *Body, name string) int {
	n, ok := body.ConstInt(name, &c.diags)
	if !ok {
		return 0
	}
	if n < 1 || n > 65535 {
		attr := body.Attributes[name]
		c.diags = append(c.diags, errCtx(attr.Expr.Range(), attr.Range, "Invalid port",
			fmt.Sprintf("%s must be between 1 and 65535; got %d.", name, n)))
		return 0
	}
	return n
}

func (c *compiler) decodeHealth(r *Resource, blk *Block) *HealthCheck {
	body := blk.Body
	d := &c.diags
	h := &HealthCheck{Interval: defaultInterval, Timeout: defaultTimeout, Retries: defaultRetries, Range: blk.DefRange}
	if v, ok := body.ConstDuration("interval", d); ok {
		h.Interval = v
	}
	if v, ok := body.ConstDuration("timeout", d); ok {
		h.Timeout = v
	}
	if v, ok := body.ConstDuration("start_period", d); ok {
		h.StartPeriod = v
	}
	for _, nd := range []struct {
		name string
		v    time.Duration
	}{{"interval", h.Interval}, {"timeout", h.Timeout}} {
		if nd.v == 0 {
			attr := body.Attributes[nd.name]
			c.diags = append(c.diags, errCtx(attr.Expr.Range(), attr.Range, "Invalid duration", nd.name+" must be greater than zero."))
		}
	}
	if n, ok := body.ConstInt("retries", d); ok {
		if n < 1 {
			attr := body.Attributes["retries"]
			c.diags = append(c.diags, errCtx(attr.Expr.Range(), attr.Range, "Invalid retries", fmt.Sprintf("retries must be at least 1; got %d.", n)))
		} else {
			h.Retries = n
		}
	}
	probes := 0
	for _, pb := range body.Blocks {
		probes++
		if probes > 1 {
			c.diags = append(c.diags, errAt(pb.DefRange, "Conflicting health probes",
				"A health block takes exactly one probe: http, tcp or exec."))
			continue
		}
		switch pb.Type {
		case "http":
			p := &HTTPProbe{Path: "/", StatusMin: 200, StatusMax: 399}
			if s, ok := pb.Body.ConstString("path", d); ok {
				if !strings.HasPrefix(s, "/") {
					attr := pb.Body.Attributes["path"]
					c.diags = append(c.diags, errCtx(attr.Expr.Range(), attr.Range, "Invalid path", fmt.Sprintf("path must start with '/'; got %q.", s)))
				}
				p.Path = s
			}
			if s, ok := pb.Body.ConstString("status", d); ok {
				p.StatusMin, p.StatusMax = c.statusRange(pb.Body, s)
			}
			p.Endpoint = c.probeEndpoint(r, pb, true)
			h.HTTP = p
		case "tcp":
			h.TCP = &TCPProbe{Endpoint: c.probeEndpoint(r, pb, false)}
		case "exec":
			cmd, ok := pb.Body.ConstStringList("command", d)
			if ok && len(cmd) == 0 {
				attr := pb.Body.Attributes["command"]
				c.diags = append(c.diags, errCtx(attr.Expr.Range(), attr.Range, "Invalid command", "An exec probe needs a non-empty command."))
			}
			h.Exec = &ExecProbe{Command: cmd}
		}
	}
	if probes == 0 {
		c.diags = append(c.diags, errAt(blk.DefRange, "Missing health probe",
			"A health block takes exactly one probe: http { ... }, tcp { ... } or exec { ... }."))
	}
	return h
}

func (c *compiler) statusRange(body *Body, s string) (int, int) {
	m := statusRE.FindStringSubmatch(s)
	lo, hi := 0, 0
	if m != nil {
		lo, _ = strconv.Atoi(m[1])
		hi = lo
		if m[2] != "" {
			hi, _ = strconv.Atoi(m[2])
		}
	}
	if m == nil || lo < 100 || hi > 599 || lo > hi {
		attr := body.Attributes["status"]
		c.diags = append(c.diags, errCtx(attr.Expr.Range(), attr.Range, "Invalid status range",
			fmt.Sprintf("status must be \"NNN\" or \"NNN-MMM\" with codes between 100 and 599, low to high; got %q.", s)))
		return 200, 399
	}
	return lo, hi
}

// probeEndpoint resolves a probe's endpoint attribute or its default.
func (c *compiler) probeEndpoint(r *Resource, pb *Block, httpOnly bool) string {
	if s, ok := pb.Body.ConstString("endpoint", &c.diags); ok {
		for _, ep := range r.Endpoints {
			if ep.Name == s {
				return s
			}
		}
		attr := pb.Body.Attributes["endpoint"]
		var names []string
		for _, ep := range r.Endpoints {
			names = append(names, ep.Name)
		}
		c.diags = append(c.diags, errCtx(attr.Expr.Range(), attr.Range, "Unknown endpoint",
			fmt.Sprintf("%s %q has no endpoint %q.%s", r.Kind, r.Name, s, suggest(s, names))))
		return ""
	}
	for _, ep := range r.Endpoints {
		if !httpOnly || ep.Scheme == "http" || ep.Scheme == "https" {
			return ep.Name
		}
	}
	what := "an endpoint"
	if httpOnly {
		what = "an http or https endpoint"
	}
	c.diags = append(c.diags, errAt(pb.DefRange, "Missing endpoint for health probe",
		fmt.Sprintf("The %s probe needs %s to connect to; declare one or set endpoint.", pb.Type, what)))
	return ""
}

func (c *compiler) decodeMount(r *Resource, blk *Block) *Mount {
	body := blk.Body
	d := &c.diags
	m := &Mount{Range: blk.DefRange}
	if attr := body.Attributes["source"]; attr != nil && !isNullExpr(attr.Expr) {
		expr := attr.Expr
		if w, ok := expr.(*hclsyntax.TemplateWrapExpr); ok {
			expr = w.Wrapped
		}
		lit, isLit := literalString(expr)
		switch t, td := hcl.AbsTraversalForExpr(expr); {
		case !td.HasErrors() || (isLit && volumeRE.MatchString(lit)):
			if td.HasErrors() {
				t, _ = refTraversal(expr)
			}
			kind, name, rest, ok := splitRef(t)
			if !ok || kind != KindVolume || len(rest) > 0 {
				c.diags = append(c.diags, errCtx(attr.Expr.Range(), attr.Range, "Invalid mount source",
					"source must be a volume reference (volume.NAME) or a path string."))
				return nil
			}
			m.Type, m.Source = "volume", name
			c.mountRefs[r.Name] = append(c.mountRefs[r.Name], Ref{Name: name, Range: attr.Expr.Range()})
		case isLit:
			if lit == "" {
				c.diags = append(c.diags, errCtx(attr.Expr.Range(), attr.Range, "Invalid mount source", "source must not be empty."))
				return nil
			}
			m.Type, m.Source = "bind", lit
		default:
			if vars := attr.Expr.Variables(); len(vars) > 0 {
				c.diags = append(c.diags, errCtx(vars[0].SourceRange(), attr.Range, "Reference not allowed here",
					"A mount source is a volume reference (volume.NAME) or a constant path; it cannot be computed."))
			} else {
				c.diags = append(c.diags, errCtx(attr.Expr.Range(), attr.Range, "Invalid mount source",
					"source must be a volume reference (volume.NAME) or a path string."))
			}
			return nil
		}
	}
	if s, ok := body.ConstString("target", d); ok {
		if !path.IsAbs(s) {
			attr := body.Attributes["target"]
			c.diags = append(c.diags, errCtx(attr.Expr.Range(), attr.Range, "Invalid mount target",
				fmt.Sprintf("target must be an absolute path inside the container; got %q.", s)))
		}
		m.Target = s
	}
	if v, ok := body.ConstBool("read_only", d); ok {
		m.ReadOnly = v
	}
	return m
}

func (c *compiler) decodeParameter(body *Body) *ParameterSpec {
	d := &c.diags
	p := &ParameterSpec{Default: body.StringExpr("default", d)}
	p.HasValue = p.Default != nil
	if s, ok := body.ConstString("env", d); ok {
		if !envRE.MatchString(s) {
			attr := body.Attributes["env"]
			c.diags = append(c.diags, errCtx(attr.Expr.Range(), attr.Range, "Invalid environment variable name",
				fmt.Sprintf("%q is not a valid variable name.", s)))
		}
		p.Env = s
	}
	if v, ok := body.ConstBool("secret", d); ok {
		p.Secret = v
	}
	if gbs := body.BlocksOfType("generate"); len(gbs) > 0 {
		gb := gbs[0].Body
		g := &GenerateSpec{Length: defaultGenerateLength, Lower: true, Upper: true, Numeric: true}
		if n, ok := gb.ConstInt("length", d); ok {
			if n < 1 || n > 4096 {
				attr := gb.Attributes["length"]
				c.diags = append(c.diags, errCtx(attr.Expr.Range(), attr.Range, "Invalid length", fmt.Sprintf("length must be between 1 and 4096; got %d.", n)))
			} else {
				g.Length = n
			}
		}
		for _, f := range []struct {
			name string
			dst  *bool
		}{{"lower", &g.Lower}, {"upper", &g.Upper}, {"numeric", &g.Numeric}, {"special", &g.Special}} {
			if v, ok := gb.ConstBool(f.name, d); ok {
				*f.dst = v
			}
		}
		if !g.Lower && !g.Upper && !g.Numeric && !g.Special {
			c.diags = append(c.diags, errAt(gbs[0].DefRange, "Invalid generate block", "At least one of lower, upper, numeric, special must be true."))
		}
		if p.Default != nil {
			c.diags = append(c.diags, errAt(gbs[0].DefRange, "Conflicting parameter value",
				"A parameter takes either a default or a generate block, not both."))
		}
		p.Generate = g
	}
	return p
}

// decodeRefList decodes references / wait_for / wait_for_completion. The
// written kind is kept aside so linking can check it against the target.
func (c *compiler) decodeRefList(r *Resource, body *Body, name string) []Ref {
	attr := body.Attributes[name]
	if attr == nil || isNullExpr(attr.Expr) {
		return nil
	}
	elems, d := hcl.ExprList(attr.Expr)
	if d.HasErrors() {
		c.diags = append(c.diags, errCtx(attr.Expr.Range(), attr.Range, "Incorrect attribute value type",
			fmt.Sprintf("%s must be a list of resource references, such as [container.cache].", name)))
		return nil
	}
	var out []Ref
	for _, e := range elems {
		t, td := refTraversal(e)
		if td.HasErrors() {
			c.diags = append(c.diags, td...)
			continue
		}
		kind, target, rest, ok := splitRef(t)
		if !ok || len(rest) > 0 {
			c.diags = append(c.diags, errCtx(e.Range(), attr.Range, "Invalid reference",
				fmt.Sprintf("%s takes whole resources written KIND.NAME (e.g. container.cache), not %s.", name, traversalString(t))))
			continue
		}
		ref := Ref{Name: target, Range: t.SourceRange()}
		out = append(out, ref)
		c.listRefs[r.Name] = append(c.listRefs[r.Name], listRef{attr: name, kind: kind, ref: ref})
	}
	return out
}

// splitRef splits KIND.NAME.rest... A name written as an index
// (executable["api"]) is accepted too.
func splitRef(t hcl.Traversal) (kind, name string, rest hcl.Traversal, ok bool) {
	if len(t) < 2 {
		return t.RootName(), "", nil, false
	}
	kind = t.RootName()
	switch s := t[1].(type) {
	case hcl.TraverseAttr:
		name = s.Name
	case hcl.TraverseIndex:
		if !s.Key.IsKnown() || s.Key.IsNull() || s.Key.Type().FriendlyName() != "string" {
			return kind, "", nil, false
		}
		name = s.Key.AsString()
	default:
		return kind, "", nil, false
	}
	return kind, name, t[2:], true
}
