package daemon

import (
	"fmt"
	"sync/atomic"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// secretMask holds the function that replaces the current graph's secret
// values with ********; apply swaps it on every good load. The zero value
// masks nothing.
type secretMask struct {
	f atomic.Pointer[func(string) string]
}

// set installs f; nil masks nothing.
func (m *secretMask) set(f func(string) string) {
	if f == nil {
		m.f.Store(nil)
		return
	}
	m.f.Store(&f)
}

func (m *secretMask) apply(s string) string {
	if f := m.f.Load(); f != nil && s != "" {
		return (*f)(s)
	}
	return s
}

// maskLogger wraps log so that no secret value reaches daemon.log: an
// error message can carry one (a command path built from a secret, a
// health probe's output), and so can a debug field. The message and every
// string-like field (strings, byte strings, errors, Stringers, arrays,
// objects and reflected values) pass through m; a field whose text holds a
// secret is replaced by its masked text.
func maskLogger(log *zap.Logger, m *secretMask) *zap.Logger {
	return log.WithOptions(zap.WrapCore(func(c zapcore.Core) zapcore.Core { return &maskCore{Core: c, m: m} }))
}

type maskCore struct {
	zapcore.Core
	m *secretMask
}

func (c *maskCore) With(fs []zapcore.Field) zapcore.Core {
	return &maskCore{Core: c.Core.With(c.fields(fs)), m: c.m}
}

func (c *maskCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(e.Level) {
		return ce.AddCore(e, c)
	}
	return ce
}

func (c *maskCore) Write(e zapcore.Entry, fs []zapcore.Field) error {
	e.Message = c.m.apply(e.Message)
	return c.Core.Write(e, c.fields(fs))
}

func (c *maskCore) fields(fs []zapcore.Field) []zapcore.Field {
	if c.m.f.Load() == nil {
		return fs
	}
	out := make([]zapcore.Field, len(fs))
	for i, f := range fs {
		out[i] = f
		switch f.Type {
		case zapcore.StringType:
			out[i].String = c.m.apply(f.String)
		case zapcore.ByteStringType, zapcore.BinaryType:
			if b, ok := f.Interface.([]byte); ok {
				if s := string(b); c.m.apply(s) != s {
					out[i] = zap.String(f.Key, c.m.apply(s))
				}
			}
		case zapcore.ErrorType, zapcore.StringerType, zapcore.ReflectType,
			zapcore.ArrayMarshalerType, zapcore.ObjectMarshalerType, zapcore.InlineMarshalerType:
			if f.Interface != nil {
				if s := fmt.Sprint(f.Interface); c.m.apply(s) != s {
					out[i] = zap.String(f.Key, c.m.apply(s))
				}
			}
		}
	}
	return out
}
