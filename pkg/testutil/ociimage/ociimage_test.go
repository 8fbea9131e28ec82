package ociimage

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"testing"
)

func readTar(t *testing.T, b []byte) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("read tar: %v", err)
		}
		data, _ := io.ReadAll(tr)
		out[h.Name] = data
	}
}

func TestWriteLayout(t *testing.T) {
	var a, b bytes.Buffer
	img := Image{Name: "apphost.test/x:v1", Files: []File{{Path: "/bin/x", Mode: 0o755, Data: []byte("hi")}},
		Config: Config{Entrypoint: []string{"/bin/x"}, ExposedPorts: []string{"80/tcp"}, StopSignal: "SIGINT"}}
	if err := Write(&a, img); err != nil {
		t.Fatal(err)
	}
	if err := Write(&b, img); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Error("output is not deterministic")
	}
	files := readTar(t, a.Bytes())
	if string(files["oci-layout"]) != `{"imageLayoutVersion":"1.0.0"}` {
		t.Errorf("oci-layout = %q", files["oci-layout"])
	}
	// Every blob's name is its digest.
	for name, data := range files {
		if len(name) > len("blobs/sha256/") && name[:len("blobs/sha256/")] == "blobs/sha256/" {
			sum := sha256.Sum256(data)
			if got := hex.EncodeToString(sum[:]); got != name[len("blobs/sha256/"):] {
				t.Errorf("blob %s has digest %s", name, got)
			}
		}
	}
	var index struct {
		Manifests []descriptor `json:"manifests"`
	}
	if err := json.Unmarshal(files["index.json"], &index); err != nil {
		t.Fatal(err)
	}
	if len(index.Manifests) != 1 || index.Manifests[0].Annotations[annotationImageName] != img.Name ||
		index.Manifests[0].Annotations[annotationRefName] != "v1" {
		t.Fatalf("index = %+v", index)
	}
	var manifest struct {
		Config descriptor   `json:"config"`
		Layers []descriptor `json:"layers"`
	}
	if err := json.Unmarshal(files["blobs/"+digestPath(index.Manifests[0].Digest)], &manifest); err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Config struct {
			Entrypoint []string
			StopSignal string
		} `json:"config"`
		RootFS struct {
			DiffIDs []string `json:"diff_ids"`
		} `json:"rootfs"`
	}
	if err := json.Unmarshal(files["blobs/"+digestPath(manifest.Config.Digest)], &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.Config.StopSignal != "SIGINT" || len(cfg.Config.Entrypoint) != 1 {
		t.Errorf("config = %+v", cfg.Config)
	}
	zr, err := gzip.NewReader(bytes.NewReader(files["blobs/"+digestPath(manifest.Layers[0].Digest)]))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(zr)
	sum := sha256.Sum256(raw)
	if len(cfg.RootFS.DiffIDs) != 1 || cfg.RootFS.DiffIDs[0] != "sha256:"+hex.EncodeToString(sum[:]) {
		t.Errorf("diff_ids %v do not match the layer", cfg.RootFS.DiffIDs)
	}
	layer := readTar(t, raw)
	if string(layer["bin/x"]) != "hi" {
		t.Errorf("layer bin/x = %q; entries %v", layer["bin/x"], keys(layer))
	}
	if _, ok := layer["tmp/"]; !ok {
		t.Errorf("layer lacks tmp/: %v", keys(layer))
	}
}

func TestWriteRejectsEmptyPath(t *testing.T) {
	if err := Write(io.Discard, Image{Name: "a:b", Files: []File{{Path: "/"}}}); err == nil {
		t.Error("want error for empty path")
	}
}

func TestTestServerBuilds(t *testing.T) {
	files := readTar(t, TestServer(t))
	if _, ok := files["index.json"]; !ok {
		t.Fatal("no index.json")
	}
}

func digestPath(d string) string { return "sha256/" + d[len("sha256:"):] }

func keys(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
