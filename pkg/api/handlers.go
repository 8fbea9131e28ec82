package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/apphostd/apphostd/pkg/status"
)

func (s *Server) getInfo(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, s.b.Info())
	return nil
}

// getResources lists every resource, sorted by name, without env.
func (s *Server) getResources(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, s.b.Store().List())
	return nil
}

// getResource is one resource as Describe gives it (env masked by the
// backend).
func (s *Server) getResource(w http.ResponseWriter, r *http.Request) error {
	res, err := s.b.Describe(r.PathValue("name"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

// action serves start/stop/restart: it runs fn under ?timeout and answers
// with the resource as it is afterwards. The connection's write deadline is
// moved past the action's timeout so a long stop is not cut off by
// WriteTimeout.
func (s *Server) action(verb string, fn func(Backend, context.Context, string) error) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		name := r.PathValue("name")
		q, err := query(r.URL.RawQuery)
		if err != nil {
			return err
		}
		d, err := durationParam(q, "timeout", s.limits.DefaultActionTimeout, s.limits.MaxActionTimeout)
		if err != nil {
			return err
		}
		_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(d + s.limits.WriteTimeout))
		ctx, cancel := context.WithTimeout(r.Context(), d)
		defer cancel()
		if err := fn(s.b, ctx, name); err != nil {
			if errors.Is(ctx.Err(), context.DeadlineExceeded) && r.Context().Err() == nil && !errors.Is(err, ErrNotFound) {
				// Say where it got to: the state and reason it is stuck in.
				where := ""
				if res, derr := s.b.Describe(name); derr == nil {
					where = fmt.Sprintf(" (%s is %s", name, res.State)
					if res.Reason != "" {
						where += ": " + res.Reason
					}
					where += ")"
				}
				return fmt.Errorf("%s %s: not done after %s%s: %w", verb, name, d, where, ErrTimeout)
			}
			return fmt.Errorf("%s %s: %w", verb, name, err)
		}
		res, err := s.b.Describe(name)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, res)
		return nil
	}
}

// postUp widens the daemon's selection: ?resource=NAME (repeatable) and
// ?profile=P (repeatable). It answers 202 at once; readiness comes
// through /v1/events.
func (s *Server) postUp(w http.ResponseWriter, r *http.Request) error {
	q, err := query(r.URL.RawQuery)
	if err != nil {
		return err
	}
	if err := s.b.Up(r.Context(), q["resource"], q["profile"]); err != nil {
		return fmt.Errorf("up: %w", err)
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"status": "accepted", "resources": nonNil(q["resource"]), "profiles": nonNil(q["profile"])})
	return nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// postReload answers 200 with the ConfigStatus of a good load, 422 with the
// same shape (diagnostics included) when the file has errors.
func (s *Server) postReload(w http.ResponseWriter, r *http.Request) error {
	cs, err := s.b.Reload(r.Context())
	if err != nil {
		return fmt.Errorf("reload: %w", err)
	}
	code := http.StatusOK
	if !cs.OK {
		code = http.StatusUnprocessableEntity
	}
	writeJSON(w, code, cs)
	return nil
}

func (s *Server) getConfig(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, s.b.Store().Config())
	return nil
}

// graphTypes are the formats /v1/graph accepts and their content types,
// used when the backend names none.
var graphTypes = map[string]string{
	"json":    "application/json",
	"dot":     "text/vnd.graphviz; charset=utf-8",
	"mermaid": "text/plain; charset=utf-8",
}

func (s *Server) getGraph(w http.ResponseWriter, r *http.Request) error {
	q, err := query(r.URL.RawQuery)
	if err != nil {
		return err
	}
	format, err := single(q, "format")
	if err != nil {
		return err
	}
	if format == "" {
		format = "json"
	}
	ctype, ok := graphTypes[format]
	if !ok {
		return badRequest("format=%q: want json, dot or mermaid", format)
	}
	body, bt, err := s.b.Graph(format)
	if err != nil {
		return fmt.Errorf("graph: %w", err)
	}
	if bt != "" {
		ctype = bt
	}
	w.Header().Set("Content-Type", ctype)
	w.WriteHeader(http.StatusOK)
	w.Write(body)
	return nil
}

// getEnv returns real secret values by design (for `apphostd env` and
// `run`); only the socket's owner and root can reach it.
func (s *Server) getEnv(w http.ResponseWriter, r *http.Request) error {
	q, err := query(r.URL.RawQuery)
	if err != nil {
		return err
	}
	env, err := s.b.Env(q["resource"])
	if err != nil {
		return fmt.Errorf("env: %w", err)
	}
	if env == nil {
		env = map[string]string{}
	}
	writeJSON(w, http.StatusOK, env)
	return nil
}

// postShutdown answers 202 first, then asks the backend to shut down, so
// the answer is on the wire before the daemon starts tearing down.
func (s *Server) postShutdown(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusAccepted, map[string]string{"status": "shutting_down"})
	_ = http.NewResponseController(w).Flush()
	s.b.Shutdown()
	return nil
}

// stripEnv returns e with any resource env removed: events are list-shaped
// and, like List, never carry env. e.Resource is shared between
// subscribers, so it is copied, never mutated.
func stripEnv(e status.Event) status.Event {
	if e.Resource != nil && e.Resource.Env != nil {
		c := *e.Resource
		c.Env = nil
		e.Resource = &c
	}
	return e
}
