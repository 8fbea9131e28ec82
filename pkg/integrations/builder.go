package integrations

import (
	"fmt"
	"path/filepath"
	"sort"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/apphostd/apphostd/pkg/model"
	"github.com/apphostd/apphostd/pkg/project"
)

// Runtimes an integration can run on.
const (
	runtimeContainer  = "container"
	runtimeExecutable = "executable"
)

// expansion is the state of one Expand call: the block being expanded, its
// decoded options, the resources produced so far and the diagnostics. It is
// discarded when Expand returns, so Expand never keeps the block.
type expansion struct {
	def   *integration
	b     *model.Block
	name  string
	rng   hcl.Range
	opts  options
	out   []*model.Resource
	diags hcl.Diagnostics
}

// options are the attributes every integration block shares.
type options struct {
	runtime    string         // runtimeContainer or runtimeExecutable
	image      string         // container image reference
	port       int            // fixed host port; 0 = allocated
	password   hcl.Expression // user-supplied password; nil = generated
	dataVolume bool           // keep data in a named volume
}

// sharedAttributes are the attribute names decodeOptions reads; each
// integration's schema lists the ones it accepts.
var (
	attrRuntime    = model.AttributeSchema{Name: "runtime"}
	attrImage      = model.AttributeSchema{Name: "image"}
	attrPort       = model.AttributeSchema{Name: "port"}
	attrPassword   = model.AttributeSchema{Name: "password"}
	attrDataVolume = model.AttributeSchema{Name: "data_volume"}
)

func newExpansion(def *integration, b *model.Block) *expansion {
	return &expansion{def: def, b: b, name: b.Label(), rng: b.DefRange}
}

// decodeOptions reads the shared attributes with the integration's
// defaults and reports bad values at their ranges.
func (x *expansion) decodeOptions() {
	body := x.b.Body
	d := &x.diags
	x.opts = options{runtime: runtimeContainer, image: x.def.image, dataVolume: true}
	if s, ok := body.ConstString("runtime", d); ok {
		switch {
		case s == runtimeContainer:
		case s == runtimeExecutable && x.def.executable:
			x.opts.runtime = s
		default:
			allowed := `"container"`
			if x.def.executable {
				allowed += ` or "executable"`
			}
			x.errAttr("runtime", "Invalid runtime",
				fmt.Sprintf("%s runs as %s; got %q.", x.def.kind, allowed, s))
		}
	}
	if s, ok := body.ConstString("image", d); ok {
		if s == "" {
			x.errAttr("image", "Invalid image", "image must not be empty.")
		} else {
			x.opts.image = s
		}
		if x.opts.runtime == runtimeExecutable {
			x.errAttr("image", "Image not used", `image applies to runtime = "container"; an executable-mode server runs binaries found on PATH.`)
		}
	}
	if n, ok := body.ConstInt("port", d); ok {
		if n < 1 || n > 65535 {
			x.errAttr("port", "Invalid port", fmt.Sprintf("port must be between 1 and 65535; got %d.", n))
		} else {
			x.opts.port = n
		}
	}
	x.opts.password = body.StringExpr("password", d)
	if v, ok := body.ConstBool("data_volume", d); ok {
		x.opts.dataVolume = v
		if !v && x.opts.runtime == runtimeExecutable {
			x.errAttr("data_volume", "Data volume required",
				`An executable-mode server keeps its data under .apphost/volumes; data_volume = false applies to runtime = "container" only.`)
		}
	}
	if attr := body.Attributes["replicas"]; attr != nil {
		x.diags = append(x.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Replicas not supported",
			Detail:  fmt.Sprintf("A %s block runs one server: its data directory and generated password belong to one instance.", x.def.kind),
			Subject: attr.NameRange.Ptr(), Context: attr.Range.Ptr()})
	}
}

func (x *expansion) errAttr(name, summary, detail string) {
	attr := x.b.Body.Attributes[name]
	rng := x.rng
	if attr != nil {
		rng = attr.Expr.Range()
	}
	x.diags = append(x.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: detail, Subject: rng.Ptr()})
}

// self is the reference prefix of the primary resource, e.g. "postgres.db".
func (x *expansion) self() string { return x.def.kind + "." + x.name }

// tmpl parses an HCL template built by the integration. A parse error is a
// bug in the integration, reported as an internal error at the block.
func (x *expansion) tmpl(src string) hcl.Expression {
	e, d := model.TemplateExpr(src, x.rng)
	if d.HasErrors() {
		x.diags = append(x.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Internal error",
			Detail: fmt.Sprintf("%s: generated template %q does not parse: %s", x.def.kind, src, d.Error()), Subject: x.rng.Ptr()})
		return lit(src, x.rng)
	}
	return e
}

// lit is a constant string expression: scripts and other text that must
// not be read as a template.
func lit(s string, rng hcl.Range) hcl.Expression {
	return &hclsyntax.TemplateExpr{
		Parts:    []hclsyntax.Expression{&hclsyntax.LiteralValueExpr{Val: cty.StringVal(s), SrcRange: rng}},
		SrcRange: rng,
	}
}

