package model_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/apphostd/apphostd/pkg/model"
)

const renderHCL = `
volume "data" {}
container "db" {
  image = "postgres"
  mount {
    source = volume.data
    target = "/var/lib/postgresql/data"
  }
}
executable "migrate" {
  command = "migrate"
}
executable "api" {
  command             = "api"
  references          = [container.db]
  wait_for_completion = [executable.migrate]
}
`

func TestWriteDOT(t *testing.T) {
	g := mustCompile(t, "apphost.hcl", renderHCL)
	var buf bytes.Buffer
	if err := model.WriteDOT(&buf, g); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{
		"digraph apphost {",
		`"data" [label="volume\ndata", shape=cylinder];`,
		`"db" -> "data";`,
		`"api" -> "db";`,
		`"api" -> "migrate" [style=dashed];`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("DOT lacks %q:\n%s", want, out)
		}
	}
	var again bytes.Buffer
	_ = model.WriteDOT(&again, mustCompile(t, "apphost.hcl", renderHCL))
	if again.String() != out {
		t.Error("DOT output is not deterministic")
	}
}

func TestWriteMermaid(t *testing.T) {
	g := mustCompile(t, "apphost.hcl", renderHCL)
	var buf bytes.Buffer
	if err := model.WriteMermaid(&buf, g); err != nil {
		t.Fatal(err)
	}
	// Order: data, db, migrate, api → n0..n3.
	want := "flowchart LR\n" +
		"  n0[(\"volume data\")]\n" +
		"  n1[[\"container db\"]]\n" +
		"  n2[\"executable migrate\"]\n" +
		"  n3[\"executable api\"]\n" +
		"  n1 --> n0\n" +
		"  n3 --> n1\n" +
		"  n3 -.-> n2\n"
	if buf.String() != want {
		t.Errorf("Mermaid =\n%s\nwant\n%s", buf.String(), want)
	}
}
