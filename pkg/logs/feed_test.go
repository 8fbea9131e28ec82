package logs

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// TestFeedMatchesReferenceSplitForAnyChunking feeds the same content in
// random chunk sizes and checks the lines and offset against a plain split.
func TestFeedMatchesReferenceSplitForAnyChunking(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var content bytes.Buffer
	for i := range 300 {
		switch i % 7 {
		case 0:
			content.WriteString(strings.Repeat("L", 1+rng.IntN(3*MaxLineBytes))) // often overlong
		case 1:
			content.WriteString("") // empty line
		case 2:
			content.WriteString("crlf\r")
		default:
			content.WriteString(strings.Repeat("ab", rng.IntN(50)))
		}
		content.WriteByte('\n')
	}
	content.WriteString("unfinished")
	data := content.Bytes()

	var want []string
	parts := strings.Split(string(data), "\n")
	for _, p := range parts[:len(parts)-1] {
		want = append(want, truncateText([]byte(strings.TrimSuffix(p, "\r"))))
	}
	wantOffset := int64(len(data) - len("unfinished"))

	for trial := range 8 {
		tl := newTailer(TailerConfig{Resource: "r", Instance: "r-0"}, NewRing(100000, 1<<30), rotation{})
		for rest := data; len(rest) > 0; {
			n := 1 + rng.IntN(min(len(rest), []int{5, 97, 4096, 70000}[trial%4]))
			tl.feed(rest[:n], time.Now())
			rest = rest[n:]
		}
		got := texts(tl.ring.Tail(0))
		if len(got) != len(want) {
			t.Fatalf("trial %d: %d lines, want %d", trial, len(got), len(want))
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("trial %d line %d: got %d bytes %.20q, want %d bytes %.20q", trial, i, len(got[i]), got[i], len(want[i]), want[i])
			}
		}
		if tl.Offset() != wantOffset || tl.pos != int64(len(data)) {
			t.Fatalf("trial %d: offset %d pos %d, want %d and %d", trial, tl.Offset(), tl.pos, wantOffset, len(data))
		}
		if string(tl.partial) != "unfinished" {
			t.Fatalf("trial %d: partial %q", trial, tl.partial)
		}
	}
}
