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
	cores := []zapcore.Core{zapcore.NewCore(zapcore.NewJSONEncoder(jsonCfg), zapcore.AddSync(f), level)}
	if console {
		cc := zap.NewDevelopmentEncoderConfig()
		cc.EncodeTime = zapcore.TimeEncoderOfLayout("15:04:05.000")
		cc.EncodeCaller = nil
		cc.StacktraceKey = ""
		cores = append(cores, zapcore.NewCore(zapcore.NewConsoleEncoder(cc), zapcore.Lock(os.Stderr), zapcore.WarnLevel))
	}
	log := zap.New(zapcore.NewTee(cores...))
	return log, func() { _ = log.Sync(); f.Close() }, nil
}