func (x *expansion) lits(ss ...string) []hcl.Expression {
	out := make([]hcl.Expression, len(ss))
	for i, s := range ss {
		out[i] = lit(s, x.rng)
	}
	return out
}

// add appends a resource to the expansion's output.
func (x *expansion) add(r *model.Resource) *model.Resource {
	x.out = append(x.out, r)
	return r
}

// passwordParam adds the NAME-password parameter and returns the template
// reference to its value. Without a password attribute the value is
// generated once and persisted (alphanumeric, so it drops into URIs and
// config files unescaped); with one, the parameter takes it as its default
// so every consumer still reads one secret parameter.
func (x *expansion) passwordParam() string {
	name := x.name + "-password"
	p := model.NewResource(name, model.KindParameter, model.KindParameter, x.rng)
	p.Parent = x.name
	p.Parameter.Secret = true
	if x.opts.password != nil {
		p.Parameter.Default = x.opts.password
		p.Parameter.HasValue = true
	} else {
		p.Parameter.Generate = &model.GenerateSpec{Length: 22, Lower: true, Upper: true, Numeric: true}
	}
	x.add(p)
	return "${parameter." + name + ".value}"
}

// dataVolume adds the NAME-data volume when data_volume is on and returns
// its name ("" when off).
func (x *expansion) dataVolume() string {
	if !x.opts.dataVolume {
		return ""
	}
	name := x.name + "-data"
	v := model.NewResource(name, model.KindVolume, model.KindVolume, x.rng)
	v.Parent = x.name
	x.add(v)
	return name
}

// volumePath is where the daemon keeps a volume, relative to the project
// directory (an executable's default working directory).
func volumePath(volume string) string {
	rel, _ := filepath.Rel("/p", project.Project{Dir: "/p"}.VolumeDir())
	return filepath.Join(rel, volume)
}

// server returns the primary resource for the chosen runtime, with the
// restart policy integrations default to: a crashed server comes back.
func (x *expansion) server() *model.Resource {
	base := model.KindContainer
	if x.opts.runtime == runtimeExecutable {
		base = model.KindExecutable
	}
	r := model.NewResource(x.name, x.def.kind, base, x.rng)
	r.Restart.Policy = model.RestartOnFailure
	if r.Container != nil {
		r.Container.Image = lit(x.opts.image, x.rng)
	}
	return x.add(r)
}

// env sets r's environment from name → template source, sorted by name.
func (x *expansion) env(r *model.Resource, vars map[string]string) {
	for k, v := range vars {
		r.Env = append(r.Env, model.EnvVar{Name: k, Value: x.tmpl(v), Range: x.rng})
	}
	sort.SliceStable(r.Env, func(i, j int) bool { return r.Env[i].Name < r.Env[j].Name })
}

// attrs sets r's exposed attributes from name → template source.
func (x *expansion) attrs(r *model.Resource, vals map[string]string) {
	r.Attributes = make(map[string]hcl.Expression, len(vals))
	for k, v := range vals {
		r.Attributes[k] = x.tmpl(v)
	}
}

// endpoint adds the primary endpoint "tcp". For containers target is the
// port the image listens on; executables listen on the allocated (or
// fixed) port, which env receives.
func (x *expansion) endpoint(r *model.Resource, name, scheme string, target int, env string) *model.Endpoint {
	ep := &model.Endpoint{Name: name, Scheme: scheme, Env: env, Range: x.rng}
	if r.BaseKind == model.KindContainer {
		ep.TargetPort = target
	}
	if name == "tcp" {
		ep.Port = x.opts.port
	}
	r.Endpoints = append(r.Endpoints, ep)
	return ep
}

// mount mounts the data volume (if any) at target in a container.
func (x *expansion) mount(r *model.Resource, volume, target string) {
	if volume == "" || r.Container == nil {
		return
	}
	r.Container.Mounts = append(r.Container.Mounts, &model.Mount{Type: "volume", Source: volume, Target: target, Range: x.rng})
}

// probe is a health check with the integration's timing.
func (x *expansion) probe(startPeriod, timeout time.Duration) *model.HealthCheck {
	return &model.HealthCheck{Interval: 5 * time.Second, Timeout: timeout, Retries: 3, StartPeriod: startPeriod, Range: x.rng}
}

func execProbe(h *model.HealthCheck, argv ...string) *model.HealthCheck {
	h.Exec = &model.ExecProbe{Command: argv}
	return h
}

// shell makes r run script with /bin/sh: for executables as the command,
// for containers as the entrypoint (the image's own entrypoint is
// bypassed). $0 is set to name so errors say which integration wrote them.
func (x *expansion) shell(r *model.Resource, name, script string) {
	if r.Executable != nil {
		r.Executable.Command = lit("/bin/sh", x.rng)
		r.Executable.Args = x.lits("-c", script, name)
		return
	}
	r.Container.Entrypoint = x.lits("/bin/sh", "-c", script, name)
	r.Container.Args = []hcl.Expression{}
}

// waitFor makes r start once name is Running and Healthy.
func (x *expansion) waitFor(r *model.Resource, name string) {
	r.WaitFor = append(r.WaitFor, model.Ref{Name: name, Range: x.rng})
}
