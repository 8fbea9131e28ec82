package model

import (
	"fmt"
	"math"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/zclconf/go-cty/cty"
)

// Lifecycle attributes of runnable resources: which `up` selects them
// (profiles), how they follow their dependencies while running
// (on_dependency_restart), whether a job runs again (run, inputs), and
// what their processes may use (limits).

var memoryRE = regexp.MustCompile(`(?i)^([0-9]+)\s*(b|k|kb|kib|m|mb|mib|g|gb|gib|t|tb|tib)?$`)

// decodeLifecycle decodes profiles, on_dependency_restart, run, inputs and
// the limits block into r.
func (c *compiler) decodeLifecycle(r *Resource, body *Body) {
	d := &c.diags
	r.OnDependencyRestart = DepRestartWait
	r.Run = RunAlways
	if ps, ok := body.ConstStringList("profiles", d); ok {
		attr := body.Attributes["profiles"]
		seen := map[string]bool{}
		for _, p := range ps {
			if !nameRE.MatchString(p) {
				c.diags = append(c.diags, errCtx(attr.Expr.Range(), attr.Range, "Invalid profile name",
					fmt.Sprintf("%q is not a valid profile name: start with a lowercase letter, then lowercase letters, digits, '-' or '_'.", p)))
				continue
			}
			if !seen[p] {
				seen[p] = true
				r.Profiles = append(r.Profiles, p)
			}
		}
	}
	c.oneOf(body, "on_dependency_restart", []string{DepRestartRestart, DepRestartWait, DepRestartIgnore}, &r.OnDependencyRestart)
	c.oneOf(body, "run", []string{RunAlways, RunOnce}, &r.Run)
	if r.Run == RunOnce && r.Restart.Policy == RestartAlways {
		attr := body.Attributes["run"]
		c.diags = append(c.diags, errCtx(attr.Expr.Range(), attr.Range, "Conflicting run and restart",
			fmt.Sprintf("%s %q sets run = \"once\" (a job that is done once it exits 0) and restart = \"always\" (start again whenever it exits). Use restart = \"on-failure\" to retry a failing job.", r.Kind, r.Name)))
	}
	if ins, ok := body.ConstStringList("inputs", d); ok {
		attr := body.Attributes["inputs"]
		for _, in := range ins {
			switch {
			case in == "":
				c.diags = append(c.diags, errCtx(attr.Expr.Range(), attr.Range, "Invalid input", "inputs must not contain an empty path."))
			case filepath.IsAbs(in):
				c.diags = append(c.diags, errCtx(attr.Expr.Range(), attr.Range, "Invalid input",
					fmt.Sprintf("inputs are files or globs relative to the project directory; %q is absolute.", in)))
			default:
				if _, err := filepath.Match(in, ""); err != nil {
					c.diags = append(c.diags, errCtx(attr.Expr.Range(), attr.Range, "Invalid input",
						fmt.Sprintf("%q is not a valid glob: %v.", in, err)))
					continue
				}
				r.Inputs = append(r.Inputs, in)
			}
		}
		if r.Run != RunOnce {
			c.diags = append(c.diags, errCtx(attr.Expr.Range(), attr.Range, "inputs without run = \"once\"",
				fmt.Sprintf("inputs decide whether a run = \"once\" job runs again; %s %q runs every time. Add run = \"once\" or remove inputs.", r.Kind, r.Name)))
		}
	}
	if lbs := body.BlocksOfType("limits"); len(lbs) > 0 {
		r.Limits = c.decodeLimits(lbs[0])
	}
}

