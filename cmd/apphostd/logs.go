package main

import (
	"bufio"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/apphostd/apphostd/pkg/api"
	"github.com/apphostd/apphostd/pkg/status"
	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"
)

func init() { register(newLogsCmd) }

func newLogsCmd() *cobra.Command {
	var (
		follow     bool
		tail       string
		timestamps bool
	)
	cmd := &cobra.Command{
		Use:   "logs [NAME...]",
		Short: "Print resources' output, prefixed by resource (-f to follow)",
		Long: "Print the kept output of the named resources (all if none), oldest first, each line\n" +
			"prefixed with its resource (NAME[i] for a replica of a replicated resource).\n" +
			"Prefixes are coloured only when stdout is a terminal and neither CI nor NO_COLOR is set.",
		Args: usageArgs(cobra.ArbitraryArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			n, err := parseTail(tail)
			if err != nil {
				return withCode(exitUsage, err)
			}
			if err := checkLogNames(args); err != nil {
				return withCode(exitUsage, err)
			}
			c, p, err := dialProject(cmd)
			if err != nil {
				return err
			}
			defer c.Close()
			rs, err := c.Resources(cmd.Context())
			if err != nil {
				return daemonErr(p, err)
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			bw := bufio.NewWriterSize(cmd.OutOrStdout(), 32<<10)
			defer bw.Flush()
			pr := newLogPrinter(bw, rs, args, useColor(cmd.OutOrStdout(), os.Getenv), timestamps)
			err = c.Logs(ctx, api.LogQuery{Resources: args, Tail: n, Follow: follow}, func(l api.LogLine) error {
				pr.print(l)
				if follow {
					return bw.Flush()
				}
				return nil
			})
			switch {
			case err == nil, ctx.Err() != nil:
				return nil // done, or interrupted while following
			case errors.Is(err, api.ErrStreamEnded):
				bw.Flush()
				fmt.Fprintln(cmd.ErrOrStderr(), "apphostd stopped")
				return nil
			}
			return daemonErr(p, err)
		},
	}
	f := cmd.Flags()
	// -f is --follow here, as in docker, compose and kubectl. Declaring a
	// local --file (long form only) shadows the root's persistent -f/--file,
	// which frees the shorthand; dialProject reads whichever "file" applies.
	f.String("file", "", "project file (in logs, -f means --follow)")
	f.BoolVarP(&follow, "follow", "f", false, "keep printing new output until interrupted")
	f.StringVar(&tail, "tail", "all", "lines per resource to show from the end of its kept output: a number, or all")
	f.BoolVarP(&timestamps, "timestamps", "t", false, "prefix each line with its RFC 3339 timestamp")
	return thinClient(cmd)
}

// checkLogNames catches `apphostd -f apphost.hcl logs`: in logs, -f is
// --follow, so the file name lands among the resource names.
func checkLogNames(names []string) error {
	for _, n := range names {
		switch strings.ToLower(filepath.Ext(n)) {
		case ".hcl", ".yaml", ".yml":
			return fmt.Errorf("%q looks like a project file, not a resource: in `logs`, -f means --follow; select the file with --file", n)
		}
	}
	return nil
}

func parseTail(s string) (int, error) {
	if strings.EqualFold(s, "all") {
		return -1, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("--tail %q: want a number of lines, or all", s)
	}
	return n, nil
}

// useColor: colour only for a terminal, and never under CI or NO_COLOR
// (https://no-color.org), nor for TERM=dumb.
func useColor(w io.Writer, getenv func(string) string) bool {
	if getenv("NO_COLOR") != "" || getenv("CI") != "" || getenv("TERM") == "dumb" {
		return false
	}
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS) // isatty: /dev/null is a char device but no terminal
	return err == nil
}

// logColors are the prefix colours, assigned in resource-name order as
// docker compose does.
var logColors = []string{"36", "33", "32", "35", "34", "96", "93", "92", "95", "94"}

// logPrinter writes "name | text" with names padded to one width.
type logPrinter struct {
	w          io.Writer
	width      int
	color      map[string]string // resource → SGR code; nil when colour is off
	colorOn    bool
	replicated map[string]bool
	timestamps bool
}

// newLogPrinter sizes the prefix column for the selected resources (all if
// names is empty), including replica suffixes.
func newLogPrinter(w io.Writer, rs []status.Resource, names []string, color, timestamps bool) *logPrinter {
	sel := map[string]bool{}
	for _, n := range names {
		sel[n] = true
	}
	p := &logPrinter{w: w, color: map[string]string{}, colorOn: color, replicated: map[string]bool{}, timestamps: timestamps}
	var all []string
	for _, r := range rs {
		if len(sel) > 0 && !sel[r.Name] {
			continue
		}
		all = append(all, r.Name)
		label := r.Name
		if len(r.Instances) > 1 {
			p.replicated[r.Name] = true
			label = fmt.Sprintf("%s[%d]", r.Name, len(r.Instances)-1)
		}
		p.width = max(p.width, len(label))
	}
	sort.Strings(all)
	for i, n := range all {
		p.color[n] = logColors[i%len(logColors)]
	}
	return p
}

// label is the prefix of a line: the resource, or NAME[i] for replica i of
// a replicated resource (the instance ID's trailing number).
func (p *logPrinter) label(l api.LogLine) string {
	if !p.replicated[l.Resource] || l.Instance == "" {
		return l.Resource
	}
	if i := strings.LastIndexAny(l.Instance, "-_"); i >= 0 {
		if _, err := strconv.Atoi(l.Instance[i+1:]); err == nil {
			return l.Resource + "[" + l.Instance[i+1:] + "]"
		}
	}
	return l.Instance
}

func (p *logPrinter) print(l api.LogLine) {
	label := p.label(l)
	p.width = max(p.width, len(label)) // a resource added since we sized the column
	var b strings.Builder
	if p.colorOn {
		b.WriteString("\x1b[" + p.colorOf(l.Resource) + "m")
	}
	b.WriteString(label)
	b.WriteString(strings.Repeat(" ", p.width-len(label)))
	b.WriteString(" |")
	if p.colorOn {
		b.WriteString("\x1b[0m")
	}
	b.WriteByte(' ')
	if p.timestamps {
		b.WriteString(l.Time.Format(time.RFC3339Nano))
		b.WriteByte(' ')
	}
	b.WriteString(strings.TrimRight(l.Text, "\r\n"))
	b.WriteByte('\n')
	io.WriteString(p.w, b.String())
}

func (p *logPrinter) colorOf(name string) string {
	if c, ok := p.color[name]; ok {
		return c
	}
	h := fnv.New32a()
	h.Write([]byte(name))
	c := logColors[int(h.Sum32()%uint32(len(logColors)))]
	p.color[name] = c
	return c
}
