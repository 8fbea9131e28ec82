package integrations_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/apphostd/apphostd/pkg/integrations"
	"github.com/apphostd/apphostd/pkg/model"
)

func TestAppendBlock(t *testing.T) {
	pgExec := integrations.AddOptions{Runtime: "executable", Databases: []string{"appdata"}}
	cases := []struct {
		name, file, src, kind, res string
		opts                       integrations.AddOptions
		want                       string
	}{
		{"hcl empty", "apphost.hcl", "", "redis", "cache", integrations.AddOptions{}, "redis \"cache\" {}\n"},
		{"hcl after content without newline", "apphost.hcl", "executable \"a\" {\n  command = \"x\"\n}", "postgres", "db", pgExec,
			"executable \"a\" {\n  command = \"x\"\n}\n\npostgres \"db\" {\n  runtime = \"executable\"\n\n  database \"appdata\" {}\n}\n"},
		{"yaml empty", "apphost.yaml", "", "postgres", "db", pgExec,
			"postgres:\n  db:\n    runtime: executable\n    database:\n      appdata: {}\n"},
		{"yaml new section", "apphost.yaml", "# app\nexecutable:\n  a:\n    command: x\n", "redis", "cache", integrations.AddOptions{},
			"# app\nexecutable:\n  a:\n    command: x\nredis:\n  cache: {}\n"},
		{"yaml existing section, 4-space indent, before next key", "apphost.yaml",
			"redis:\n    one:\n        runtime: executable\n\n# workers\nexecutable:\n    a:\n        command: x\n", "redis", "two", integrations.AddOptions{Runtime: "executable"},
			"redis:\n    one:\n        runtime: executable\n    two:\n        runtime: executable\n\n# workers\nexecutable:\n    a:\n        command: x\n"},
		{"yaml empty section", "apphost.yaml", "mysql:\nexecutable:\n  a: {command: x}\n", "mysql", "sql", integrations.AddOptions{Databases: []string{"shop"}},
			"mysql:\n  sql:\n    database:\n      shop: {}\nexecutable:\n  a: {command: x}\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, err := integrations.AppendBlock(c.file, []byte(c.src), c.kind, c.res, c.opts)
			if err != nil {
				t.Fatal(err)
			}
			if string(out) != c.want {
				t.Fatalf("got:\n%s\nwant:\n%s", out, c.want)
			}
			if _, diags := model.Compile(c.file, out); diags.HasErrors() {
				t.Fatalf("result does not compile: %s", diags.Error())
			}
		})
	}
}

func TestAppendBlockRefuses(t *testing.T) {
	const src = "postgres \"db\" {\n  database \"appdata\" {}\n}\n"
	cases := []struct {
		name, file, src, kind, res string
		opts                       integrations.AddOptions
		want                       string
	}{
		{"duplicate", "apphost.hcl", src, "redis", "db", integrations.AddOptions{}, `already has a resource named "db" (postgres, at apphost.hcl:1,1`},
		{"duplicate database", "apphost.hcl", src, "mysql", "sql", integrations.AddOptions{Databases: []string{"appdata"}}, `named "appdata" (postgres_database`},
		{"expanded name taken", "apphost.hcl", "parameter \"cache-password\" {\n  default = \"x\"\n}\n", "redis", "cache", integrations.AddOptions{}, "would not compile"},
		{"unknown kind", "apphost.hcl", "", "cassandra", "c", integrations.AddOptions{}, "unknown integration \"cassandra\"; available: kafka, mongodb"},
		{"no executable mode", "apphost.hcl", "", "mysql", "m", integrations.AddOptions{Runtime: "executable"}, "runs only as a container"},
		{"no databases", "apphost.hcl", "", "redis", "r", integrations.AddOptions{Databases: []string{"x"}}, "has no databases"},
		{"bad name", "apphost.hcl", "", "redis", "Cache", integrations.AddOptions{}, "not a valid name"},
		{"broken file", "apphost.hcl", "executable \"a\" {\n", "redis", "r", integrations.AddOptions{}, "has errors"},
		{"flow yaml", "apphost.yaml", "redis: {a: {}}\n", "redis", "b", integrations.AddOptions{}, "add the block by hand"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, err := integrations.AppendBlock(c.file, []byte(c.src), c.kind, c.res, c.opts)
			if err == nil {
				t.Fatalf("accepted:\n%s", out)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q does not contain %q", err, c.want)
			}
			var de *integrations.DiagError
			if c.name == "expanded name taken" && (!errors.As(err, &de) || !de.Diags.HasErrors()) {
				t.Fatalf("want diagnostics with the error, got %#v", err)
			}
		})
	}
}
