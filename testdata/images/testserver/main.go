// Command testserver is the single binary of the container image the
// containerd driver tests build and import (see pkg/testutil/ociimage).
//
// It listens on 0.0.0.0:$PORT (default 8080) and serves:
//
//	/healthz              200 "ok"
//	/env                  its environment as a JSON object
//	/get?url=U            fetches U and relays status and body (reachability tests)
//	/file?path=P          the contents of file P
//	/write?path=P&data=D  writes D to P (parents created)
//	/bytes?n=N            N bytes (throughput tests)
//	/exit?code=N          exits with code N after answering
//
// On SIGTERM or SIGINT it prints "signal: NAME" and exits 0, unless
// IGNORE_SIGNALS=1, in which case it prints the line and keeps running (to
// test escalation to SIGKILL).
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") })
	mux.HandleFunc("/env", handleEnv)
	mux.HandleFunc("/get", handleGet)
	mux.HandleFunc("/file", handleFile)
	mux.HandleFunc("/write", handleWrite)
	mux.HandleFunc("/bytes", handleBytes)
	mux.HandleFunc("/exit", handleExit)

	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		for s := range sigs {
			fmt.Printf("signal: %s\n", s)
			if os.Getenv("IGNORE_SIGNALS") != "1" {
				os.Exit(0)
			}
		}
	}()

	fmt.Printf("listening on 0.0.0.0:%s args=%q\n", port, os.Args[1:])
	srv := &http.Server{Addr: "0.0.0.0:" + port, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	if err := srv.ListenAndServe(); err != nil {
		fmt.Fprintf(os.Stderr, "serve: %v\n", err)
		os.Exit(1)
	}
}

func handleEnv(w http.ResponseWriter, _ *http.Request) {
	env := map[string]string{}
	for _, kv := range os.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(env)
}

func handleGet(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.URL.Query().Get("url"), nil)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	w.WriteHeader(resp.StatusCode)
	io.Copy(w, resp.Body)
}

func handleFile(w http.ResponseWriter, r *http.Request) {
	b, err := os.ReadFile(r.URL.Query().Get("path"))
	if err != nil {
		http.Error(w, err.Error(), http.StatusNotFound)
		return
	}
	w.Write(b)
}

func handleWrite(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Query().Get("path")
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	if err := os.WriteFile(p, []byte(r.URL.Query().Get("data")), 0o644); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	io.WriteString(w, "ok")
}

var chunk = []byte(strings.Repeat("x", 32*1024))

func handleBytes(w http.ResponseWriter, r *http.Request) {
	n, err := strconv.Atoi(r.URL.Query().Get("n"))
	if err != nil || n < 0 {
		http.Error(w, "bad n", http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Length", strconv.Itoa(n))
	for n > 0 {
		c := chunk
		if n < len(c) {
			c = c[:n]
		}
		if _, err := w.Write(c); err != nil {
			return
		}
		n -= len(c)
	}
}

func handleExit(w http.ResponseWriter, r *http.Request) {
	code, _ := strconv.Atoi(r.URL.Query().Get("code"))
	io.WriteString(w, "bye")
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
	go func() { time.Sleep(50 * time.Millisecond); os.Exit(code) }()
}
