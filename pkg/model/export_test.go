package model

import "github.com/hashicorp/hcl/v2"

// SetMaxYAMLNodes lowers the YAML node budget for a test and returns a
// function restoring it.
func SetMaxYAMLNodes(n int) (restore func()) {
	old := maxYAMLNodes
	maxYAMLNodes = n
	return func() { maxYAMLNodes = old }
}

// NestingChecks reports the quick and the exact nesting verdicts for an
// HCL source, for the fuzz targets: quick may only be more cautious.
func NestingChecks(src []byte) (quickOK, exactOK bool) {
	return quickNestingOK(src), !checkNesting("x.hcl", src, hcl.InitialPos, false).HasErrors()
}
