package containerd

import (
	"context"
)

// Cleanup removes everything of the project: placeholder.
func (d *Driver) Cleanup(ctx context.Context) error { return nil }
