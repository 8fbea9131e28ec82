package logs

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

func textLine(s string) Line { return Line{Resource: "r", Instance: "r-0", Text: s} }

func texts(ls []Line) []string {
	out := make([]string, len(ls))
	for i, l := range ls {
		out[i] = l.Text
	}
	return out
}

func TestRingLineCapacity(t *testing.T) {
	r := NewRing(3, 1<<20)
	for i := range 5 {
		r.Append(textLine(strconv.Itoa(i)))
	}
	if got := strings.Join(texts(r.Tail(0)), ","); got != "2,3,4" {
		t.Fatalf("Tail(0) = %s, want 2,3,4", got)
	}
	if got := strings.Join(texts(r.Tail(2)), ","); got != "3,4" {
		t.Fatalf("Tail(2) = %s, want 3,4", got)
	}
	if got := strings.Join(texts(r.Tail(10)), ","); got != "2,3,4" {
		t.Fatalf("Tail(10) = %s", got)
	}
	st := r.Stats()
	if st.Lines != 3 || st.Evicted != 2 || st.Bytes != 3 {
		t.Fatalf("Stats = %+v", st)
	}
}

func TestRingByteCapacity(t *testing.T) {
	r := NewRing(100, 10)
	r.Append(textLine("aaaa"))
	r.Append(textLine("bbbb"))
	r.Append(textLine("cccc")) // 12 bytes > 10: "aaaa" goes
	if got := strings.Join(texts(r.Tail(0)), ","); got != "bbbb,cccc" {
		t.Fatalf("Tail = %s", got)
	}
	r.Append(textLine(strings.Repeat("x", 11))) // larger than the ring
	if st := r.Stats(); st.Bytes > 10 || st.Lines != 0 {
		t.Fatalf("after oversized line Stats = %+v", st)
	}
	r.Append(textLine("d"))
	if got := strings.Join(texts(r.Tail(0)), ","); got != "d" {
		t.Fatalf("Tail = %s", got)
	}
}

func TestRingWrapsManyTimes(t *testing.T) {
	r := NewRing(7, 40)
	for i := range 1000 {
		r.Append(textLine(strconv.Itoa(i)))
		tail := r.Tail(0)
		st := r.Stats()
		if st.Bytes > 40 || st.Lines > 7 || len(tail) != st.Lines {
			t.Fatalf("i=%d stats %+v tail %d", i, st, len(tail))
		}
		for j := range tail {
			want := i - len(tail) + 1 + j
			if tail[j].Text != strconv.Itoa(want) {
				t.Fatalf("i=%d tail %v", i, texts(tail))
			}
		}
	}
}

func TestRingTruncatesLongLines(t *testing.T) {
	r := NewRing(10, 1<<20)
	r.Append(textLine(strings.Repeat("é", MaxLineBytes))) // 2 bytes each
	got := r.Tail(1)[0].Text
	if !strings.HasSuffix(got, TruncatedMarker) {
		t.Fatalf("no marker on a %d-byte line", len(got))
	}
	body := strings.TrimSuffix(got, TruncatedMarker)
	if len(body) > MaxLineBytes || len(body) < MaxLineBytes-3 || !strings.HasSuffix(body, "é") {
		t.Fatalf("truncated body is %d bytes, ends %q", len(body), body[len(body)-4:])
	}
}

func TestRingSubscribe(t *testing.T) {
	r := NewRing(10, 1<<20)
	r.Append(textLine("before"))
	tail, ch, cancel := r.TailAndSubscribe(0)
	if len(tail) != 1 || tail[0].Text != "before" {
		t.Fatalf("tail = %v", texts(tail))
	}
	r.Append(textLine("after"))
	select {
	case l := <-ch:
		if l.Text != "after" {
			t.Fatalf("got %q", l.Text)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("subscriber got nothing")
	}
	cancel()
	cancel() // idempotent
	if _, ok := <-ch; ok {
		t.Fatal("channel open after cancel")
	}
	r.Append(textLine("later")) // must not panic on the closed subscription
	if st := r.Stats(); st.Subscribers != 0 {
		t.Fatalf("subscribers = %d", st.Subscribers)
	}
}

func TestRingSlowSubscriberDropsAndNeverBlocks(t *testing.T) {
	r := NewRing(10, 1<<20)
	ch, cancel := r.Subscribe()
	defer cancel()
	n := subscriberBuffer + 500
	for i := range n { // nobody reads: Append must not block
		r.Append(textLine(strconv.Itoa(i)))
	}
	if got := r.Dropped(); got != 500 {
		t.Fatalf("Dropped = %d, want 500", got)
	}
	// The buffered lines are the oldest ones, in order.
	for i := range subscriberBuffer {
		if l := <-ch; l.Text != strconv.Itoa(i) {
			t.Fatalf("line %d = %q", i, l.Text)
		}
	}
}

func TestRingClose(t *testing.T) {
	r := NewRing(10, 1<<20)
	r.Append(textLine("kept"))
	ch, _ := r.Subscribe()
	r.Close()
	if _, ok := <-ch; ok {
		t.Fatal("subscription open after Close")
	}
	r.Append(textLine("ignored"))
	if got := texts(r.Tail(0)); len(got) != 1 || got[0] != "kept" {
		t.Fatalf("Tail after Close = %v", got)
	}
	ch2, _ := r.Subscribe()
	if _, ok := <-ch2; ok {
		t.Fatal("Subscribe on a closed ring returned an open channel")
	}
}
