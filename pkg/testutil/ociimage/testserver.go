package ociimage

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// TestServerName is the reference the test server image is stored under.
const TestServerName = "apphost.test/testserver:latest"

// TestServerPort is the port the test server listens on unless $PORT says otherwise.
const TestServerPort = 8080

var testServer struct {
	once sync.Once
	tar  []byte
	err  error
}

// TestServer returns the OCI tarball of testdata/images/testserver (see its
// doc for the endpoints): Entrypoint [/server], port 8080/tcp exposed, stop
// signal SIGINT (so tests can tell the image's signal from the SIGTERM
// default). Built once per test binary.
func TestServer(t testing.TB) []byte {
	t.Helper()
	testServer.once.Do(func() {
		root, err := moduleRoot()
		if err != nil {
			testServer.err = err
			return
		}
		bin, err := BuildGo(filepath.Join(root, "testdata", "images", "testserver"))
		if err != nil {
			testServer.err = err
			return
		}
		var buf bytes.Buffer
		testServer.err = Write(&buf, Image{
			Name:  TestServerName,
			Files: []File{{Path: "/server", Mode: 0o755, Data: bin}},
			Config: Config{
				Entrypoint:   []string{"/server"},
				ExposedPorts: []string{fmt.Sprintf("%d/tcp", TestServerPort)},
				StopSignal:   "SIGINT",
				Labels:       map[string]string{"apphost.test": "testserver"},
			},
		})
		testServer.tar = buf.Bytes()
	})
	if testServer.err != nil {
		t.Fatalf("ociimage: build test server image: %v", testServer.err)
	}
	return testServer.tar
}

// BuildGo compiles the main package in dir as a static linux binary
// (CGO_ENABLED=0) and returns its bytes.
func BuildGo(dir string) ([]byte, error) {
	tmp, err := os.MkdirTemp("", "ociimage")
	if err != nil {
		return nil, fmt.Errorf("build %s: %w", dir, err)
	}
	defer os.RemoveAll(tmp)
	out := filepath.Join(tmp, "bin")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", out, ".")
	cmd.Dir = dir
	// -race needs cgo; a GOFLAGS=-race from the environment must not leak in.
	var flags []string
	for _, f := range strings.Fields(os.Getenv("GOFLAGS")) {
		if f != "-race" {
			flags = append(flags, f)
		}
	}
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOFLAGS="+strings.Join(flags, " "))
	if b, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go build %s: %w\n%s", dir, err, b)
	}
	return os.ReadFile(out)
}

// moduleRoot finds the directory holding go.mod, walking up from the
// working directory (a package's dir under go test).
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find module root: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		next := filepath.Dir(dir)
		if next == dir {
			return "", fmt.Errorf("find module root: no go.mod above the working directory")
		}
		dir = next
	}
}
