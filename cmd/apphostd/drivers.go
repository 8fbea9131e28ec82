package main

import (
	"go.uber.org/zap"

	"github.com/apphostd/apphostd/pkg/project"
	"github.com/apphostd/apphostd/pkg/runtime"
)

// extraDrivers returns the runtime drivers besides the process driver.
func extraDrivers(p project.Project, log *zap.Logger) map[string]runtime.Driver {
	return nil
}
