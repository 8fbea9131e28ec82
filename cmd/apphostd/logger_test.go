package main

import (
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// writeAll is what a core wrapping the whole tee does (like the daemon's
// secret-masking core): it checks the tee as one and writes to all of it.
type writeAll struct{ zapcore.Core }

func (w writeAll) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if w.Enabled(e.Level) {
		return ce.AddCore(e, w)
	}
	return ce
}

func TestConsoleGetsOnlyWarningsThroughAWrappingCore(t *testing.T) {
	fileCore, file := observer.New(zapcore.InfoLevel)
	consoleCore, console := observer.New(zapcore.WarnLevel)
	tee := zapcore.NewTee(levelGate{fileCore, zapcore.InfoLevel}, levelGate{consoleCore, zapcore.WarnLevel})
	log := zap.New(writeAll{tee})
	log.Info("started")
	log.Warn("config has errors")
	if file.Len() != 2 {
		t.Fatalf("file got %d entries, want 2", file.Len())
	}
	if console.Len() != 1 || console.All()[0].Message != "config has errors" {
		t.Fatalf("console got %v, want only the warning", console.All())
	}
}
