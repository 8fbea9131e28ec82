package process

import (
	"os"
	"testing"
)

func TestParseStatCommWithParens(t *testing.T) {
	// comm may contain spaces and parentheses; fields follow the LAST ')'.
	data := []byte("4242 (we) ird) (x) S 1 4242 4242 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 987654 1000 10 18446744073709551615\n")
	st, err := parseStat(data)
	if err != nil {
		t.Fatal(err)
	}
	if st.State != 'S' || st.Pgid != 4242 || st.StartTime != 987654 {
		t.Fatalf("parseStat = %+v, want state S pgid 4242 start 987654", st)
	}
}

func TestParseStatRejectsGarbage(t *testing.T) {
	for _, in := range []string{"", "1 (x", "1 (x) S 1 2", "1 (x) S 1 notanumber 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20"} {
		if _, err := parseStat([]byte(in)); err == nil {
			t.Errorf("parseStat(%q) succeeded, want error", in)
		}
	}
}

func TestProcStartTimeSelf(t *testing.T) {
	a, err := ProcStartTime(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if a == 0 {
		t.Fatal("start time of this process is 0")
	}
	if _, err := ProcStartTime(-1); err == nil {
		t.Fatal("ProcStartTime(-1) succeeded")
	}
}

func FuzzParseStat(f *testing.F) {
	f.Add([]byte("1 (init) S 0 1 1 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 5 1000 10 1"))
	f.Add([]byte("1 ()) R"))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = parseStat(data) // must not panic
	})
}