// decodeLimits decodes a limits block: memory (bytes or a size string),
// cpus (a positive number) and pids (a positive whole number).
func (c *compiler) decodeLimits(blk *Block) *Limits {
	body := blk.Body
	l := &Limits{Range: blk.DefRange}
	if attr := body.Attributes["memory"]; attr != nil && !isNullExpr(attr.Expr) {
		if v, ok := constExprValue("memory", attr.Expr, attr.Range, cty.DynamicPseudoType, &c.diags); ok {
			n, err := parseMemory(v)
			if err != nil {
				c.diags = append(c.diags, errCtx(attr.Expr.Range(), attr.Range, "Invalid memory limit", err.Error()))
			} else {
				l.MemoryBytes = n
			}
		}
	}
	if attr := body.Attributes["cpus"]; attr != nil && !isNullExpr(attr.Expr) {
		if v, ok := constValue(attr, cty.Number, &c.diags); ok {
			f, _ := v.AsBigFloat().Float64()
			if f <= 0 || f > 4096 || math.IsNaN(f) {
				c.diags = append(c.diags, errCtx(attr.Expr.Range(), attr.Range, "Invalid cpus limit",
					fmt.Sprintf("cpus must be a number of CPUs greater than 0, such as 0.5 or 2; got %s.", strconv.FormatFloat(f, 'g', -1, 64))))
			} else {
				l.CPUs = f
			}
		}
	}
	if n, ok := body.ConstInt("pids", &c.diags); ok {
		if n < 1 {
			attr := body.Attributes["pids"]
			c.diags = append(c.diags, errCtx(attr.Expr.Range(), attr.Range, "Invalid pids limit", fmt.Sprintf("pids must be at least 1; got %d.", n)))
		} else {
			l.PIDs = n
		}
	}
	return l
}

// parseMemory reads a memory size: a whole number of bytes, or a string
// such as "512M", "512MiB" or "1g". K, M, G and T are powers of 1024, as in
// Docker and Compose.
func parseMemory(v cty.Value) (int64, error) {
	var s string
	switch {
	case v.Type() == cty.Number:
		f, acc := v.AsBigFloat().Int64()
		if acc != 0 || !v.AsBigFloat().IsInt() {
			return 0, fmt.Errorf("memory must be a whole number of bytes or a size such as \"512M\"; got %s", v.AsBigFloat().String())
		}
		s = strconv.FormatInt(f, 10)
	case v.Type() == cty.String:
		s = strings.TrimSpace(v.AsString())
	default:
		return 0, fmt.Errorf("memory must be a size such as \"512M\" or \"1G\", or a number of bytes")
	}
	m := memoryRE.FindStringSubmatch(s)
	if m == nil {
		return 0, fmt.Errorf("memory must be a size such as \"512M\", \"256MiB\" or \"1G\", or a number of bytes; got %q", s)
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("memory %q is out of range", s)
	}
	shift := 0
	switch strings.ToLower(m[2]) {
	case "k", "kb", "kib":
		shift = 10
	case "m", "mb", "mib":
		shift = 20
	case "g", "gb", "gib":
		shift = 30
	case "t", "tb", "tib":
		shift = 40
	}
	if n <= 0 {
		return 0, fmt.Errorf("memory must be greater than 0; got %q", s)
	}
	if n > math.MaxInt64>>shift {
		return 0, fmt.Errorf("memory %q is out of range", s)
	}
	n <<= shift
	if n < 1<<20 {
		return 0, fmt.Errorf("memory must be at least 1M (a process needs more to start); got %q", s)
	}
	return n, nil
}

// inheritProfiles gives resources expanded from an integration block
// (Parent set) the profiles of their parent, so a profile-gated server's
// databases are gated with it instead of needing a disabled resource.
func inheritProfiles(g *Graph) {
	for _, r := range g.Resources {
		if r.Parent == "" || len(r.Profiles) > 0 {
			continue
		}
		p := g.Resources[r.Parent]
		for p != nil && len(p.Profiles) == 0 && p.Parent != "" {
			p = g.Resources[p.Parent]
		}
		if p != nil && len(p.Profiles) > 0 {
			r.Profiles = append([]string(nil), p.Profiles...)
		}
	}
}
