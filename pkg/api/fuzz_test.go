package api

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzRequest throws arbitrary methods, paths and queries at the router:
// nothing may panic the process or produce a 5xx, and every error is the
// JSON error shape.
func FuzzRequest(f *testing.F) {
	for _, s := range []struct{ m, target string }{
		{"GET", "/v1/info"}, {"GET", "/v1/logs?tail=abc"}, {"GET", "/v1/logs?resource=%zz"},
		{"POST", "/v1/resources/api/stop?timeout=1ms"}, {"GET", "/v1/graph?format=dot&format=json"},
		{"DELETE", "/v1/resources/x"}, {"GET", "/v1/resources/%2e%2e"}, {"PUT", "/v1/../v1/info"},
		{"GET", "/v1/env?resource=nope"}, {"GET", "/v1/config?x=%"},
	} {
		f.Add(s.m, s.target)
	}
	srv := NewServer(newFake(), nil)
	h := srv.routes()
	f.Fuzz(func(t *testing.T, method, target string) {
		if !validMethod(method) || !strings.HasPrefix(target, "/") || strings.ContainsAny(target, " \r\n\x00#") {
			return
		}
		// Keep the fuzzer off the routes that block or act for real.
		if strings.Contains(target, "events") || strings.Contains(target, "follow") ||
			strings.Contains(target, "shutdown") || strings.Contains(target, "panic") {
			return
		}
		req, err := http.NewRequest(method, "http://apphostd"+target, nil)
		if err != nil {
			return
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %s: %d %s", method, target, rec.Code, rec.Body)
		}
		if rec.Code >= 400 && rec.Code != http.StatusMovedPermanently {
			var eb errorBody
			if err := json.Unmarshal(rec.Body.Bytes(), &eb); err != nil || eb.Error == nil || eb.Error.Code == "" {
				t.Fatalf("%s %s: %d with non-JSON error body %q", method, target, rec.Code, rec.Body)
			}
		}
	})
}

func validMethod(m string) bool {
	if m == "" || len(m) > 16 {
		return false
	}
	for _, c := range m {
		if c < 'A' || c > 'Z' {
			return false
		}
	}
	return true
}
