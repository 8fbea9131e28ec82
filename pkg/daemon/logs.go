package daemon

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"go.uber.org/zap"

	"github.com/apphostd/apphostd/pkg/api"
	"github.com/apphostd/apphostd/pkg/logs"
)

// logPipeline follows every instance's output file into per-resource rings
// and, in the foreground, prints each line prefixed by its resource.
type logPipeline struct {
	m       *logs.Manager
	printer *logs.Printer // nil: not printed (a detached daemon)
	log     *zap.Logger

	mu      sync.Mutex // guards the fields below
	offsets map[string]int64
	mask    func(string) string
	known   map[string]bool
}

func newLogPipeline(dir string, out io.Writer, color bool, log *zap.Logger) *logPipeline {
	p := &logPipeline{
		m:       logs.NewManager(log, logs.Options{}),
		log:     log,
		offsets: map[string]int64{},
		mask:    func(s string) string { return s },
		known:   map[string]bool{},
	}
	if out != nil {
		p.printer = logs.NewPrinter(out, color)
	}
	// Output written before this daemon started was shown by the previous
	// one: start existing files at their end unless state.json says where
	// the previous daemon stopped reading (SetOffsets).
	if ents, err := os.ReadDir(dir); err == nil {
		for _, e := range ents {
			if !strings.HasSuffix(e.Name(), ".log") {
				continue
			}
			if fi, err := e.Info(); err == nil {
				p.offsets[filepath.Join(dir, e.Name())] = fi.Size()
			}
		}
	}
	return p
}

// SetOffsets applies offsets persisted by a previous daemon.
func (p *logPipeline) SetOffsets(off map[string]int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for k, v := range off {
		p.offsets[k] = v
	}
}

// SetMask sets the function that hides secrets in log lines.
func (p *logPipeline) SetMask(f func(string) string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mask = f
}

// Offsets reports where each file has been read to.
func (p *logPipeline) Offsets() map[string]int64 {
	if p == nil || p.m == nil {
		return nil
	}
	return p.m.Offsets()
}

// Known reports whether a resource ever had output followed.
func (p *logPipeline) Known(resource string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.known[resource]
}

// Follow starts following an instance's file (idempotent per path).
func (p *logPipeline) Follow(resource, instance, path string) {
	p.mu.Lock()
	off := p.offsets[path]
	delete(p.offsets, path)
	p.known[resource] = true
	p.mu.Unlock()
	cfg := logs.TailerConfig{Path: path, Resource: resource, Instance: instance, Offset: off}
	if p.printer != nil {
		cfg.OnLine = p.print
	}
	if _, err := p.m.Add(cfg); err != nil {
		p.log.Warn("follow output", zap.String("path", path), zap.Error(err))
	}
}

// print shows a line in the foreground with secrets masked.
func (p *logPipeline) print(l logs.Line) {
	p.mu.Lock()
	l.Text = p.mask(l.Text)
	p.mu.Unlock()
	p.printer.Print(l)
}

// Serve emits the last tail lines of each resource (merged by time), then
// follows if asked.
func (p *logPipeline) Serve(ctx context.Context, names []string, tail int, follow bool, emit func(api.LogLine) error) error {
	if len(names) == 0 {
		p.mu.Lock()
		for n := range p.known {
			names = append(names, n)
		}
		p.mu.Unlock()
		sort.Strings(names)
	}
	p.mu.Lock()
	mask := p.mask
	p.mu.Unlock()
	conv := func(l logs.Line) api.LogLine {
		return api.LogLine{Resource: l.Resource, Instance: l.Instance, Time: l.Time, Text: mask(l.Text)}
	}
	n := tail
	if n < 0 {
		n = 1 << 30
	}
	var hist []logs.Line
	var subs []<-chan logs.Line
	var cancels []func()
	defer func() {
		for _, c := range cancels {
			c()
		}
	}()
	for _, name := range names {
		ring := p.m.Ring(name)
		if follow {
			lines, ch, cancel := ring.TailAndSubscribe(n)
			hist = append(hist, lines...)
			subs = append(subs, ch)
			cancels = append(cancels, cancel)
		} else {
			hist = append(hist, ring.Tail(n)...)
		}
	}
	sort.SliceStable(hist, func(i, j int) bool { return hist[i].Time.Before(hist[j].Time) })
	for _, l := range hist {
		if err := emit(conv(l)); err != nil {
			return err
		}
	}
	if !follow {
		return nil
	}
	merged := make(chan logs.Line, 256)
	var wg sync.WaitGroup
	for _, ch := range subs {
		wg.Add(1)
		go func(ch <-chan logs.Line) {
			defer wg.Done()
			for l := range ch {
				select {
				case merged <- l:
				case <-ctx.Done():
					return
				}
			}
		}(ch)
	}
	go func() { wg.Wait(); close(merged) }()
	for {
		select {
		case <-ctx.Done():
			return nil
		case l, ok := <-merged:
			if !ok {
				return nil
			}
			if err := emit(conv(l)); err != nil {
				return err
			}
		}
	}
}

// Close stops following.
func (p *logPipeline) Close() {
	if p.m != nil {
		_ = p.m.Close()
	}
}
