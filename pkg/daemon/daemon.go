// Package daemon wires the pipeline together for one project: watch →
// model.Compile → discovery.Resolve → reconcile → runtime drivers, with
// health probes feeding the status store and the API serving it.
//
// Lifecycle: New → Run (blocks) → returns after Shutdown completes or ctx
// ends. Run acquires the project lock first, so two daemons never manage
// one project; everything it creates under .apphost/ is released on return
// except what must survive (state.json while instances still run, ports,
// secrets, logs, volumes).
package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/hcl/v2"
	"go.uber.org/zap"

	"github.com/apphostd/apphostd/pkg/api"
	"github.com/apphostd/apphostd/pkg/discovery"
	"github.com/apphostd/apphostd/pkg/model"
	"github.com/apphostd/apphostd/pkg/project"
	"github.com/apphostd/apphostd/pkg/reconcile"
	"github.com/apphostd/apphostd/pkg/runtime"
	"github.com/apphostd/apphostd/pkg/status"
	"github.com/apphostd/apphostd/pkg/watch"
)

// Options configure a Daemon.
type Options struct {
	Project project.Project
	Log     *zap.Logger
	Version string
	// Output receives every resource's log lines, prefixed by resource
	// (the foreground `up`); nil = not printed.
	Output io.Writer
	// Color prefixes Output lines with ANSI colours.
	Color bool
	// StopGrace is the time between SIGTERM and SIGKILL (default 10s).
	StopGrace time.Duration
	// ShutdownTimeout bounds an orderly shutdown (default 30s).
	ShutdownTimeout time.Duration
	// ExtraDrivers adds runtime drivers by base kind (containers).
	ExtraDrivers map[string]runtime.Driver
	// Ready, if set, is closed once the socket answers.
	Ready chan<- struct{}
	// Select narrows what runs to these resources and what they need
	// (`up NAME...`); empty: the whole project. Profiles are the active
	// profiles (`up --profile`). Both are kept across reloads and widened
	// by later `up`s (see selection.go).
	Select   []string
	Profiles []string
}

// Daemon runs one project.
type Daemon struct {
	opts    Options
	proj    project.Project
	log     *zap.Logger
	store   *status.Store
	rec     *reconcile.Reconciler
	drivers map[string]runtime.Driver
	ports   *stickyPorts
	alloc   *discovery.PortAllocator
	secrets *discovery.Secrets
	logs    *logPipeline
	started time.Time
	// mask hides the current graph's secrets in daemon.log (see maskLogger).
	mask *secretMask
	// lc is the lifecycle state (selection, run-once records, command
	// queue, sockets); see lifecycle.go.
	lc     *lifecycleState
	lcOnce sync.Once

	ctx    context.Context
	cancel context.CancelFunc

	// mu guards src, graph, resolved and configGen: the last good load.
	mu        sync.Mutex
	src       []byte
	graph     *model.Graph
	resolved  *discovery.Result
	configGen int

	reloadMu     sync.Mutex // serialises reloads
	shutdownOnce sync.Once
	shutdownCh   chan struct{} // closed to begin an orderly shutdown
	saver        *stateSaver   // writes state.json (see persist.go)
}

// ConfigError is returned by Run when the project file does not compile at
// startup; Rendered holds the diagnostics with source snippets.
type ConfigError struct {
	Diags    hcl.Diagnostics
	Rendered string
}

func (e *ConfigError) Error() string { return "the project file has errors:\n" + e.Rendered }

// New prepares a daemon; nothing runs until Run.
func New(opts Options) *Daemon {
	if opts.Log == nil {
		opts.Log = zap.NewNop()
	}
	if opts.StopGrace <= 0 {
		opts.StopGrace = 10 * time.Second
	}
	if opts.ShutdownTimeout <= 0 {
		opts.ShutdownTimeout = 30 * time.Second
	}
	mask := &secretMask{}
	opts.Log = maskLogger(opts.Log, mask)
	ctx, cancel := context.WithCancel(context.Background())
	d := &Daemon{
		opts:       opts,
		proj:       opts.Project,
		log:        opts.Log,
		mask:       mask,
		store:      status.NewStore(),
		ctx:        ctx,
		cancel:     cancel,
		shutdownCh: make(chan struct{}),
	}
	d.saver = newStateSaver(d.saveState)
	return d
}

// Store exposes the status store (for the foreground progress printer).
func (d *Daemon) Store() *status.Store { return d.store }

