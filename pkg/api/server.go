package api

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"go.uber.org/zap"
)

// Limits bound what one client can cost the daemon. Defaults come from
// DefaultLimits; tests shorten them with WithLimits.
type Limits struct {
	// ReadHeaderTimeout cuts off a client that does not finish its request
	// headers in time (slow loris): the connection is closed unanswered.
	ReadHeaderTimeout time.Duration
	// ReadTimeout bounds reading a whole request, headers and body.
	ReadTimeout time.Duration
	// WriteTimeout bounds a non-streaming response, measured from the end
	// of the request headers. Streams (events, logs) and start/stop/restart
	// set their own deadlines per request instead.
	WriteTimeout time.Duration
	// StreamWriteTimeout bounds each single write of a stream, so a client
	// that stops reading is dropped instead of pinning a goroutine.
	StreamWriteTimeout time.Duration
	// IdleTimeout closes keep-alive connections with no request.
	IdleTimeout time.Duration
	// MaxHeaderBytes limits request line plus headers.
	MaxHeaderBytes int
	// MaxBodyBytes limits a request body; more is refused with 413.
	MaxBodyBytes int64
	// DefaultActionTimeout applies to start/stop/restart without ?timeout;
	// MaxActionTimeout caps ?timeout.
	DefaultActionTimeout time.Duration
	MaxActionTimeout     time.Duration
}

// DefaultLimits returns the limits documented in docs/api.md.
func DefaultLimits() Limits {
	return Limits{
		ReadHeaderTimeout:    2 * time.Second,
		ReadTimeout:          10 * time.Second,
		WriteTimeout:         30 * time.Second,
		StreamWriteTimeout:   30 * time.Second,
		IdleTimeout:          60 * time.Second,
		MaxHeaderBytes:       64 << 10,
		MaxBodyBytes:         1 << 20,
		DefaultActionTimeout: 60 * time.Second,
		MaxActionTimeout:     30 * time.Minute,
	}
}

// Option configures a Server.
type Option func(*Server)

// WithLimits replaces the default limits.
func WithLimits(l Limits) Option { return func(s *Server) { s.limits = l } }

// Server serves a Backend over HTTP/1.1 + JSON.
//
// Lifecycle: NewServer, then Serve (once) on a listener from Listen, then
// Shutdown from any goroutine. Shutdown first ends every open stream
// (events, logs -f), then waits for other requests to finish until its ctx
// ends, then closes whatever is left. The Server never closes the Backend.
type Server struct {
	b      Backend
	log    *zap.Logger
	limits Limits
	self   uint32 // uid allowed besides root
	// allowPeer overrides the peer rule; tests only.
	allowPeer func(uid uint32) bool
	srv       *http.Server

	// streams is cancelled by Shutdown; every streaming handler watches it
	// so http.Server.Shutdown does not wait forever for a stream to idle.
	streams    context.Context
	stopStream context.CancelFunc
	closeOnce  sync.Once
}

// NewServer returns a server for b. log may be nil.
func NewServer(b Backend, log *zap.Logger, opts ...Option) *Server {
	if log == nil {
		log = zap.NewNop()
	}
	s := &Server{b: b, log: log.Named("api"), limits: DefaultLimits(), self: uint32(os.Geteuid())}
	for _, o := range opts {
		o(s)
	}
	s.streams, s.stopStream = context.WithCancel(context.Background())
	s.srv = &http.Server{
		Handler:           s.routes(),
		ReadHeaderTimeout: s.limits.ReadHeaderTimeout,
		ReadTimeout:       s.limits.ReadTimeout,
		WriteTimeout:      s.limits.WriteTimeout,
		IdleTimeout:       s.limits.IdleTimeout,
		MaxHeaderBytes:    s.limits.MaxHeaderBytes,
		ErrorLog:          zap.NewStdLog(s.log.Named("http")),
	}
	return s
}

// Serve accepts connections on ln until Shutdown. Every connection's peer is
// checked with SO_PEERCRED first (see peerAllowed); others are closed
// unread. It returns nil after Shutdown, and ln is closed when it returns.
func (s *Server) Serve(ln net.Listener) error {
	allow := s.allowPeer
	if allow == nil {
		allow = func(uid uint32) bool { return peerAllowed(uid, s.self) }
	}
	err := s.srv.Serve(&peerCredListener{Listener: ln, allow: allow, log: s.log})
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Shutdown ends streams, then stops the server gracefully until ctx ends,
// then forcibly.
func (s *Server) Shutdown(ctx context.Context) error {
	s.stopStream()
	err := s.srv.Shutdown(ctx)
	if err != nil {
		s.closeOnce.Do(func() { s.srv.Close() })
	}
	return err
}
