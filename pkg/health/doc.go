// Package health probes resource instances (HTTP, TCP, exec) and runs one
// probe loop per instance.
//
// The daemon resolves a model.HealthCheck plus the instance's allocated
// endpoint into a Spec (see SpecFor), builds a Checker with NewChecker and
// calls Start once the instance is running. The Checker reports health
// transitions through its onChange callback; the daemon feeds those into
// the status store and the reconciler.
//
// Timing. Before the first success a Checker probes fast — the first probe
// fires at once, then after FastInitial (5 ms by default), growing by half
// each time up to Interval (but at most 50 ms while connections are
// refused) — because a freshly started server binds within
// milliseconds to seconds and every millisecond between "bound" and
// "reported healthy" is added to `up --wait` and to each dependent's start.
// Once healthy it probes every Interval. Failures are paced as if probes
// ran at Interval (see Checker), so fast probing only makes success visible
// sooner; it never makes a slow starter Unhealthy sooner.
package health
