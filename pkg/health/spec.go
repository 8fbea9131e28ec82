package health

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"go.uber.org/zap"
)

// Defaults, matching model.HealthCheck's documented defaults, so the
// daemon can copy a HealthCheck's fields into a Spec as they are.
const (
	DefaultInterval    = 5 * time.Second
	DefaultTimeout     = 2 * time.Second
	DefaultRetries     = 3
	DefaultFastInitial = 5 * time.Millisecond
)

// fastGrowth is the factor by which the delay between probes grows before
// the first success. 1.5 bounds how late success is seen to half the time
// the server took to come up (2 would allow doubling it).
const fastGrowth = 1.5

// refusedMaxDelay caps the delay before the first success while the
// target refuses connections. Nothing listens yet, so a probe costs the
// app nothing (no request, no log line) and the prober a few microseconds;
// the cap bounds how late a slow starter is seen to 50 ms instead of half
// its start time (W1: 100 servers binding over ~400 ms). Once the target
// answers, even with an error, the delay grows to Interval, so a warming
// app is not hammered.
const refusedMaxDelay = 50 * time.Millisecond

// Target is what to probe. Exactly one of HTTPURL, TCPAddr, Command, Exec
// is set. The daemon resolves it from the model's HealthCheck and the
// instance's allocated endpoint.
type Target struct {
	// HTTPURL is probed with GET; the status must be in
	// [StatusMin, StatusMax] (zero: 200 and 399).
	HTTPURL              string
	StatusMin, StatusMax int

	// TCPAddr ("127.0.0.1:5432") must accept a connection.
	TCPAddr string

	// Command runs locally (executables) with Env (nil: the daemon's own)
	// in Dir and must exit 0.
	Command []string
	Env     []string
	Dir     string

	// Exec runs the probe elsewhere (containers: runtime.Execer bound to
	// the instance and the command) and must report exit code 0.
	Exec ExecFunc
}

// Validate reports a target that sets none, or more than one, kind.
func (t Target) Validate() error {
	n := 0
	for _, set := range []bool{t.HTTPURL != "", t.TCPAddr != "", len(t.Command) > 0, t.Exec != nil} {
		if set {
			n++
		}
	}
	switch n {
	case 0:
		return errors.New("health target: no probe set (want one of HTTP URL, TCP address, command, exec)")
	case 1:
		return nil
	default:
		return errors.New("health target: more than one probe set")
	}
}

// probe runs one probe bounded by ctx.
func (t Target) probe(ctx context.Context, client *http.Client) error {
	switch {
	case t.HTTPURL != "":
		return ProbeHTTP(ctx, client, t.HTTPURL, t.StatusMin, t.StatusMax)
	case t.TCPAddr != "":
		return ProbeTCP(ctx, t.TCPAddr)
	case len(t.Command) > 0:
		return ProbeExec(ctx, t.Command, t.Env, t.Dir)
	case t.Exec != nil:
		return probeExecFunc(ctx, t.Exec)
	}
	return t.Validate()
}

// Spec configures one Checker. Zero durations and counts take the
// defaults above. The daemon builds it from a model.HealthCheck (Interval,
// Timeout, Retries, StartPeriod copied as they are; HTTPProbe.StatusMin/Max
// into Target) and the instance's resolved endpoint; this package does not
// import model, so it stays a leaf.
type Spec struct {
	Target Target

	Interval    time.Duration // between probes once healthy
	Timeout     time.Duration // per probe
	Retries     int           // counted consecutive failures before Unhealthy
	StartPeriod time.Duration // failures before it ends do not count

	// FastInitial is the first delay between probes before the first
	// success; it grows by 1.5x up to Interval.
	FastInitial time.Duration

	// Client is used for HTTP probes; nil means DefaultClient.
	Client *http.Client
	// Log receives transitions at debug level; nil means zap.NewNop().
	Log *zap.Logger
}

// Validate reports a Spec a Checker cannot run.
func (s Spec) Validate() error {
	if err := s.Target.Validate(); err != nil {
		return err
	}
	if s.Interval < 0 || s.Timeout < 0 || s.StartPeriod < 0 || s.Retries < 0 || s.FastInitial < 0 {
		return fmt.Errorf("health spec: negative interval, timeout, start period, retries or fast initial delay")
	}
	return nil
}

func (s Spec) withDefaults() Spec {
	if s.Interval <= 0 {
		s.Interval = DefaultInterval
	}
	if s.Timeout <= 0 {
		s.Timeout = DefaultTimeout
	}
	if s.Retries <= 0 {
		s.Retries = DefaultRetries
	}
	if s.FastInitial <= 0 {
		s.FastInitial = DefaultFastInitial
	}
	if s.FastInitial > s.Interval {
		s.FastInitial = s.Interval
	}
	if s.Log == nil {
		s.Log = zap.NewNop()
	}
	return s
}
