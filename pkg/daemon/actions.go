package daemon

import (
	"context"
	"sync"
)

// actions serialises start, stop, restart and rerun per resource, so a
// second command on a resource while one is in flight is queued, never
// interleaved with it:
//
//   - a command for a resource whose last queued (or running) command is
//     the same verb joins it: both callers return when that one command
//     has reached its target state. Two concurrent `restart api` are one
//     restart, as systemd merges a restart job into a pending one;
//   - any other command waits until every earlier one on that resource
//     has finished, then runs: `stop` then `start` sent together stop and
//     then start.
//
// Each caller waits with its own context (its --timeout); the command
// itself keeps running until it is done or every caller waiting for it
// has given up. Commands on different resources run in parallel.
//
// mu guards tail and every action's waiters, finished and abandoned.
type actions struct {
	mu   sync.Mutex
	tail map[string]*action
}

// action is one queued or running command.
type action struct {
	verb string
	prev *action // must finish first; nil if none
	done chan struct{}
	err  error // set before done is closed

	ctx    context.Context // the command's own; cancelled once abandoned
	cancel context.CancelFunc

	waiters   int
	finished  bool
	abandoned bool
}

func newActions() *actions { return &actions{tail: map[string]*action{}} }

// do runs fn as verb on name under the rules above and returns its error,
// or ctx's if the caller gives up first. fn gets the command's own
// context.
func (a *actions) do(ctx context.Context, name, verb string, fn func(context.Context) error) error {
	a.mu.Lock()
	if t := a.tail[name]; t != nil && t.verb == verb && !t.finished && !t.abandoned {
		t.waiters++
		a.mu.Unlock()
		return a.wait(ctx, t)
	}
	act := &action{verb: verb, prev: a.tail[name], done: make(chan struct{}), waiters: 1}
	act.ctx, act.cancel = context.WithCancel(context.Background())
	a.tail[name] = act
	a.mu.Unlock()
	go func() {
		defer act.cancel()
		if act.prev != nil {
			select {
			case <-act.prev.done:
			case <-act.ctx.Done():
			}
		}
		if err := act.ctx.Err(); err != nil {
			act.err = err
		} else {
			act.err = fn(act.ctx)
		}
		a.mu.Lock()
		act.finished = true
		if a.tail[name] == act {
			delete(a.tail, name)
		}
		a.mu.Unlock()
		close(act.done)
	}()
	return a.wait(ctx, act)
}

// wait waits for act on behalf of one caller.
func (a *actions) wait(ctx context.Context, act *action) error {
	select {
	case <-act.done:
		return act.err
	case <-ctx.Done():
		a.mu.Lock()
		act.waiters--
		if act.waiters == 0 && !act.finished {
			act.abandoned = true
			act.cancel()
		}
		a.mu.Unlock()
		return ctx.Err()
	}
}
