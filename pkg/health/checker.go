package health

import (
	"context"
	"errors"
	"sync"
	"syscall"
	"time"

	"go.uber.org/zap"
)

// Checker runs the probe loop of one run of one resource instance. A
// restarted instance gets a new Checker, so "first success" and the start
// period are per run.
//
// Semantics:
//   - Health is StatusUnknown until the first probe result; onChange is
//     called with that first result and afterwards only when Status changes.
//   - The first success is StatusHealthy at once.
//   - Before the first success, probes run fast: at once, then after
//     FastInitial, growing 1.5x per failure up to Interval, but at most
//     50 ms apart while the target refuses connections (nothing listens
//     yet, so probing costs the app nothing). A failure counts
//     towards Retries only once the start period is over and at most once
//     per Interval (the first one no sooner than Interval after Start), so
//     fast probing never makes a slow starter Unhealthy earlier than
//     probing at Interval would. Until Retries failures have counted, the
//     status stays Unknown; the Result still carries the latest error.
//   - After the first success (which also ends the start period) probes run
//     every Interval and every failure counts; Retries consecutive counted
//     failures make it StatusUnhealthy, and one success makes it Healthy.
//   - Each probe is bounded by Timeout; a probe that outlives it fails. The
//     next probe is never sooner than the last one took, so a slow exec
//     probe cannot run back to back.
//
// Lifecycle: NewChecker → Start (once; later calls do nothing) → Stop.
// Stop is idempotent and returns at once without waiting for the goroutine
// (Done is closed when it has ended; an in-flight probe is cancelled, so
// that is soon). Not waiting makes Stop safe to call while holding a lock
// that onChange also takes, and from onChange itself. Stop before Start
// just prevents Start. One goroutine and one timer per started Checker;
// nothing runs between probes.
//
// onChange runs on the Checker's goroutine, one call at a time, in order,
// without any Checker lock held; it should not block for long. Once Stop
// has returned no new result is recorded or reported; a call to onChange
// that was already under way may still complete. Result may be called
// from anywhere, including onChange.
type Checker struct {
	spec     Spec
	specErr  error
	onChange func(Result)
	done     chan struct{} // closed by run when it returns, or by Stop before Start

	mu      sync.Mutex // guards the fields below
	last    Result
	started bool
	stopped bool
	cancel  context.CancelFunc
}

// NewChecker returns a Checker for spec; it probes nothing until Start.
// A spec that fails Validate yields a Checker whose only result, on Start,
// is StatusUnhealthy with the validation error.
func NewChecker(spec Spec, onChange func(Result)) *Checker {
	return &Checker{
		spec:     spec.withDefaults(),
		specErr:  spec.Validate(),
		onChange: onChange,
		done:     make(chan struct{}),
		last:     Result{Status: StatusUnknown},
	}
}

// Start begins probing in a new goroutine, which ends when ctx is done or
// Stop is called.
func (c *Checker) Start(ctx context.Context) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.started || c.stopped {
		return
	}
	c.started = true
	ctx, c.cancel = context.WithCancel(ctx)
	go c.run(ctx)
}

// Stop ends the probe loop without waiting for it; see Checker.
func (c *Checker) Stop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return
	}
	c.stopped = true
	if !c.started {
		close(c.done)
		return
	}
	c.cancel()
}

// Done is closed once the probe goroutine has returned (or Stop was
// called before Start).
func (c *Checker) Done() <-chan struct{} { return c.done }

// Result returns the latest result; Status is StatusUnknown and Time zero
// before the first probe has finished.
func (c *Checker) Result() Result {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.last
}

func (c *Checker) run(ctx context.Context) {
	defer close(c.done)
	s := c.spec
	if c.specErr != nil {
		c.publish(Result{Status: StatusUnhealthy, Error: c.specErr.Error(), Time: time.Now()}, true)
		return
	}

	start := time.Now()
	// countFrom is the earliest time a failure may count before the first
	// success: as if probing started one Interval after Start, and never
	// inside the start period.
	countFrom := start.Add(max(s.Interval, s.StartPeriod))
	var (
		status      = StatusUnknown
		everHealthy bool
		failures    int
		fastDelay   = s.FastInitial
		first       = true
	)
	timer := time.NewTimer(0) // the first probe fires at once
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		began := time.Now()
		err := c.probeOnce(ctx)
		now := time.Now()
		if ctx.Err() != nil {
			return // stopped mid-probe: the outcome means nothing
		}

		var next time.Duration
		prev := status
		if err == nil {
			status, everHealthy, failures = StatusHealthy, true, 0
			next = s.Interval
		} else {
			if everHealthy || !now.Before(countFrom) {
				failures++
				countFrom = now.Add(s.Interval)
			}
			if failures >= s.Retries {
				status = StatusUnhealthy
			}
			if everHealthy {
				next = s.Interval
			} else {
				next, fastDelay = fastSchedule(fastDelay, s.Interval, err)
			}
		}
		next = max(next, now.Sub(began))

		r := Result{Status: status, Time: now, ConsecutiveFailures: failures}
		if err != nil {
			r.Error = err.Error()
		}
		changed := first || status != prev
		if changed {
			s.Log.Debug("health changed",
				zap.String("from", string(prev)), zap.String("to", string(status)),
				zap.Int("failures", failures), zap.String("error", r.Error))
		}
		c.publish(r, changed)
		first = false
		timer.Reset(next)
	}
}

// fastSchedule returns the delay before the next probe and the grown
// delay for the one after, before the first success.
func fastSchedule(delay, interval time.Duration, err error) (next, grown time.Duration) {
	next = delay
	grown = min(time.Duration(float64(delay)*fastGrowth), interval)
	if errors.Is(err, syscall.ECONNREFUSED) {
		next = min(next, refusedMaxDelay)
	}
	return next, grown
}

// probeOnce runs the target's probe bounded by Timeout and names the
// timeout when it is what ended the probe.
func (c *Checker) probeOnce(ctx context.Context) error {
	pctx, cancel := context.WithTimeout(ctx, c.spec.Timeout)
	defer cancel()
	err := c.spec.Target.probe(pctx, c.spec.Client)
	if err != nil && ctx.Err() == nil && errors.Is(pctx.Err(), context.DeadlineExceeded) {
		return probeTimeoutError(c.spec.Timeout, err)
	}
	return err
}

// publish records r and reports it if notify; nothing after Stop.
func (c *Checker) publish(r Result, notify bool) {
	c.mu.Lock()
	if c.stopped {
		c.mu.Unlock()
		return
	}
	c.last = r
	c.mu.Unlock()
	if notify && c.onChange != nil {
		c.onChange(r)
	}
}
