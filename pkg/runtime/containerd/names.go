package containerd

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path/filepath"

	cdclient "github.com/containerd/containerd/v2/client"
)

// Labels the driver puts on every container. The apphost.* labels from
// Spec.Labels (e.g. apphost.spec-hash) are copied as given.
const (
	LabelProject  = "apphost.project"
	LabelResource = "apphost.resource"
	LabelInstance = "apphost.instance"
	LabelReplica  = "apphost.replica"
	LabelSpecHash = "apphost.spec-hash"

	// Driver bookkeeping, read back by a later Driver (Adopt, Delete, Cleanup).
	labelNetwork    = "apphost.network" // "bridge" | "host"
	labelNetNS      = "apphost.netns"
	labelIP         = "apphost.ip"
	labelPorts      = "apphost.ports" // JSON []gocni.PortMapping, for CNI DEL
	labelLogPath    = "apphost.log-path"
	labelStopSignal = "apphost.stop-signal"
)

// containerID is the containerd (and CNI) ID of an instance: the project
// hash keeps two projects' "api-0" apart in a shared namespace and in the
// host-wide CNI cache.
func (d *Driver) containerID(id string) string {
	p := d.opts.Project
	if len(p) > 12 {
		p = p[:12]
	}
	return "ah-" + p + "-" + id
}

func (d *Driver) netnsPath(cid string) string { return filepath.Join(d.opts.StateDir, "netns", cid) }
func (d *Driver) hostsPath(cid string) string { return filepath.Join(d.opts.StateDir, "hosts", cid) }
func (d *Driver) ipamDir() string             { return filepath.Join(d.opts.StateDir, "ipam") }
func (d *Driver) fifoDir() string             { return filepath.Join(d.opts.StateDir, "fifo") }
func (d *Driver) networkName() string         { return "apphost-" + d.opts.BridgeName }

func projectHash(project string) []byte {
	sum := sha256.Sum256([]byte(project))
	return sum[:]
}

func defaultBridgeName(project string) string {
	return "aph" + hex.EncodeToString(projectHash(project))[:8]
}

// defaultSubnet picks a /24 in 10.200.0.0/13 (10.200–10.207) from the
// project hash, so two projects on one host rarely collide; set
// Options.Subnet to choose.
func defaultSubnet(project string) string {
	h := projectHash(project)
	return fmt.Sprintf("10.%d.%d.0/24", 200+int(h[0]%8), h[1])
}

// labelsOf returns a container's labels from the record it was loaded or
// listed with: no extra round trip (the driver changes no labels after
// creation).
func labelsOf(ctx context.Context, c cdclient.Container) (map[string]string, error) {
	info, err := c.Info(ctx, cdclient.WithoutRefreshedMetadata)
	if err != nil {
		return nil, err
	}
	return info.Labels, nil
}
