package api

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/apphostd/apphostd/pkg/status"
	"go.uber.org/zap"
)

// eventBuffer is how far an events client may fall behind before the store
// drops it (its stream then ends and it must reconnect).
const eventBuffer = 1024

// ndjson writes a stream of JSON lines. The response starts lazily on the
// first line (or commit), so a handler can still fail with a proper error
// status before it. Each write gets its own deadline (StreamWriteTimeout):
// the connection-wide WriteTimeout is cleared, so a quiet stream lives as
// long as the client, but a client that stops reading is dropped.
type ndjson struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	enc     *json.Encoder
	timeout time.Duration
	started bool
}

func (s *Server) newNDJSON(w http.ResponseWriter) *ndjson {
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Time{})
	return &ndjson{w: w, rc: rc, enc: json.NewEncoder(w), timeout: s.limits.StreamWriteTimeout}
}

func (n *ndjson) commit() {
	if n.started {
		return
	}
	n.started = true
	h := n.w.Header()
	h.Set("Content-Type", "application/x-ndjson")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	n.w.WriteHeader(http.StatusOK)
}

// send writes one line and flushes it.
func (n *ndjson) send(v any) error {
	n.commit()
	_ = n.rc.SetWriteDeadline(time.Now().Add(n.timeout))
	if err := n.enc.Encode(v); err != nil {
		return err
	}
	return n.rc.Flush()
}

// streamContext ends when the client goes away or the server shuts down.
func (s *Server) streamContext(r *http.Request) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(r.Context())
	stop := context.AfterFunc(s.streams, cancel)
	return ctx, func() { stop(); cancel() }
}

// getEvents streams the store: first the snapshot, as one "resource" event
// per resource (seq 0) and then one "config" event that marks the end of the
// snapshot, then every live event in store order. It ends when the client
// goes away, the server shuts down, or the store drops this subscriber for
// falling behind.
func (s *Server) getEvents(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := s.streamContext(r)
	defer cancel()
	snap, cfg, ch, unsubscribe := s.b.Store().Subscribe(eventBuffer)
	defer unsubscribe()

	out := s.newNDJSON(w)
	now := time.Now()
	for i := range snap {
		if err := out.send(stripEnv(status.Event{Time: now, Type: status.EventResource, Resource: &snap[i]})); err != nil {
			return nil
		}
	}
	if err := out.send(status.Event{Time: now, Type: status.EventConfig, Config: &cfg}); err != nil {
		return nil
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case e, ok := <-ch:
			if !ok {
				s.log.Info("events client fell behind; stream ended")
				return nil
			}
			if err := out.send(stripEnv(e)); err != nil {
				s.log.Debug("events client write failed", zap.Error(err))
				return nil
			}
		}
	}
}

// getLogs streams LogLines: ?resource= (repeatable; none = all), ?tail=N or
// all (default all kept), ?follow=true.
func (s *Server) getLogs(w http.ResponseWriter, r *http.Request) error {
	q, err := query(r.URL.RawQuery)
	if err != nil {
		return err
	}
	lq := LogQuery{Resources: q["resource"]}
	if lq.Tail, err = tailParam(q, -1); err != nil {
		return err
	}
	if lq.Follow, err = boolParam(q, "follow", false); err != nil {
		return err
	}
	ctx, cancel := s.streamContext(r)
	defer cancel()
	out := s.newNDJSON(w)
	err = s.b.Logs(ctx, lq, func(l LogLine) error { return out.send(l) })
	if err != nil && ctx.Err() == nil {
		return err // before the first line: a real status; after: logged
	}
	if !out.started {
		out.commit()
	}
	return nil
}
