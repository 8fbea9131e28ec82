package integrations_test

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/apphostd/apphostd/pkg/integrations"
	"github.com/apphostd/apphostd/pkg/model"
)

const docsPath = "../../docs/integrations.md"

type docBlock struct {
	lang string
	line int
	src  string
}

func docBlocks(t *testing.T) []docBlock {
	t.Helper()
	b, err := os.ReadFile(docsPath)
	if err != nil {
		t.Fatal(err)
	}
	var out []docBlock
	var cur *docBlock
	sc := bufio.NewScanner(bytes.NewReader(b))
	for line := 1; sc.Scan(); line++ {
		text := sc.Text()
		switch {
		case cur == nil && (text == "```hcl" || text == "```yaml"):
			cur = &docBlock{lang: strings.TrimPrefix(text, "```"), line: line}
		case cur != nil && text == "```":
			out = append(out, *cur)
			cur = nil
		case cur != nil:
			cur.src += text + "\n"
		}
	}
	return out
}

// TestDocsExamplesCompile compiles every hcl and yaml block of
// docs/integrations.md, so the documentation cannot drift from the code.
func TestDocsExamplesCompile(t *testing.T) {
	blocks := docBlocks(t)
	if len(blocks) < 10 {
		t.Fatalf("only %d code blocks in %s", len(blocks), docsPath)
	}
	for _, blk := range blocks {
		name := fmt.Sprintf("integrations.md:%d.%s", blk.line, blk.lang)
		if _, diags := model.Compile(name, []byte(blk.src)); diags.HasErrors() {
			t.Errorf("%s does not compile: %s\n%s", name, diags.Error(), blk.src)
		}
	}
}

// TestDocsCoverEveryKind: each integration has its own section.
func TestDocsCoverEveryKind(t *testing.T) {
	b, err := os.ReadFile(docsPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range integrations.Kinds() {
		if !bytes.Contains(b, []byte("\n## "+k+"\n")) {
			t.Errorf("%s has no section \"## %s\"", docsPath, k)
		}
	}
}
