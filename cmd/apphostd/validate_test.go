package main

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestValidateAndGraphCommands builds the real binary once and runs
// `validate` on every config fixture and `graph` in every format.
func TestValidateAndGraphCommands(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "apphostd")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	run := func(dir string, args ...string) (string, int) {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		switch {
		case err == nil:
			return string(out), 0
		case errors.As(err, &ee):
			return string(out), ee.ExitCode()
		}
		t.Fatalf("run %v: %v", args, err)
		return "", -1
	}
	root, err := filepath.Abs("../../testdata/config")
	if err != nil {
		t.Fatal(err)
	}

	invalid, _ := filepath.Glob(filepath.Join(root, "invalid", "*"))
	if len(invalid) < 32 {
		t.Fatalf("found %d invalid fixtures", len(invalid))
	}
	for _, path := range invalid {
		t.Run("invalid/"+filepath.Base(path), func(t *testing.T) {
			out, code := run(t.TempDir(), "validate", "-f", path)
			if code != 1 {
				t.Fatalf("exit %d, want 1\n%s", code, out)
			}
			// Every marked line appears as FILE:LINE:COL in the output.
			posRE := regexp.MustCompile(regexp.QuoteMeta(path) + `:(\d+):(\d+): Error: `)
			lines := map[int]bool{}
			for _, m := range posRE.FindAllStringSubmatch(out, -1) {
				n, _ := strconv.Atoi(m[1])
				lines[n] = true
			}
			for _, line := range markedLines(t, path) {
				if !lines[line] {
					t.Errorf("no %s:%d:COL position in output:\n%s", path, line, out)
				}
			}
			if strings.Contains(out, "\x1b[") {
				t.Error("colour codes on a non-terminal")
			}
		})
	}

	valid, _ := filepath.Glob(filepath.Join(root, "valid", "*.hcl"))
	for _, path := range valid {
		out, code := run(t.TempDir(), "validate", "-f", path)
		if code != 0 || !regexp.MustCompile(`^`+regexp.QuoteMeta(path)+`: ok \(\d+ resources\)\n$`).MatchString(out) {
			t.Errorf("validate %s: exit %d\n%s", path, code, out)
		}
	}

	// Without -f: the project file of the working directory.
	dir := t.TempDir()
	src, err := os.ReadFile(filepath.Join(root, "valid", "basic.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "apphost.yaml"), src, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, code := run(dir, "validate"); code != 0 || !strings.Contains(out, "apphost.yaml: ok (5 resources)") {
		t.Errorf("validate in project dir: exit %d\n%s", code, out)
	}
	if out, code := run(t.TempDir(), "validate"); code == 0 || !strings.Contains(out, "apphost.hcl") {
		t.Errorf("validate without a project file: exit %d\n%s", code, out)
	}

	// graph in each format.
	for format, want := range map[string]string{
		"dot":     `"api" -> "cache";`,
		"mermaid": "flowchart LR",
		"json":    `"order": [`,
	} {
		out, code := run(dir, "graph", "--format", format)
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("graph --format %s: exit %d\n%s", format, code, out)
		}
	}
	if out, code := run(dir, "graph", "--format", "svg"); code != 2 {
		t.Errorf("graph --format svg: exit %d, want 2\n%s", code, out)
	}
	if out, code := run(dir, "graph", "-f", filepath.Join(root, "invalid", "cycle.hcl")); code != 1 || !strings.Contains(out, "Dependency cycle") {
		t.Errorf("graph of an invalid file: exit %d\n%s", code, out)
	}
}

// markedLines returns the lines carrying a `# ERROR:` marker.
func markedLines(t *testing.T, path string) []int {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []int
	sc := bufio.NewScanner(bytes.NewReader(src))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for n := 1; sc.Scan(); n++ {
		if strings.Contains(sc.Text(), "# ERROR:") {
			out = append(out, n)
		}
	}
	if len(out) == 0 {
		t.Fatalf("%s has no # ERROR: marker", path)
	}
	return out
}
