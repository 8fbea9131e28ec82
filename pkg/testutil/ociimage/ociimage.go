// Package ociimage builds OCI image layout tarballs for tests, since there is
// no registry to pull from: a single gzipped tar layer holding files (usually
// one static Go binary) plus an image config, laid out as oci-layout,
// index.json and blobs/sha256/*, ready for containerd's Import.
//
// The output is deterministic (zero mtimes, sorted entries), so the same
// inputs give the same digests and re-imports are no-ops.
package ociimage

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"sort"
	"time"
)

// File is one entry of the image's single layer.
type File struct {
	Path string // absolute path inside the image, e.g. "/server"
	Mode int64  // permission bits; 0 = 0644
	Data []byte
}

// Config is the part of the OCI image config tests care about.
type Config struct {
	Entrypoint   []string
	Cmd          []string
	Env          []string // default PATH is added when empty
	WorkingDir   string
	User         string
	ExposedPorts []string // "8080/tcp"
	StopSignal   string   // "SIGINT"
	Labels       map[string]string
}

// Image describes the tarball to write.
type Image struct {
	// Name is the full reference containerd stores it under,
	// e.g. "apphost.test/testserver:latest".
	Name   string
	Files  []File
	Config Config
}

const (
	mediaManifest = "application/vnd.oci.image.manifest.v1+json"
	mediaConfig   = "application/vnd.oci.image.config.v1+json"
	mediaLayer    = "application/vnd.oci.image.layer.v1.tar+gzip"
	mediaIndex    = "application/vnd.oci.image.index.v1+json"
	// annotationImageName is containerd's name annotation (images.AnnotationImageName),
	// honoured by its importer; ref.name carries the tag for other tools.
	annotationImageName = "io.containerd.image.name"
	annotationRefName   = "org.opencontainers.image.ref.name"
)

type descriptor struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Size        int64             `json:"size"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Platform    *platform         `json:"platform,omitempty"`
}

type platform struct {
	Architecture string `json:"architecture"`
	OS           string `json:"os"`
}

type blob struct {
	digest string
	data   []byte
}

func newBlob(b []byte) blob {
	sum := sha256.Sum256(b)
	return blob{digest: "sha256:" + hex.EncodeToString(sum[:]), data: b}
}

// Write writes img as an OCI image layout tarball to w.
func Write(w io.Writer, img Image) error {
	layerTar, err := layer(img.Files)
	if err != nil {
		return fmt.Errorf("build layer: %w", err)
	}
	diffSum := sha256.Sum256(layerTar)
	var gz bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&gz, gzip.BestSpeed)
	if _, err := zw.Write(layerTar); err != nil {
		return fmt.Errorf("compress layer: %w", err)
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("compress layer: %w", err)
	}
	layerBlob := newBlob(gz.Bytes())

	configBlob, err := jsonBlob(imageConfig(img.Config, "sha256:"+hex.EncodeToString(diffSum[:])))
	if err != nil {
		return err
	}
	manifestBlob, err := jsonBlob(map[string]any{
		"schemaVersion": 2,
		"mediaType":     mediaManifest,
		"config":        descriptor{MediaType: mediaConfig, Digest: configBlob.digest, Size: int64(len(configBlob.data))},
		"layers":        []descriptor{{MediaType: mediaLayer, Digest: layerBlob.digest, Size: int64(len(layerBlob.data))}},
	})
	if err != nil {
		return err
	}
	tag := img.Name
	if i := lastColonAfterSlash(tag); i >= 0 {
		tag = tag[i+1:]
	}
	index, err := json.Marshal(map[string]any{
		"schemaVersion": 2,
		"mediaType":     mediaIndex,
		"manifests": []descriptor{{
			MediaType:   mediaManifest,
			Digest:      manifestBlob.digest,
			Size:        int64(len(manifestBlob.data)),
			Annotations: map[string]string{annotationImageName: img.Name, annotationRefName: tag},
			Platform:    &platform{Architecture: runtime.GOARCH, OS: "linux"},
		}},
	})
	if err != nil {
		return fmt.Errorf("encode index: %w", err)
	}

	tw := tar.NewWriter(w)
	entries := []struct {
		name string
		data []byte
	}{
		{"oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`)},
		{"index.json", index},
	}
	for _, b := range []blob{layerBlob, configBlob, manifestBlob} {
		entries = append(entries, struct {
			name string
			data []byte
		}{"blobs/sha256/" + b.digest[len("sha256:"):], b.data})
	}
	if err := tw.WriteHeader(&tar.Header{Name: "blobs/", Typeflag: tar.TypeDir, Mode: 0o755, ModTime: time.Unix(0, 0)}); err != nil {
		return fmt.Errorf("write archive: %w", err)
	}
	if err := tw.WriteHeader(&tar.Header{Name: "blobs/sha256/", Typeflag: tar.TypeDir, Mode: 0o755, ModTime: time.Unix(0, 0)}); err != nil {
		return fmt.Errorf("write archive: %w", err)
	}
	for _, e := range entries {
		if err := tw.WriteHeader(&tar.Header{Name: e.name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(e.data)), ModTime: time.Unix(0, 0)}); err != nil {
			return fmt.Errorf("write archive %s: %w", e.name, err)
		}
		if _, err := tw.Write(e.data); err != nil {
			return fmt.Errorf("write archive %s: %w", e.name, err)
		}
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("write archive: %w", err)
	}
	return nil
}

