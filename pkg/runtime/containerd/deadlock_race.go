//go:build race || deadlocks

package containerd

import "github.com/sasha-s/go-deadlock"

// go-cni swaps its sync.RWMutex for go-deadlock's under the race detector.
// go-deadlock tells goroutines apart with github.com/petermattis/goid,
// which returns 0 for every goroutine on Go 1.26, so two concurrent CNI
// calls (parallel container starts) are reported as "recursive locking"
// and the process is killed. Its detection is turned off; the race
// detector still checks the code.
func init() { deadlock.Opts.Disable = true }
