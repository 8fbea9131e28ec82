package containerd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/apphostd/apphostd/pkg/runtime"
	"github.com/containerd/containerd/api/types/runc/options"
	cdclient "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/snapshots"
	"github.com/containerd/containerd/v2/pkg/cio"
	"github.com/containerd/containerd/v2/pkg/identifiers"
	"github.com/containerd/errdefs"
	"go.uber.org/zap"
)

const runtimeName = "io.containerd.runc.v2"

// Start implements runtime.Driver: image (per pull policy), network
// namespace + CNI (bridge) or host network, /etc/hosts, container with
// labels and a fresh snapshot, task with output to Spec.LogPath. It returns
// once the task has started. On any error it leaves nothing behind.
//
// A stopped container left under the same ID (a crash, or a daemon that
// died before Delete) is deleted first; a running one is ErrAlreadyExists.
func (d *Driver) Start(ctx context.Context, spec runtime.Spec) (runtime.Status, error) {
	if spec.ID == "" {
		return runtime.Status{}, fmt.Errorf("start: empty instance ID: %w", runtime.ErrInvalidSpec)
	}
	cid := d.containerID(spec.ID)
	if err := identifiers.Validate(cid); err != nil {
		return runtime.Status{}, fmt.Errorf("start %s: %v: %w", spec.ID, err, runtime.ErrInvalidSpec)
	}
	t0 := time.Now()
	var tImage, tNet, tCreate, tTask, tAdd, tJoin time.Duration
	if err := d.clearStale(ctx, spec.ID, cid); err != nil {
		return runtime.Status{}, err
	}
	img, err := d.image(ctx, spec.ID, spec.Image, spec.Pull, spec.LogPath)
	if err != nil {
		return runtime.Status{}, fmt.Errorf("start %s: %w", spec.ID, err)
	}
	tImage = time.Since(t0)

	bridged := spec.Network == "" || spec.Network == "bridge"
	if !bridged && spec.Network != "host" {
		return runtime.Status{}, fmt.Errorf("start %s: network %q (want bridge or host): %w", spec.ID, spec.Network, runtime.ErrInvalidSpec)
	}
	labels := d.labels(spec, bridged)
	ports := portMappings(spec.Ports)

	// undo runs the rollback steps in reverse on failure.
	var undo []func(context.Context)
	fail := func(err error) (runtime.Status, error) {
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		for i := len(undo) - 1; i >= 0; i-- {
			undo[i](uctx)
		}
		return runtime.Status{}, fmt.Errorf("start %s: %w", spec.ID, err)
	}

	// Bridged: the netns exists before the container is created (its
	// path is in the spec), but the CNI ADD — the slow part, mostly
	// waiting on iptables and IPAM locks — runs while the container and
	// task are created, and is joined before the task starts.
	nsPath, hostsPath, resolvPath := "", d.hostsPath(cid), ""
	var (
		ip      string
		netErr  error
		netDone chan struct{}
	)
	if bridged {
		if _, err := d.network(); err != nil {
			return fail(err)
		}
		nsPath = d.netnsPath(cid)
		if err := createNetNS(nsPath); err != nil {
			return fail(err)
		}
		undo = append(undo, func(context.Context) { _ = removeNetNS(nsPath) })
		// Mounted by runc at task create; filled in once the address is known.
		if err := writeInPlace(hostsPath, d.hostsContent(nil)); err != nil {
			return fail(fmt.Errorf("write hosts: %w", err))
		}
		resolvPath = d.resolvPath()
		if err := writeInPlace(resolvPath, resolvConf()); err != nil {
			return fail(fmt.Errorf("write resolv.conf: %w", err))
		}
		netDone = make(chan struct{})
		go func() {
			defer close(netDone)
			t := time.Now()
			ip, netErr = d.attachNetwork(ctx, cid, nsPath, ports)
			tAdd = time.Since(t)
		}()
		undo = append(undo, func(c context.Context) {
			<-netDone
			if netErr == nil {
				_ = d.teardownNetwork(c, cid, ports)
			}
		})
		if b, err := json.Marshal(ports); err == nil && len(ports) > 0 {
			labels[labelPorts] = string(b)
		}
	} else if err := writeInPlace(hostsPath, hostHostsContent()); err != nil {
		return fail(fmt.Errorf("write hosts: %w", err))
	}
	undo = append(undo, func(context.Context) { os.Remove(hostsPath) })
	tNet = time.Since(t0) - tImage // netns + hosts; the ADD overlaps create and task

	sopts, err := specOpts(img, spec, nsPath, hostsPath, resolvPath)
	if err != nil {
		return fail(err)
	}
	copts := []cdclient.NewContainerOpts{
		cdclient.WithImage(img),
		cdclient.WithSnapshotter(d.opts.Snapshotter),
		cdclient.WithNewSnapshot(cid, img, snapshots.WithLabels(map[string]string{LabelProject: d.opts.Project})),
		cdclient.WithImageStopSignal(img, "SIGTERM"),
		cdclient.WithNewSpec(sopts...),
		cdclient.WithAdditionalContainerLabels(labels),
	}
	if d.opts.RuncRoot != "" {
		copts = append(copts, cdclient.WithRuntime(runtimeName, &options.Options{Root: d.opts.RuncRoot}))
	} else {
		copts = append(copts, cdclient.WithRuntime(runtimeName, nil))
	}
	container, err := d.client.NewContainer(ctx, cid, copts...)
	if err != nil {
		if errdefs.IsAlreadyExists(err) {
			return fail(fmt.Errorf("%w: %w", runtime.ErrAlreadyExists, err))
		}
		if errdefs.IsInvalidArgument(err) || errdefs.IsNotFound(err) {
			return fail(fmt.Errorf("create container: %v: %w", err, runtime.ErrInvalidSpec))
		}
		return fail(d.classify("create container", spec.ID, err))
	}
	undo = append(undo, func(c context.Context) {
		_ = container.Delete(c, cdclient.WithSnapshotCleanup)
	})
	tCreate = time.Since(t0) - tImage - tNet

	ioc := cio.NullIO
	if spec.LogPath != "" {
		if err := os.MkdirAll(filepath.Dir(spec.LogPath), 0o755); err != nil {
			return fail(fmt.Errorf("log dir: %w", err))
		}
		ioc = cio.LogFile(spec.LogPath)
	}
	task, err := container.NewTask(ctx, ioc)
	if err != nil {
		return fail(d.classifyTaskErr("create task", spec.ID, err))
	}
	undo = append(undo, func(c context.Context) { _, _ = task.Delete(c, cdclient.WithProcessKill) })
	if bridged {
		tj := time.Now()
		<-netDone
		tJoin = time.Since(tj)
		if netErr != nil {
			return fail(netErr)
		}
		if _, err := container.SetLabels(ctx, map[string]string{labelIP: ip}); err != nil {
			return fail(d.classify("label container", spec.ID, err))
		}
		// Writes this container's hosts file and adds its name to the
		// files of the project's other containers.
		self := map[string]hostEntry{cid: {ip: ip, names: []string{spec.Resource, spec.ID}}}
		if err := d.refreshHosts(ctx, self, ""); err != nil {
			return fail(err)
		}
	}
	// Wait before Start, on the driver's context: the subscription must
	// outlive this call, and an instant exit must not be missed.
	statusC, err := task.Wait(d.ctx)
	if err != nil {
		return fail(d.classify("wait", spec.ID, err))
	}
	if err := task.Start(ctx); err != nil {
		return fail(d.classifyTaskErr("start task", spec.ID, err))
	}
	tTask = time.Since(t0) - tImage - tNet - tCreate
	inst := d.track(&instance{id: spec.ID, cid: cid, container: container, task: task, ip: ip,
		startedAt: time.Now(), done: make(chan struct{})}, statusC)

	pid := int(task.Pid())
	d.log.Debug("started", zap.String("id", spec.ID), zap.Int("pid", pid), zap.String("ip", ip),
		zap.Duration("image", tImage), zap.Duration("network", tNet), zap.Duration("create", tCreate),
		zap.Duration("task", tTask), zap.Duration("cniAdd", tAdd), zap.Duration("cniJoinWait", tJoin),
		zap.Duration("total", time.Since(t0)))
	return runtime.Status{ID: spec.ID, State: runtime.StateRunning, PID: pid, StartTime: processStartTime(pid),
		StartedAt: inst.startedAt, IP: ip}, nil
}