func lastColonAfterSlash(ref string) int {
	for i := len(ref) - 1; i >= 0; i-- {
		switch ref[i] {
		case ':':
			return i
		case '/':
			return -1
		}
	}
	return -1
}

func jsonBlob(v any) (blob, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return blob{}, fmt.Errorf("encode: %w", err)
	}
	return newBlob(b), nil
}

func imageConfig(c Config, diffID string) map[string]any {
	env := c.Env
	if len(env) == 0 {
		env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	}
	cfg := map[string]any{"Env": env}
	if len(c.Entrypoint) > 0 {
		cfg["Entrypoint"] = c.Entrypoint
	}
	if len(c.Cmd) > 0 {
		cfg["Cmd"] = c.Cmd
	}
	if c.WorkingDir != "" {
		cfg["WorkingDir"] = c.WorkingDir
	}
	if c.User != "" {
		cfg["User"] = c.User
	}
	if c.StopSignal != "" {
		cfg["StopSignal"] = c.StopSignal
	}
	if len(c.Labels) > 0 {
		cfg["Labels"] = c.Labels
	}
	if len(c.ExposedPorts) > 0 {
		ports := map[string]struct{}{}
		for _, p := range c.ExposedPorts {
			ports[p] = struct{}{}
		}
		cfg["ExposedPorts"] = ports
	}
	return map[string]any{
		"architecture": runtime.GOARCH,
		"os":           "linux",
		"config":       cfg,
		"rootfs":       map[string]any{"type": "layers", "diff_ids": []string{diffID}},
	}
}

// layer writes the files as an uncompressed tar, with the parent dirs they
// need plus /etc and a world-writable /tmp, which most programs expect.
func layer(files []File) ([]byte, error) {
	dirs := map[string]int64{"etc": 0o755, "tmp": 0o1777}
	regular := map[string]File{}
	for _, f := range files {
		p := trimSlash(f.Path)
		if p == "" {
			return nil, fmt.Errorf("file path %q: empty", f.Path)
		}
		regular[p] = f
		for d := parent(p); d != ""; d = parent(d) {
			if _, ok := dirs[d]; !ok {
				dirs[d] = 0o755
			}
		}
	}
	var names []string
	for d := range dirs {
		names = append(names, d+"/")
	}
	for p := range regular {
		names = append(names, p)
	}
	sort.Strings(names)

	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, n := range names {
		h := &tar.Header{Name: n, ModTime: time.Unix(0, 0), Format: tar.FormatPAX}
		if d, ok := dirs[trimSlash(n)]; ok && n[len(n)-1] == '/' {
			h.Typeflag, h.Mode = tar.TypeDir, d
		} else {
			f := regular[n]
			h.Typeflag, h.Mode, h.Size = tar.TypeReg, f.Mode, int64(len(f.Data))
			if h.Mode == 0 {
				h.Mode = 0o644
			}
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if h.Typeflag == tar.TypeReg {
			if _, err := tw.Write(regular[n].Data); err != nil {
				return nil, err
			}
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func trimSlash(p string) string {
	for len(p) > 0 && p[0] == '/' {
		p = p[1:]
	}
	for len(p) > 0 && p[len(p)-1] == '/' {
		p = p[:len(p)-1]
	}
	return p
}

func parent(p string) string {
	for i := len(p) - 1; i >= 0; i-- {
		if p[i] == '/' {
			return p[:i]
		}
	}
	return ""
}
