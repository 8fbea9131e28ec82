package model

import (
	"io"

	"github.com/hashicorp/hcl/v2"
)

// WriteDiagnostics renders diags the way users read them: file:line:col,
// the summary, a source snippet with the range underlined, and the detail.
// src is the file's content (as returned by LoadFile); color adds ANSI
// colours and belongs on a terminal only.
func WriteDiagnostics(w io.Writer, filename string, src []byte, diags hcl.Diagnostics, color bool) error {
	files := map[string]*hcl.File{filename: {Bytes: src}}
	wr := hcl.NewDiagnosticTextWriter(w, files, 100, color)
	return wr.WriteDiagnostics(diags)
}
