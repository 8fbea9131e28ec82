package model

// quickNestingOK is a cheap byte scan that proves a file nests well within
// maxNesting, so the exact token-based check (a second full lex of the
// file, about a third of the compile time) can be skipped. It follows the
// HCL lexical structure that matters for nesting: brackets, quoted
// templates with ${ } and %{ } sequences, comments. It answers false
// whenever it is unsure (heredocs, mismatched closers, unterminated
// strings, anything near the limit); the exact check then decides. So it
// may only ever be too cautious, never too lenient: the fuzz targets check
// that quickNestingOK implies the exact check passes.
func quickNestingOK(src []byte) bool {
	const limit = maxNesting / 2
	const (
		frameParen = iota
		frameBrack
		frameBrace
		frameString
		frameInterp
	)
	var stack []byte
	unary, cond, splat := 0, 0, 0
	lastSig := byte(0) // last significant byte in expression mode
	i := 0
	for i < len(src) {
		c := src[i]
		inString := len(stack) > 0 && stack[len(stack)-1] == frameString
		if inString {
			switch {
			case c == '\\':
				i += 2
				continue
			case c == '"':
				stack = stack[:len(stack)-1]
				lastSig = '"'
				i++
				continue
			case c == '\n':
				return false // unterminated string: the parser reports it
			case (c == '$' || c == '%') && i+1 < len(src) && src[i+1] == c && i+2 < len(src) && src[i+2] == '{':
				i += 3 // $${ and %%{ are literal
				continue
			case (c == '$' || c == '%') && i+1 < len(src) && src[i+1] == '{':
				stack = append(stack, frameInterp)
				lastSig = '{'
				i += 2
			default:
				i++
				continue
			}
		} else {
			switch c {
			case ' ', '\t', '\r':
				i++
				continue
			case '\n':
				if len(stack) == 0 {
					cond, splat = 0, 0
				}
				unary = 0
				lastSig = '\n'
				i++
				continue
			case '#':
				for i < len(src) && src[i] != '\n' {
					i++
				}
				continue
			case '/':
				if i+1 < len(src) && src[i+1] == '/' {
					for i < len(src) && src[i] != '\n' {
						i++
					}
					continue
				}
				if i+1 < len(src) && src[i+1] == '*' {
					end := indexFrom(src, i+2, "*/")
					if end < 0 {
						return false
					}
					i = end + 2
					continue
				}
			case '<':
				if i+1 < len(src) && src[i+1] == '<' {
					return false // heredoc: leave it to the exact check
				}
			case '"':
				stack = append(stack, frameString)
			case '(':
				stack = append(stack, frameParen)
			case '[':
				stack = append(stack, frameBrack)
			case '{':
				stack = append(stack, frameBrace)
			case ')', ']', '}':
				if len(stack) == 0 {
					return false
				}
				top := stack[len(stack)-1]
				want := map[byte]byte{')': frameParen, ']': frameBrack, '}': frameBrace}[c]
				if top != want && !(c == '}' && top == frameInterp) {
					return false
				}
				stack = stack[:len(stack)-1]
			case '*':
				if lastSig == '[' {
					splat++
				}
			case '?':
				cond++
			case ',', '=':
				cond, splat = 0, 0
			}
			if c == '!' || c == '-' {
				unary++
			} else {
				unary = 0
			}
			lastSig = c
			i++
		}
		if len(stack) > limit || unary > limit || cond > limit || splat > limit {
			return false
		}
	}
	return len(stack) == 0
}

func indexFrom(src []byte, from int, sub string) int {
	for j := from; j+len(sub) <= len(src); j++ {
		if string(src[j:j+len(sub)]) == sub {
			return j
		}
	}
	return -1
}
