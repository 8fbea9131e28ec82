package daemon

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

type stringerVal string

func (s stringerVal) String() string { return string(s) }

// TestMaskLoggerHidesSecretsInEveryFieldKind logs a secret through every
// kind of field the daemon uses, at debug level and through With, and
// checks that none of it reaches the output.
func TestMaskLoggerHidesSecretsInEveryFieldKind(t *testing.T) {
	const secret = "hunter2-s3cr3t"
	var buf bytes.Buffer
	core := zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), zapcore.AddSync(&buf), zapcore.DebugLevel)
	m := &secretMask{}
	log := maskLogger(zap.New(core), m)

	log.Info("before any graph: " + secret) // nothing known yet: not masked
	if !strings.Contains(buf.String(), secret) {
		t.Fatal("a value logged before the mask was set should pass unchanged")
	}
	buf.Reset()

	m.set(func(s string) string { return strings.ReplaceAll(s, secret, "********") })
	child := log.Named("health").With(zap.String("instance", "db"), zap.String("with", "w="+secret))
	child.Debug("probe failed: "+secret,
		zap.String("s", secret),
		zap.Error(fmt.Errorf("exec sh: exit status 1: login failed for %s", secret)),
		zap.Stringer("st", stringerVal("x"+secret)),
		zap.ByteString("b", []byte(secret)),
		zap.Binary("bin", []byte(secret)),
		zap.Any("any", map[string]string{"pw": secret}),
		zap.Strings("list", []string{secret}),
		zap.Int("n", 3),
	)
	out := buf.String()
	if strings.Contains(out, secret) {
		t.Fatalf("secret in the log:\n%s", out)
	}
	for _, want := range []string{`"instance":"db"`, `"n":3`, "probe failed: ********", "login failed for ********"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %s:\n%s", want, out)
		}
	}
	// A log without secrets is unchanged.
	buf.Reset()
	log.Warn("plain", zap.Error(errors.New("boom")))
	if !strings.Contains(buf.String(), `"error":"boom"`) {
		t.Errorf("plain error changed: %s", buf.String())
	}
}
