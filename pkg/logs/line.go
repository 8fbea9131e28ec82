package logs

import (
	"time"
	"unicode/utf8"
)

// MaxLineBytes is the longest line kept. Longer lines are cut at this many
// bytes (at a UTF-8 boundary) and end with TruncatedMarker; the rest of
// such a line is discarded.
const MaxLineBytes = 16 << 10

// TruncatedMarker ends a line that was longer than MaxLineBytes.
const TruncatedMarker = " …[truncated]"

// Line is one line of output of one instance.
type Line struct {
	Resource string
	Instance string // the replica's instance ID, e.g. "api-0"
	// Time is when the daemon read the line, not when it was written:
	// output files carry no timestamps.
	Time time.Time
	Text string // without the trailing newline (or \r\n)
}

// truncateText cuts b to at most MaxLineBytes bytes without splitting a
// UTF-8 sequence, and appends TruncatedMarker.
func truncateText(b []byte) string {
	if len(b) <= MaxLineBytes {
		return string(b)
	}
	cut := MaxLineBytes
	for i := 0; i < utf8.UTFMax && cut > 0 && !utf8.RuneStart(b[cut]); i++ {
		cut--
	}
	return string(b[:cut]) + TruncatedMarker
}
