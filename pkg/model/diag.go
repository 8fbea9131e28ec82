package model

import (
	"bytes"
	"fmt"
	"io"
	"sort"

	"github.com/hashicorp/hcl/v2"
)

// WriteDiagnostics renders diags the way users read them: each starts with
// FILE:LINE:COL (so editors and terminals can jump to it), then hcl's text
// rendering: the summary, a source snippet with the range underlined, and
// the detail. src is the file's content (as returned by LoadFile); color
// adds ANSI colours and belongs on a terminal only.
func WriteDiagnostics(w io.Writer, filename string, src []byte, diags hcl.Diagnostics, color bool) error {
	files := map[string]*hcl.File{filename: {Bytes: src}}
	var buf bytes.Buffer
	wr := hcl.NewDiagnosticTextWriter(&buf, files, 100, color)
	for _, d := range diags {
		buf.Reset()
		if d.Subject != nil {
			fmt.Fprintf(&buf, "%s:%d:%d: ", d.Subject.Filename, d.Subject.Start.Line, d.Subject.Start.Column)
		} else {
			fmt.Fprintf(&buf, "%s: ", filename)
		}
		if err := wr.WriteDiagnostic(d); err != nil {
			return fmt.Errorf("render diagnostic: %w", err)
		}
		if _, err := w.Write(buf.Bytes()); err != nil {
			return fmt.Errorf("write diagnostics: %w", err)
		}
	}
	return nil
}

// posString formats a range's start as FILE:LINE:COL, the form
// diagnostics use when they mention another location.
func posString(r hcl.Range) string {
	return fmt.Sprintf("%s:%d:%d", r.Filename, r.Start.Line, r.Start.Column)
}

// sortDiagnostics orders diagnostics by file position (stable, so
// diagnostics at one position keep their order); those without a subject
// come first.
func sortDiagnostics(diags hcl.Diagnostics) {
	sort.SliceStable(diags, func(i, j int) bool {
		a, b := diags[i].Subject, diags[j].Subject
		switch {
		case a == nil || b == nil:
			return a == nil && b != nil
		case a.Filename != b.Filename:
			return a.Filename < b.Filename
		}
		return a.Start.Byte < b.Start.Byte
	})
}
