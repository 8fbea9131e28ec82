package logs

import (
	"strings"
	"testing"
)

func TestPrinter(t *testing.T) {
	var b strings.Builder
	p := NewPrinter(&b, false)
	p.Print(Line{Resource: "api", Instance: "api-0", Text: "listening"})
	p.Print(Line{Resource: "postgres", Instance: "postgres-0", Text: "ready"})
	p.Print(Line{Resource: "api", Instance: "api-1", Text: "second replica"})
	want := "api | listening\npostgres | ready\napi-1    | second replica\n"
	if b.String() != want {
		t.Fatalf("got\n%q\nwant\n%q", b.String(), want)
	}

	b.Reset()
	p = NewPrinter(&b, true)
	p.Print(Line{Resource: "api", Instance: "api-0", Text: "x"})
	p.Print(Line{Resource: "api", Instance: "api-0", Text: "y"})
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], colorFor("api")+"api |"+colorReset+" x") {
		t.Fatalf("coloured output %q", b.String())
	}
	if !strings.HasPrefix(lines[1], colorFor("api")) {
		t.Fatal("colour of a resource is not stable")
	}
}
