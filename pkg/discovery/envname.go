package discovery

import "strings"

// EnvPrefix turns a resource name into the prefix Aspire uses for injected
// variables: characters outside [A-Za-z0-9_] become '_', upper-cased.
// "my-api" → "MY_API".
func EnvPrefix(name string) string {
	var b strings.Builder
	b.Grow(len(name))
	for _, r := range name {
		switch {
		case r >= 'a' && r <= 'z':
			b.WriteRune(r - 'a' + 'A')
		case r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	return b.String()
}
