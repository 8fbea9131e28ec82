package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// outputFormat selects who reads the progress and failure output of the
// commands that bring resources up (up --wait, wait, run): a person or a
// log (text), or GitHub Actions (github: the same text, plus workflow
// commands that fold the progress into a group and turn failures into
// annotations).
type outputFormat string

const (
	outputText   outputFormat = "text"
	outputGitHub outputFormat = "github"
)

// outputFlagHelp is the --output flag's help text, shared by the commands
// that take it.
const outputFlagHelp = "progress format: text, or github (GitHub Actions groups and error annotations); default github when GITHUB_ACTIONS=true, else text"

// parseOutput resolves the --output flag. Empty (or auto) picks github
// under GitHub Actions, which always sets GITHUB_ACTIONS=true, so a
// workflow gets annotations without asking for them.
func parseOutput(s string, getenv func(string) string) (outputFormat, error) {
	switch strings.ToLower(s) {
	case "", "auto":
		if getenv("GITHUB_ACTIONS") == "true" {
			return outputGitHub, nil
		}
		return outputText, nil
	case "text", "plain":
		return outputText, nil
	case "github", "github-actions":
		return outputGitHub, nil
	}
	return "", withCode(exitUsage, fmt.Errorf("--output %q: want text or github", s))
}

// markKind classifies a progress line.
type markKind int

const (
	markPending markKind = iota
	markReady
	markFailed
)

// reporter writes bring-up progress for one command. On a terminal (and
// without CI or NO_COLOR) lines carry elapsed time, a coloured mark and
// nothing else; otherwise every line is plain text with a wall-clock
// timestamp and the elapsed time, never a colour or a cursor movement, so
// CI logs and files read cleanly. It is not safe for concurrent use.
type reporter struct {
	w      io.Writer
	format outputFormat
	color  bool
	start  time.Time
	now    func() time.Time
	// inGroup is set between ::group:: and ::endgroup::.
	inGroup bool
}

func newReporter(w io.Writer, format outputFormat, start time.Time) *reporter {
	f, _ := w.(*os.File)
	color := f != nil && interactive(f) && format != outputGitHub
	return &reporter{w: w, format: format, color: color, start: start, now: time.Now}
}

// sgr wraps s in an ANSI colour when colour is on.
func (r *reporter) sgr(code, s string) string {
	if !r.color {
		return s
	}
	return "\x1b[" + code + "m" + s + "\x1b[0m"
}

// prefix is the start of every progress line.
func (r *reporter) prefix() string {
	now := r.now()
	el := fmt.Sprintf("[%6.2fs]", now.Sub(r.start).Seconds())
	if r.color {
		return r.sgr("2", el)
	}
	return now.Format("15:04:05.000") + " " + el
}

// begin opens the progress group (GitHub) once.
func (r *reporter) begin(title string) {
	if r.format == outputGitHub && !r.inGroup {
		fmt.Fprintf(r.w, "::group::%s\n", ghEscapeData(title))
		r.inGroup = true
	}
}

// end closes the progress group, if open.
func (r *reporter) end() {
	if r.inGroup {
		fmt.Fprintln(r.w, "::endgroup::")
		r.inGroup = false
	}
}

// line prints one progress line: "name  text", marked by kind.
func (r *reporter) line(kind markKind, name, text string) {
	var mark string
	switch {
	case r.color && kind == markReady:
		mark = r.sgr("32", "✔")
	case r.color && kind == markFailed:
		mark = r.sgr("31", "✘")
	case r.color:
		mark = " "
	case kind == markReady:
		mark = "ok  "
	case kind == markFailed:
		mark = "FAIL"
	default:
		mark = "..  "
	}
	fmt.Fprintf(r.w, "%s %s %-16s %s\n", r.prefix(), mark, name, text)
}

// note prints a line that belongs to no resource.
func (r *reporter) note(text string) {
	fmt.Fprintf(r.w, "%s %s\n", r.prefix(), text)
}

// annotate emits a GitHub error annotation (nothing in text format: the
// diagnosis is printed as text either way).
func (r *reporter) annotate(title, msg string) {
	if r.format != outputGitHub {
		return
	}
	r.end()
	fmt.Fprintln(r.w, ghAnnotation("error", title, msg))
}

// ghAnnotation formats a workflow command such as
// "::error title=T::message", escaping as the Actions toolkit does so a
// multi-line message stays one command.
func ghAnnotation(level, title, msg string) string {
	if title == "" {
		return "::" + level + "::" + ghEscapeData(msg)
	}
	return "::" + level + " title=" + ghEscapeProperty(title) + "::" + ghEscapeData(msg)
}

// ghEscapeData escapes a workflow command's message.
func ghEscapeData(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A").Replace(s)
}

// ghEscapeProperty escapes a workflow command's property value (title=).
func ghEscapeProperty(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C").Replace(s)
}

// appendStepSummary adds markdown to the job summary GitHub Actions shows
// on the run's page ($GITHUB_STEP_SUMMARY); a no-op elsewhere. Failures
// are ignored: the summary is a convenience, never a reason to fail.
func appendStepSummary(getenv func(string) string, markdown string) {
	path := getenv("GITHUB_STEP_SUMMARY")
	if path == "" {
		return
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return
	}
	defer f.Close()
	_, _ = io.WriteString(f, markdown)
}

// summaryMarkdown renders a bring-up summary as a markdown table.
func summaryMarkdown(title string, s bringupSummary) string {
	var b strings.Builder
	fmt.Fprintf(&b, "### %s\n\n", title)
	if s.Error != "" {
		fmt.Fprintf(&b, "**%s**\n\n", mdCell(s.Error))
	}
	b.WriteString("| resource | state | health | ready after | endpoints |\n|---|---|---|---|---|\n")
	for _, r := range s.Resources {
		ready := "-"
		if r.ReadyAfterSeconds != nil {
			ready = fmt.Sprintf("%.2fs", *r.ReadyAfterSeconds)
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", mdCell(r.Name), mdCell(r.State), mdCell(dash(r.Health)), ready, mdCell(dash(strings.Join(r.Endpoints, " "))))
	}
	b.WriteString("\n")
	return b.String()
}

func mdCell(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}
