package health

import "time"

// Status is an instance's health, as DESIGN.md names it.
type Status string

// Health states. An instance is StatusUnknown until its probe has
// succeeded once or has failed Retries counted times.
const (
	StatusUnknown   Status = "Unknown"
	StatusHealthy   Status = "Healthy"
	StatusUnhealthy Status = "Unhealthy"
)

// Result is the outcome of the latest probe together with the health it
// implies.
type Result struct {
	Status Status
	// Error is the latest probe's error text; empty after a success.
	Error string
	// Time is when the latest probe finished.
	Time time.Time
	// ConsecutiveFailures counts the failures since the last success that
	// were counted towards Retries (see Checker for which ones count).
	ConsecutiveFailures int
}
