package watch

import (
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// BenchmarkEditToDelivery measures an atomic save (rename over the file,
// as editors and the W2 workload do) to its content arriving on Events.
// It is the watch share of W2's 150 ms budget and is dominated by the
// debounce.
func BenchmarkEditToDelivery(b *testing.B) {
	for _, debounce := range []time.Duration{DefaultDebounce, 5 * time.Millisecond} {
		b.Run(debounce.String(), func(b *testing.B) {
			path := filepath.Join(b.TempDir(), "apphost.hcl")
			w, err := New(path, debounce, nil)
			if err != nil {
				b.Fatal(err)
			}
			defer w.Close()
			i := 0
			for b.Loop() {
				i++
				want := "v" + strconv.Itoa(i)
				tmp := path + ".tmp"
				if err := writeAndRename(tmp, path, want); err != nil {
					b.Fatal(err)
				}
				select {
				case got := <-w.Events():
					if string(got) != want {
						b.Fatalf("got %q, want %q", got, want)
					}
				case <-time.After(guard):
					b.Fatal("no delivery")
				}
			}
		})
	}
}
