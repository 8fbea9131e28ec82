package logs

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkTailerThroughput measures splitting a file of 100-byte lines
// into the Ring (b.SetBytes: MB/s is the sustainable writer rate).
func BenchmarkTailerThroughput(b *testing.B) {
	path := filepath.Join(b.TempDir(), "bench.log")
	line := append(bytes.Repeat([]byte("x"), 99), '\n')
	data := bytes.Repeat(line, (16<<20)/len(line))
	if err := os.WriteFile(path, data, 0o600); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		tl := newTailer(TailerConfig{Path: path, Resource: "b", Instance: "b-0"}, NewRing(0, 0), rotation{})
		for {
			more, err := tl.Poll()
			if err != nil {
				b.Fatal(err)
			}
			if !more && tl.Offset() == int64(len(data)) {
				break
			}
		}
		tl.close()
	}
}
