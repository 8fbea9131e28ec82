package main

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/apphostd/apphostd/pkg/api"
	"github.com/apphostd/apphostd/pkg/status"
	"golang.org/x/sys/unix"
)

func TestLogPrefixAligned(t *testing.T) {
	rs := []status.Resource{
		{Name: "api", Instances: []status.Instance{{ID: "api-0"}}},
		{Name: "database"},
		{Name: "web", Instances: []status.Instance{{ID: "web-0"}, {ID: "web-1"}}},
	}
	var b strings.Builder
	p := newLogPrinter(&b, rs, nil, false, false)
	p.print(api.LogLine{Resource: "api", Instance: "api-0", Text: "listening\n"})
	p.print(api.LogLine{Resource: "database", Text: "ready"})
	p.print(api.LogLine{Resource: "web", Instance: "web-1", Text: "GET /"})
	want := "api      | listening\n" +
		"database | ready\n" +
		"web[1]   | GET /\n"
	if got := b.String(); got != want {
		t.Fatalf("plain logs:\n%q\nwant\n%q", got, want)
	}
}

func TestLogPrefixColourAndTimestamps(t *testing.T) {
	rs := []status.Resource{{Name: "b"}, {Name: "a"}}
	var b strings.Builder
	p := newLogPrinter(&b, rs, []string{"a", "b"}, true, true)
	ts := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	p.print(api.LogLine{Resource: "a", Time: ts, Text: "x"})
	p.print(api.LogLine{Resource: "b", Time: ts, Text: "y"})
	want := "\x1b[36ma |\x1b[0m 2026-01-02T03:04:05Z x\n\x1b[33mb |\x1b[0m 2026-01-02T03:04:05Z y\n"
	if got := b.String(); got != want {
		t.Fatalf("coloured logs = %q, want %q", got, want)
	}
}

func TestUseColor(t *testing.T) {
	env := func(kv ...string) func(string) string {
		m := map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) string { return m[k] }
	}
	var sb strings.Builder
	if useColor(&sb, env()) {
		t.Error("colour for a non-file writer")
	}
	f, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if useColor(f, env()) {
		t.Error("colour for a regular file")
	}
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	if useColor(null, env()) {
		t.Error("colour for /dev/null (a character device, not a terminal)")
	}
	tty := openPTY(t)
	if !useColor(tty, env()) {
		t.Errorf("no colour for %s", tty.Name())
	}
	for _, e := range [][]string{{"NO_COLOR", "1"}, {"CI", "true"}, {"TERM", "dumb"}} {
		if useColor(tty, env(e...)) {
			t.Errorf("colour despite %s=%s", e[0], e[1])
		}
	}
}

func TestParseTail(t *testing.T) {
	for in, want := range map[string]int{"all": -1, "ALL": -1, "0": 0, "25": 25} {
		if got, err := parseTail(in); err != nil || got != want {
			t.Errorf("parseTail(%q) = %d, %v", in, got, err)
		}
	}
	for _, bad := range []string{"abc", "-1", "", "1.5"} {
		if _, err := parseTail(bad); err == nil {
			t.Errorf("parseTail(%q) accepted", bad)
		}
	}
}

// openPTY returns the terminal side of a fresh pseudo-terminal.
func openPTY(t *testing.T) *os.File {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatalf("unlock pty: %v", err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatalf("pty number: %v", err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("open pty: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
