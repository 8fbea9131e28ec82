package main

// The hosting integrations (postgres, redis, ...) register their block
// kinds with the model when imported.
import _ "github.com/apphostd/apphostd/pkg/integrations"
