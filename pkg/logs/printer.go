package logs

import (
	"hash/fnv"
	"io"
	"strings"
	"sync"
)

// ANSI colours for resource names, as docker compose does it.
var printerColors = []string{"\x1b[36m", "\x1b[33m", "\x1b[32m", "\x1b[35m", "\x1b[34m", "\x1b[96m", "\x1b[93m", "\x1b[92m", "\x1b[95m", "\x1b[94m"}

const colorReset = "\x1b[0m"

// Printer writes lines as "name | text" for the foreground `up`, the name
// padded to the longest seen so far and, if color is set, coloured by a
// hash of the resource name (stable across runs). Print is safe for
// concurrent use, so it can be every tailer's OnLine; one mutex
// serializes writes so lines never interleave.
type Printer struct {
	mu    sync.Mutex
	w     io.Writer
	color bool
	width int
}

// NewPrinter returns a Printer writing to w.
func NewPrinter(w io.Writer, color bool) *Printer {
	return &Printer{w: w, color: color}
}

// Print writes one line. The name is the resource, or the instance ID
// for replicas other than the first. Write errors are ignored: a closed
// terminal must not stop log collection.
func (p *Printer) Print(l Line) {
	name := l.Resource
	if l.Instance != "" && l.Instance != l.Resource+"-0" {
		name = l.Instance
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.width = max(p.width, len(name))
	var b strings.Builder
	if p.color {
		b.WriteString(colorFor(l.Resource))
	}
	b.WriteString(name)
	b.WriteString(strings.Repeat(" ", p.width-len(name)))
	b.WriteString(" |")
	if p.color {
		b.WriteString(colorReset)
	}
	b.WriteByte(' ')
	b.WriteString(l.Text)
	b.WriteByte('\n')
	_, _ = io.WriteString(p.w, b.String())
}

func colorFor(resource string) string {
	h := fnv.New32a()
	h.Write([]byte(resource))
	return printerColors[h.Sum32()%uint32(len(printerColors))]
}
