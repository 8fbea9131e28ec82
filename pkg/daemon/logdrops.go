package daemon

import (
	"time"

	"go.uber.org/zap"
)

// dropReportInterval is how often lost output is reported in daemon.log.
const dropReportInterval = 5 * time.Second

// reportDrops makes the log pipeline's losses visible. Under a flood the
// pipeline stays bounded by dropping, never by blocking a resource: a
// tailer that falls behind a rotation skips the oldest unread bytes
// (they stay in FILE.1), and a follower (`logs -f`, the dashboard) that
// reads too slowly loses lines. Each interval, every resource whose
// counters grew gets one warning with the totals, so a gap in what a user
// saw has an explanation in daemon.log. It returns when stop is closed.
func (p *logPipeline) reportDrops(stop <-chan struct{}, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	skipped := map[string]uint64{} // by log file
	dropped := map[string]uint64{} // by resource
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		for path := range p.m.Offsets() {
			tl := p.m.Tailer(path)
			if tl == nil {
				continue
			}
			if n := tl.Stats().SkippedBytes; n > skipped[path] {
				p.log.Warn("log output skipped: the daemon fell behind the writer; the bytes are in the rotated file",
					zap.String("file", path), zap.Uint64("skipped_bytes", n-skipped[path]), zap.Uint64("skipped_bytes_total", n))
				skipped[path] = n
			}
		}
		p.mu.Lock()
		names := make([]string, 0, len(p.known))
		for n := range p.known {
			names = append(names, n)
		}
		p.mu.Unlock()
		for _, n := range names {
			if d := p.m.Ring(n).Dropped(); d > dropped[n] {
				p.log.Warn("log lines dropped for a follower that read too slowly",
					zap.String("resource", n), zap.Uint64("dropped_lines", d-dropped[n]), zap.Uint64("dropped_lines_total", d))
				dropped[n] = d
			}
		}
	}
}
