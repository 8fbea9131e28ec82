package api

import (
	"errors"
	"io"
	"net/http"
	"runtime/debug"
	"sort"
	"strconv"

	"go.uber.org/zap"
)

// routes is the whole /v1 surface; docs/api.md documents each entry.
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	get := func(h handlerFunc) map[string]handlerFunc { return map[string]handlerFunc{http.MethodGet: h} }
	post := func(h handlerFunc) map[string]handlerFunc { return map[string]handlerFunc{http.MethodPost: h} }
	handle := func(pattern string, m map[string]handlerFunc) { mux.Handle(pattern, s.methods(m)) }

	handle("/v1/info", get(s.getInfo))
	handle("/v1/resources", get(s.getResources))
	handle("/v1/resources/{name}", get(s.getResource))
	handle("/v1/resources/{name}/start", post(s.action("start", Backend.Start)))
	handle("/v1/resources/{name}/stop", post(s.action("stop", Backend.Stop)))
	handle("/v1/resources/{name}/restart", post(s.action("restart", Backend.Restart)))
	handle("/v1/resources/{name}/rerun", post(s.action("rerun", Backend.Rerun)))
	handle("/v1/up", post(s.postUp))
	handle("/v1/events", get(s.getEvents))
	handle("/v1/logs", get(s.getLogs))
	handle("/v1/reload", post(s.postReload))
	handle("/v1/config", get(s.getConfig))
	handle("/v1/graph", get(s.getGraph))
	handle("/v1/env", get(s.getEnv))
	handle("/v1/shutdown", post(s.postShutdown))
	mux.Handle("/", s.serve(func(w http.ResponseWriter, r *http.Request) error {
		return &APIError{Status: http.StatusNotFound, Code: "not_found", Message: "no route " + r.Method + " " + r.URL.Path}
	}))
	return s.guard(mux)
}

// guard applies what holds for every request: panics become a 500 JSON error
// (the panic value goes to the daemon log only), and a request body over
// MaxBodyBytes is refused with 413 before any handler runs. No v1 route
// reads a body, so the body is drained here.
func (s *Server) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rw := &respWriter{ResponseWriter: w}
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.Error("api handler panic", zap.String("path", r.URL.Path), zap.Any("panic", v), zap.ByteString("stack", debug.Stack()))
				s.renderError(rw, r, errors.New("internal error"))
			}
		}()
		if err := s.drainBody(rw, r); err != nil {
			rw.Header().Set("Connection", "close")
			s.renderError(rw, r, err)
			return
		}
		next.ServeHTTP(rw, r)
		s.log.Debug("api request", zap.String("method", r.Method), zap.String("path", r.URL.Path), zap.Int("status", rw.status))
	})
}

func (s *Server) drainBody(w http.ResponseWriter, r *http.Request) error {
	max := s.limits.MaxBodyBytes
	if r.ContentLength > max {
		return &APIError{Status: http.StatusRequestEntityTooLarge, Code: "too_large",
			Message: "request body of " + strconv.FormatInt(r.ContentLength, 10) + " bytes exceeds the limit of " + strconv.FormatInt(max, 10)}
	}
	if r.Body == nil || r.Body == http.NoBody {
		return nil
	}
	r.Body = http.MaxBytesReader(w, r.Body, max)
	if _, err := io.Copy(io.Discard, r.Body); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return &APIError{Status: http.StatusRequestEntityTooLarge, Code: "too_large",
				Message: "request body exceeds the limit of " + strconv.FormatInt(max, 10) + " bytes"}
		}
		return &APIError{Status: http.StatusBadRequest, Code: "bad_request", Message: "read request body: " + err.Error()}
	}
	return nil
}

func sortedStrings(s []string) []string {
	sort.Strings(s)
	return s
}
