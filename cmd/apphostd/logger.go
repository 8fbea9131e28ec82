package main

import (
	"os"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// newDaemonLogger writes structured JSON to .apphost/daemon.log and, in the
// foreground, readable warnings and errors to stderr. The file is opened
// O_APPEND so a restarted daemon continues it.
func newDaemonLogger(path string, console bool, debug bool) (*zap.Logger, func(), error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, nil, err
	}
	level := zapcore.InfoLevel
	if debug {
		level = zapcore.DebugLevel
	}
	jsonCfg := zap.NewProductionEncoderConfig()
	jsonCfg.EncodeTime = zapcore.ISO8601TimeEncoder
	cores := []zapcore.Core{levelGate{zapcore.NewCore(zapcore.NewJSONEncoder(jsonCfg), zapcore.AddSync(f), level), level}}
	if console {
		cc := zap.NewDevelopmentEncoderConfig()
		cc.EncodeTime = zapcore.TimeEncoderOfLayout("15:04:05.000")
		cc.EncodeCaller = nil
		cc.StacktraceKey = ""
		cores = append(cores, levelGate{zapcore.NewCore(zapcore.NewConsoleEncoder(cc), zapcore.Lock(os.Stderr), zapcore.WarnLevel), zapcore.WarnLevel})
	}
	log := zap.New(zapcore.NewTee(cores...))
	return log, func() { _ = log.Sync(); f.Close() }, nil
}

// levelGate enforces a core's level in Write too. A core that wraps the
// tee (the daemon's secret-masking core) checks the tee as a whole, which
// admits an entry if any core takes it, and then writes to every core: an
// info line would reach the console that only wants warnings.
type levelGate struct {
	zapcore.Core
	min zapcore.Level
}

func (g levelGate) With(fs []zapcore.Field) zapcore.Core {
	return levelGate{g.Core.With(fs), g.min}
}

func (g levelGate) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if e.Level >= g.min && g.Core.Enabled(e.Level) {
		return ce.AddCore(e, g)
	}
	return ce
}

func (g levelGate) Write(e zapcore.Entry, fs []zapcore.Field) error {
	if e.Level < g.min {
		return nil
	}
	return g.Core.Write(e, fs)
}
