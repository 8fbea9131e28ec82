package main

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"

	"github.com/joho/godotenv"
)

// Values a consumer environment can hold, and some it might: every one must
// come back unchanged from a dotenv reader and from sh.
var trickyEnv = map[string]string{
	"PLAIN":                  "http://127.0.0.1:5000/path?x=1",
	"ConnectionStrings__db":  "Host=127.0.0.1;Port=5432;Username=postgres;Password=p@ss word",
	"SPACES":                 "two  spaces and a\ttab",
	"DOLLAR":                 "costs $5 and ${HOME}",
	"SINGLE":                 "it's",
	"DOUBLE":                 `say "hi"`,
	"NEWLINE":                "line one\nline two",
	"BACKSLASH":              `C:\path\to`,
	"MIXED":                  "it's \"$HOME\"\nand \\ more",
	"EMPTY":                  "",
	"HASH":                   "a #not-a-comment",
	"GLOB":                   "*.go ~ [x] !bang",
	"services__api__http__0": "http://127.0.0.1:6000",
}

func TestEnvDotenvRoundTrip(t *testing.T) {
	var out, warn bytes.Buffer
	if err := writeEnv(&out, &warn, trickyEnv, false); err != nil {
		t.Fatal(err)
	}
	got, err := godotenv.Unmarshal(out.String())
	if err != nil {
		t.Fatalf("godotenv: %v\n%s", err, out.String())
	}
	for k, want := range trickyEnv {
		if got[k] != want {
			t.Errorf("%s: godotenv read %q, want %q\nline: %s", k, got[k], want, envLine(k, want, false))
		}
	}
	if len(got) != len(trickyEnv) {
		t.Errorf("read %d variables, want %d:\n%s", len(got), len(trickyEnv), out.String())
	}
	if strings.Contains(out.String(), "export ") {
		t.Error("dotenv output has export")
	}
}

func TestEnvExportRoundTripThroughShell(t *testing.T) {
	env := map[string]string{"bad-name": "x"}
	for k, v := range trickyEnv {
		env[k] = v
	}
	var out, warn bytes.Buffer
	if err := writeEnv(&out, &warn, env, true); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(warn.String(), "bad-name") || strings.Contains(out.String(), "bad-name") {
		t.Errorf("a name sh cannot take must be skipped with a warning: out=%q warn=%q", out.String(), warn.String())
	}
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\nexport ") {
		if !strings.HasPrefix(line, "export ") && !strings.Contains(line, "=") {
			t.Errorf("line without export: %q", line)
		}
	}
	// eval in a clean sh, then print every variable NUL-separated.
	cmd := exec.Command("sh", "-c", `eval "$APPHOSTD_ENV" && env -0`)
	cmd.Env = []string{"APPHOSTD_ENV=" + out.String(), "PATH=/usr/bin:/bin"}
	b, err := cmd.Output()
	if err != nil {
		t.Fatalf("sh eval: %v\n%s", err, out.String())
	}
	got := map[string]string{}
	for _, kv := range strings.Split(string(b), "\x00") {
		if k, v, ok := strings.Cut(kv, "="); ok {
			got[k] = v
		}
	}
	for k, want := range trickyEnv {
		if got[k] != want {
			t.Errorf("%s: sh got %q, want %q\nline: %s", k, got[k], want, envLine(k, want, true))
		}
	}
}

func TestEnvQuotingChoosesTheLightestForm(t *testing.T) {
	cases := []struct{ v, dotenv, shell string }{
		{"http://127.0.0.1:1/x", "http://127.0.0.1:1/x", "http://127.0.0.1:1/x"},
		{"a b", "'a b'", "'a b'"},
		{"", "''", "''"},
		{"it's", `"it's"`, `'it'\''s'`},
		{"a\nb", `"a\nb"`, "'a\nb'"},
	}
	for _, c := range cases {
		if got := dotenvQuote(c.v); got != c.dotenv {
			t.Errorf("dotenvQuote(%q) = %s, want %s", c.v, got, c.dotenv)
		}
		if got := shellQuote(c.v); got != c.shell {
			t.Errorf("shellQuote(%q) = %s, want %s", c.v, got, c.shell)
		}
	}
}
