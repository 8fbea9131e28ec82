package main

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestGitHubAnnotationEscaping(t *testing.T) {
	got := ghAnnotation("error", "apphostd: api, db failed", "100% down\nlast lines:\r\n  boom")
	want := "::error title=apphostd%3A api%2C db failed::100%25 down%0Alast lines:%0D%0A  boom"
	if got != want {
		t.Fatalf("annotation\n got %s\nwant %s", got, want)
	}
	if strings.Contains(got, "\n") {
		t.Fatal("an annotation must be one line")
	}
	if got := ghAnnotation("warning", "", "a:b"); got != "::warning::a:b" {
		t.Fatalf("untitled annotation: %s", got)
	}
}

func TestParseOutput(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	cases := []struct {
		flag string
		env  map[string]string
		want outputFormat
		bad  bool
	}{
		{"", nil, outputText, false},
		{"", map[string]string{"GITHUB_ACTIONS": "true"}, outputGitHub, false},
		{"text", map[string]string{"GITHUB_ACTIONS": "true"}, outputText, false},
		{"github", nil, outputGitHub, false},
		{"xml", nil, "", true},
	}
	for _, c := range cases {
		got, err := parseOutput(c.flag, env(c.env))
		if (err != nil) != c.bad || got != c.want {
			t.Errorf("parseOutput(%q, %v) = %q, %v", c.flag, c.env, got, err)
		}
		if c.bad && exitCodeOf(err) != exitUsage {
			t.Errorf("bad --output exits %d, want %d", exitCodeOf(err), exitUsage)
		}
	}
}

// Off a terminal, lines are plain: a wall-clock stamp, the elapsed time,
// a word for the mark, and no escape sequences; GitHub format wraps them in
// a group.
func TestReporterPlainAndGitHub(t *testing.T) {
	var b bytes.Buffer
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	r := newReporter(&b, outputGitHub, start)
	r.now = func() time.Time { return start.Add(1500 * time.Millisecond) }
	r.begin("bring-up")
	r.begin("twice") // one group only
	r.line(markPending, "api", "Starting")
	r.line(markReady, "api", "Running (Healthy)")
	r.annotate("apphostd: db failed", "db: Exited (1)\n  boom")
	r.end()
	out := b.String()
	wantLines := []string{
		"::group::bring-up",
		"03:04:06.500 [  1.50s] ..   api              Starting",
		"03:04:06.500 [  1.50s] ok   api              Running (Healthy)",
		"::endgroup::",
		"::error title=apphostd%3A db failed::db: Exited (1)%0A  boom",
	}
	got := strings.Split(strings.TrimSpace(out), "\n")
	if len(got) != len(wantLines) {
		t.Fatalf("got %d lines, want %d:\n%s", len(got), len(wantLines), out)
	}
	for i := range wantLines {
		// The stamp is local time; compare it by shape only.
		g := regexp.MustCompile(`^\d\d:\d\d:\d\d\.\d{3} `).ReplaceAllString(got[i], "03:04:06.500 ")
		if g != wantLines[i] {
			t.Errorf("line %d\n got %q\nwant %q", i, got[i], wantLines[i])
		}
	}
	if strings.Contains(out, "\x1b[") {
		t.Error("escape sequence in non-interactive output")
	}
}

func TestSummaryMarkdownEscapesCells(t *testing.T) {
	v := 1.25
	md := summaryMarkdown("apphostd run", bringupSummary{Error: "a|b", Resources: []readySummary{{Name: "api", State: "Running", ReadyAfterSeconds: &v, Endpoints: []string{"http://x"}}}})
	for _, want := range []string{"### apphostd run", `a\|b`, "| api | Running | - | 1.25s | http://x |"} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
}
