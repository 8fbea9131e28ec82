package model

// SetMaxYAMLNodes lowers the YAML node budget for a test and returns a
// function restoring it.
func SetMaxYAMLNodes(n int) (restore func()) {
	old := maxYAMLNodes
	maxYAMLNodes = n
	return func() { maxYAMLNodes = old }
}