// classifyTaskErr marks runc failures to exec the entrypoint as invalid
// specs (restarting cannot fix a missing binary); the rest as usual.
func (d *Driver) classifyTaskErr(op, id string, err error) error {
	if errdefs.IsNotFound(err) || errdefs.IsInvalidArgument(err) || errdefs.IsFailedPrecondition(err) {
		return fmt.Errorf("%s %s: %v: %w", op, id, err, runtime.ErrInvalidSpec)
	}
	if errdefs.IsUnknown(err) && containsAny(err.Error(), "executable file not found", "no such file or directory", "permission denied") {
		return fmt.Errorf("%s %s: %v: %w", op, id, err, runtime.ErrInvalidSpec)
	}
	return d.classify(op, id, err)
}

func (d *Driver) labels(spec runtime.Spec, bridged bool) map[string]string {
	l := map[string]string{}
	for k, v := range spec.Labels {
		l[k] = v
	}
	l[LabelProject] = d.opts.Project
	l[LabelResource] = spec.Resource
	l[LabelInstance] = spec.ID
	l[LabelReplica] = strconv.Itoa(spec.Replica)
	l[labelNetwork] = "host"
	if bridged {
		l[labelNetwork] = "bridge"
		l[labelNetNS] = d.netnsPath(d.containerID(spec.ID))
	}
	if spec.LogPath != "" {
		l[labelLogPath] = spec.LogPath
	}
	if spec.StopSignal != 0 {
		l[labelStopSignal] = strconv.Itoa(int(spec.StopSignal))
	}
	return l
}

// clearStale deletes a leftover container of the same ID unless its task
// is running (then ErrAlreadyExists).
func (d *Driver) clearStale(ctx context.Context, id, cid string) error {
	c, err := d.client.LoadContainer(ctx, cid)
	if errdefs.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return d.classify("load container", id, err)
	}
	if t, err := c.Task(ctx, nil); err == nil {
		st, err := t.Status(ctx)
		if err == nil && st.Status != cdclient.Stopped {
			return fmt.Errorf("start %s: container %s is %s: %w", id, cid, st.Status, runtime.ErrAlreadyExists)
		}
	}
	if err := d.Delete(ctx, id); err != nil && !errors.Is(err, runtime.ErrNotFound) {
		return fmt.Errorf("start %s: remove stale container: %w", id, err)
	}
	return nil
}

func containsAny(s string, subs ...string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}
