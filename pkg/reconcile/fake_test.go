package reconcile

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/apphostd/apphostd/pkg/runtime"
)

// fakeDriver is an in-memory runtime.Driver: logic tests for the reconciler
// sit above the driver contract, which the real drivers' own tests prove.
type fakeDriver struct {
	mu      sync.Mutex
	nextPID int
	insts   map[string]*fakeInst
	starts  map[string]int // starts per ID
	failIDs map[string]error
	order   []string // "start:ID" / "stop:ID" in call order
}

type fakeInst struct {
	st      runtime.Status
	spec    runtime.Spec
	done    chan struct{}
	exit    runtime.Exit
	waiters []chan runtime.Exit
}

func newFakeDriver() *fakeDriver {
	return &fakeDriver{nextPID: 1000, insts: map[string]*fakeInst{}, starts: map[string]int{}, failIDs: map[string]error{}}
}

var _ runtime.Driver = (*fakeDriver)(nil)

func (f *fakeDriver) Start(_ context.Context, s runtime.Spec) (runtime.Status, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.failIDs[s.ID]; err != nil {
		return runtime.Status{}, err
	}
	if in, ok := f.insts[s.ID]; ok && in.st.State == runtime.StateRunning {
		return runtime.Status{}, fmt.Errorf("%s: %w", s.ID, runtime.ErrAlreadyExists)
	}
	f.nextPID++
	in := &fakeInst{st: runtime.Status{ID: s.ID, State: runtime.StateRunning, PID: f.nextPID, StartTime: uint64(f.nextPID), StartedAt: time.Now()},
		spec: s, done: make(chan struct{})}
	f.insts[s.ID] = in
	f.starts[s.ID]++
	f.order = append(f.order, "start:"+s.ID)
	return in.st, nil
}

// exitLocked ends an instance and notifies waiters.
func (f *fakeDriver) exitLocked(in *fakeInst, code int) {
	if in.st.State != runtime.StateRunning {
		return
	}
	in.st.State = runtime.StateExited
	in.st.ExitCode = code
	in.exit = runtime.Exit{ID: in.st.ID, ExitCode: code, ExitedAt: time.Now()}
	for _, w := range in.waiters {
		w <- in.exit
		close(w)
	}
	in.waiters = nil
	close(in.done)
}

// crash makes a running instance exit with code.
func (f *fakeDriver) crash(id string, code int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if in := f.insts[id]; in != nil {
		f.exitLocked(in, code)
	}
}

func (f *fakeDriver) Wait(_ context.Context, id string) (<-chan runtime.Exit, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	in := f.insts[id]
	if in == nil {
		return nil, runtime.ErrNotFound
	}
	ch := make(chan runtime.Exit, 1)
	if in.st.State != runtime.StateRunning {
		ch <- in.exit
		close(ch)
		return ch, nil
	}
	in.waiters = append(in.waiters, ch)
	return ch, nil
}

func (f *fakeDriver) Stop(_ context.Context, id string, _ time.Duration) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if in := f.insts[id]; in != nil && in.st.State == runtime.StateRunning {
		f.order = append(f.order, "stop:"+id)
		f.exitLocked(in, 143)
	}
	return nil
}

func (f *fakeDriver) Delete(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if in := f.insts[id]; in != nil && in.st.State != runtime.StateRunning {
		delete(f.insts, id)
	}
	return nil
}

func (f *fakeDriver) Inspect(_ context.Context, id string) (runtime.Status, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if in := f.insts[id]; in != nil {
		return in.st, nil
	}
	return runtime.Status{}, runtime.ErrNotFound
}

func (f *fakeDriver) Adopt(_ context.Context, rec runtime.Status) (runtime.Status, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if in := f.insts[rec.ID]; in != nil && in.st.PID == rec.PID && in.st.StartTime == rec.StartTime && in.st.State == runtime.StateRunning {
		return in.st, nil
	}
	return runtime.Status{}, runtime.ErrNotFound
}

func (f *fakeDriver) List(context.Context) ([]runtime.Status, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []runtime.Status
	for _, in := range f.insts {
		out = append(out, in.st)
	}
	return out, nil
}

func (f *fakeDriver) pid(id string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	if in := f.insts[id]; in != nil && in.st.State == runtime.StateRunning {
		return in.st.PID
	}
	return 0
}

func (f *fakeDriver) startCount(id string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.starts[id]
}

func (f *fakeDriver) calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.order...)
}