// Run starts everything and blocks until an orderly shutdown (Shutdown,
// the API, or ctx) has completed. Cancelling ctx shuts down in order too.
func (d *Daemon) Run(ctx context.Context) error {
	defer d.cancel()
	d.started = time.Now()
	if err := d.proj.EnsureStateDir(); err != nil {
		return err
	}
	lock, err := acquireLock(d.proj.LockFile())
	if err != nil {
		return err
	}
	defer lock.release()

	src, err := os.ReadFile(d.proj.File)
	if err != nil {
		return fmt.Errorf("read project file: %w", err)
	}
	g, diags := model.Compile(d.proj.File, src)
	if diags.HasErrors() {
		return &ConfigError{Diags: diags, Rendered: renderDiags(d.proj.File, src, diags, false)}
	}

	alloc, err := discovery.NewPortAllocator(d.proj.PortsFile())
	if err != nil {
		return fmt.Errorf("ports: %w", err)
	}
	if w := alloc.Warning(); w != nil {
		d.log.Warn("ports state", zap.Error(w))
	}
	d.alloc = alloc
	d.ports = newStickyPorts(alloc)
	if d.secrets, err = discovery.LoadSecrets(d.proj.SecretsFile()); err != nil {
		return err
	}
	d.drivers = map[string]runtime.Driver{model.KindExecutable: d.initLifecycle()}
	for k, v := range d.opts.ExtraDrivers {
		d.drivers[k] = v
	}
	d.logs = newLogPipeline(d.proj.LogDir(), d.opts.Output, d.opts.Color, d.log.Named("logs"))
	defer d.logs.Close()
	go d.logs.reportDrops(d.ctx.Done(), dropReportInterval)

	d.rec = reconcile.New(reconcile.Options{
		Drivers:            d.drivers,
		Store:              d.store,
		Log:                d.log.Named("reconcile"),
		LogPath:            func(id string) string { return filepath.Join(d.proj.LogDir(), id+".log") },
		NewProber:          d.probeFactory,
		StopGrace:          d.opts.StopGrace,
		Once:               d.lifecycle().once,
		OnInstancesChanged: d.saver.save, // waits: recorded before shown Running (persist.go)
		OnInstanceStarted: func(resource string, rec reconcile.Record) {
			d.logs.Follow(resource, rec.ID, filepath.Join(d.proj.LogDir(), rec.ID+".log"))
		},
	})

	// Adopt what a previous daemon left running, before the first pass, so
	// nothing is started twice.
	st := loadState(d.proj.StateFile(), d.log)
	d.logs.SetOffsets(st.LogOffsets)
	var adopted, lost []reconcile.Record
	if len(st.Instances) > 0 {
		adopted, lost = d.rec.Adopt(ctx, st.Instances)
		d.log.Info("adoption", zap.Int("adopted", len(adopted)), zap.Int("gone", len(lost)))
		// Ports held by adopted instances are ours: keep them without the
		// allocator's "can it still be bound" check, which they would fail.
		held := map[string]bool{}
		for _, a := range adopted {
			held[a.Resource] = true
		}
		for key, port := range st.Ports {
			if res, _, _ := strings.Cut(key, "/"); held[res] {
				d.ports.Pin(key, port)
			}
		}
	}
	d.sweepCgroups(ctx, adopted)
	// What a dead daemon left that cannot be adopted (started but not yet
	// recorded, or left in the group of a gone instance) is stopped before
	// anything starts, so nothing runs twice and nothing is orphaned.
	if n := sweepStrays(d.proj.LogDir(), adopted, lost, d.opts.StopGrace, d.log); n > 0 {
		d.log.Warn("stopped processes left by a previous daemon", zap.Int("count", n))
	}
	saveDone := make(chan struct{})
	go func() { defer close(saveDone); d.saver.loop(d.ctx.Done()) }()
	d.rec.Run()
	defer d.rec.Close()

	if err := d.apply(src, g); err != nil {
		return err
	}

	ln, err := api.Listen(d.proj.Socket())
	if err != nil {
		return fmt.Errorf("listen on %s: %w", d.proj.Socket(), err)
	}
	srv := api.NewServer(d, d.log.Named("api"))
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			d.log.Error("api server", zap.Error(err))
		}
	}()
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_ = srv.Shutdown(sctx) // the listener removes its socket on close
		cancel()
	}()
	if d.opts.Ready != nil {
		close(d.opts.Ready)
	}

	w, err := watch.New(d.proj.File, watch.DefaultDebounce, d.log.Named("watch"), watch.WithBaseline(src))
	if err != nil {
		d.log.Warn("file watch unavailable; use `apphostd reload`", zap.Error(err))
	} else {
		defer w.Close()
		go func() {
			for b := range w.Events() {
				d.reload(b)
			}
		}()
	}
	d.log.Info("daemon ready", zap.String("project", d.proj.Dir), zap.Int("pid", os.Getpid()))

	select {
	case <-ctx.Done():
	case <-d.shutdownCh:
	}
	d.log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), d.opts.ShutdownTimeout)
	defer cancel()
	err = d.rec.Shutdown(sctx)
	if err != nil {
		d.log.Warn("shutdown", zap.Error(err))
	}
	// Drivers that hold project-wide state (the containerd driver's
	// bridge, CNI reservations, snapshots) release it once nothing runs.
	for kind, drv := range d.drivers {
		if c, ok := drv.(interface{ Cleanup(context.Context) error }); ok {
			if cerr := c.Cleanup(sctx); cerr != nil {
				d.log.Warn("runtime cleanup", zap.String("kind", kind), zap.Error(cerr))
			}
		}
	}
	// The last write is this one: the save loop must not write again after
	// the lock is released (`down` removes state.json then).
	d.cancel()
	<-saveDone
	d.saveState()
	d.lifecycle().once.flush()
	d.log.Info("stopped")
	return err
}

