package daemon

import (
	"bytes"

	"github.com/hashicorp/hcl/v2"

	"github.com/apphostd/apphostd/pkg/model"
	"github.com/apphostd/apphostd/pkg/status"
)

func renderDiags(file string, src []byte, diags hcl.Diagnostics, color bool) string {
	var b bytes.Buffer
	if err := model.WriteDiagnostics(&b, file, src, diags, color); err != nil {
		return diags.Error()
	}
	return b.String()
}

func toDiagnostics(diags hcl.Diagnostics) []status.Diagnostic {
	out := make([]status.Diagnostic, 0, len(diags))
	for _, d := range diags {
		sd := status.Diagnostic{Summary: d.Summary, Detail: d.Detail, Severity: "error"}
		if d.Severity == hcl.DiagWarning {
			sd.Severity = "warning"
		}
		if d.Subject != nil {
			sd.File, sd.Line, sd.Column = d.Subject.Filename, d.Subject.Start.Line, d.Subject.Start.Column
		}
		out = append(out, sd)
	}
	return out
}
