package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"go.uber.org/zap"
)

// handlerFunc is an API handler: it writes a success response itself and
// returns any failure for renderError to write. A handler that has already
// started its response (a stream) may still return an error; it is then
// logged, since the status line is gone.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// respWriter remembers whether the response has started, so renderError
// never writes a second status line. Unwrap keeps http.ResponseController
// (deadlines, Flush) working through it.
type respWriter struct {
	http.ResponseWriter
	wrote  bool
	status int
}

func (w *respWriter) WriteHeader(code int) {
	if !w.wrote {
		w.wrote, w.status = true, code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *respWriter) Write(p []byte) (int, error) {
	if !w.wrote {
		w.wrote, w.status = true, http.StatusOK
	}
	return w.ResponseWriter.Write(p)
}

func (w *respWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// serve runs h and renders its error. It is the only place an error becomes
// an HTTP response.
func (s *Server) serve(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rw, ok := w.(*respWriter)
		if !ok {
			rw = &respWriter{ResponseWriter: w}
		}
		if err := h(rw, r); err != nil {
			s.renderError(rw, r, err)
		}
	})
}

// renderError writes err as {"error": {"code": ..., "message": ...}} with the
// status its class maps to (see errorCodes).
func (s *Server) renderError(w *respWriter, r *http.Request, err error) {
	ae := toAPIError(err)
	if w.wrote {
		s.log.Warn("error after response started", zap.String("method", r.Method), zap.String("path", r.URL.Path), zap.Error(err))
		return
	}
	if errors.Is(r.Context().Err(), context.Canceled) && errors.Is(err, context.Canceled) {
		// The client went away; nobody is left to read an answer.
		s.log.Debug("client gone", zap.String("path", r.URL.Path))
		return
	}
	if ae.Status >= 500 {
		s.log.Warn("api request failed", zap.String("method", r.Method), zap.String("path", r.URL.Path), zap.Int("status", ae.Status), zap.Error(err))
	}
	writeJSON(w, ae.Status, errorBody{Error: ae})
}

// writeJSON encodes v before writing anything, so an encoding failure is
// still a clean 500 rather than half a body.
func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		body, _ = json.Marshal(errorBody{Error: &APIError{Code: "internal", Message: "encode response: " + err.Error()}})
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(append(body, '\n'))
}

// methods dispatches on the request method; any other method is 405 with an
// Allow header naming the ones that exist.
func (s *Server) methods(m map[string]handlerFunc) http.Handler {
	allow := make([]string, 0, len(m))
	for k := range m {
		allow = append(allow, k)
	}
	allowed := strings.Join(sortedStrings(allow), ", ")
	return s.serve(func(w http.ResponseWriter, r *http.Request) error {
		h, ok := m[r.Method]
		if !ok {
			w.Header().Set("Allow", allowed)
			return &APIError{Status: http.StatusMethodNotAllowed, Code: "method_not_allowed",
				Message: r.Method + " " + r.URL.Path + ": method not allowed (allowed: " + allowed + ")"}
		}
		return h(w, r)
	})
}