// Shutdown begins an orderly shutdown; Run returns once it is done.
func (d *Daemon) Shutdown() {
	d.shutdownOnce.Do(func() { close(d.shutdownCh) })
}

// apply resolves a compiled graph and makes it the desired state.
func (d *Daemon) apply(src []byte, g *model.Graph) error {
	params, err := discovery.ReadParametersFile(d.proj.ParametersFile())
	if err != nil {
		d.log.Warn("parameters file", zap.Error(err))
		params = map[string]string{}
	}
	res := discovery.Resolve(discovery.Input{
		Graph:      g,
		ProjectDir: d.proj.Dir,
		ProjectID:  d.proj.ID(),
		VolumeDir:  d.proj.VolumeDir(),
		LogDir:     d.proj.LogDir(),
		Ports:      d.ports,
		Secrets:    d.secrets,
		ParamFile:  params,
	})
	if err := d.alloc.Save(); err != nil {
		d.log.Warn("save ports", zap.Error(err))
	}
	for _, r := range g.Resources {
		if r.BaseKind == model.KindVolume {
			_ = os.MkdirAll(filepath.Join(d.proj.VolumeDir(), r.Name), 0o700)
		}
	}
	d.mu.Lock()
	d.src, d.graph, d.resolved = src, g, res
	d.configGen++
	gen := d.configGen
	d.mu.Unlock()
	d.logs.SetMask(res.Mask)
	if len(res.Secrets) > 0 {
		d.mask.set(res.Mask)
	} else {
		d.mask.set(nil)
	}
	sel, once := d.lifecycleDesired(g, res)
	d.rec.SetDesired(&reconcile.Desired{Graph: g, Resolved: res, Selection: sel, OnceKeys: once})
	d.store.SetConfig(status.ConfigStatus{File: d.proj.File, Generation: gen, LoadedAt: time.Now(), OK: true})
	d.requestSave()
	return nil
}

// reload compiles new content; on errors the running graph stays and the
// diagnostics are published.
func (d *Daemon) reload(src []byte) status.ConfigStatus {
	d.reloadMu.Lock()
	defer d.reloadMu.Unlock()
	g, diags := model.Compile(d.proj.File, src)
	if diags.HasErrors() {
		cs := status.ConfigStatus{File: d.proj.File, OK: false, LoadedAt: time.Now(),
			Diagnostics: toDiagnostics(diags), Rendered: renderDiags(d.proj.File, src, diags, false)}
		d.mu.Lock()
		cs.Generation = d.configGen
		d.mu.Unlock()
		d.store.SetConfig(cs)
		d.log.Warn("config has errors; keeping the running graph", zap.String("diagnostics", cs.Rendered))
		if d.opts.Output != nil {
			fmt.Fprintf(d.opts.Output, "apphostd: %s has errors; the running graph is unchanged:\n%s", filepath.Base(d.proj.File), cs.Rendered)
		}
		return cs
	}
	_ = d.apply(src, g)
	d.log.Info("config reloaded", zap.Int("resources", len(g.Resources)))
	if d.opts.Output != nil {
		fmt.Fprintf(d.opts.Output, "apphostd: reloaded %s (%d resources)\n", filepath.Base(d.proj.File), len(g.Resources))
	}
	return d.store.Config()
}

// ReloadFromDisk re-reads the project file (API, SIGHUP).
func (d *Daemon) ReloadFromDisk() (status.ConfigStatus, error) {
	src, err := os.ReadFile(d.proj.File)
	if err != nil {
		return status.ConfigStatus{}, fmt.Errorf("read %s: %w", d.proj.File, err)
	}
	return d.reload(src), nil
}

func (d *Daemon) requestSave() { d.saver.request() }

func (d *Daemon) saveState() {
	if d.rec == nil {
		return
	}
	st := persistedState{
		Version:    1,
		DaemonPID:  os.Getpid(),
		Instances:  d.rec.Records(),
		Ports:      d.portSnapshot(),
		LogOffsets: d.logs.Offsets(),
	}
	if err := writeState(d.proj.StateFile(), st); err != nil {
		d.log.Warn("save state", zap.Error(err))
	}
}

func (d *Daemon) portSnapshot() map[string]int {
	d.ports.mu.Lock()
	defer d.ports.mu.Unlock()
	out := make(map[string]int, len(d.ports.held))
	for k, v := range d.ports.held {
		out[k] = v
	}
	return out
}

// Kill stops every instance at once with SIGKILL (a second Ctrl-C).
func (d *Daemon) Kill() {
	if d.rec == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	d.rec.Kill(ctx)
}
