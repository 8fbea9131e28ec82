package api

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/apphostd/apphostd/pkg/status"
)

// baseURL is the URL every request is addressed to; the host part is a
// placeholder, the transport always dials the socket.
const baseURL = "http://apphostd"

// maxResponseBody bounds a non-streaming response the client will read.
const maxResponseBody = 64 << 20

// maxStreamLine bounds one NDJSON line (a resource event, a log line).
const maxStreamLine = 4 << 20

// ErrStreamEnded is returned by Events and Logs (with follow) when the
// daemon ends the stream while the caller still wanted more: the daemon
// shut down, or the caller fell too far behind the event stream.
var ErrStreamEnded = errors.New("stream ended by the daemon")

// Client talks to one daemon over its Unix socket. It is safe for
// concurrent use. Dialing is lazy: Dial never fails; the first call does
// (see IsNoDaemon).
type Client struct {
	socket string
	hc     *http.Client
}

// Dial returns a client for the daemon listening on socketPath.
func Dial(socketPath string) *Client {
	d := &net.Dialer{Timeout: 2 * time.Second}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return d.DialContext(ctx, "unix", socketPath)
		},
		MaxIdleConns:          4,
		IdleConnTimeout:       30 * time.Second,
		ResponseHeaderTimeout: 0, // streams and long stops answer late; callers bound calls by ctx
		DisableCompression:    true,
	}
	return &Client{socket: socketPath, hc: &http.Client{Transport: tr}}
}

// Socket is the path this client dials.
func (c *Client) Socket() string { return c.socket }

// Close releases idle connections.
func (c *Client) Close() { c.hc.CloseIdleConnections() }

// IsNoDaemon reports whether err means nobody is listening: the socket file
// is missing, or it exists but nothing accepts on it (a dead daemon's
// leftover).
func IsNoDaemon(err error) bool {
	var op *net.OpError
	if !errors.As(err, &op) || op.Op != "dial" {
		return false
	}
	return errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ENOENT)
}

// Info describes the daemon.
func (c *Client) Info(ctx context.Context) (Info, error) {
	var v Info
	return v, c.getJSON(ctx, "/v1/info", nil, &v)
}

// Resources lists all resources sorted by name (no env).
func (c *Client) Resources(ctx context.Context) ([]status.Resource, error) {
	var v []status.Resource
	return v, c.getJSON(ctx, "/v1/resources", nil, &v)
}

// Resource describes one resource, env masked.
func (c *Client) Resource(ctx context.Context, name string) (status.Resource, error) {
	var v status.Resource
	return v, c.getJSON(ctx, "/v1/resources/"+url.PathEscape(name), nil, &v)
}

// Config returns the status of the last config load.
func (c *Client) Config(ctx context.Context) (status.ConfigStatus, error) {
	var v status.ConfigStatus
	return v, c.getJSON(ctx, "/v1/config", nil, &v)
}

// Env returns the environment a consumer of the named resources (all if
// none) receives, with real secret values.
func (c *Client) Env(ctx context.Context, resources ...string) (map[string]string, error) {
	var v map[string]string
	return v, c.getJSON(ctx, "/v1/env", url.Values{"resource": resources}, &v)
}

// Graph returns the graph rendered as format (json, dot, mermaid) and its
// content type.
func (c *Client) Graph(ctx context.Context, format string) ([]byte, string, error) {
	resp, err := c.do(ctx, http.MethodGet, "/v1/graph", url.Values{"format": {format}})
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBody))
	if err != nil {
		return nil, "", fmt.Errorf("read graph: %w", err)
	}
	return body, resp.Header.Get("Content-Type"), nil
}

// Start starts a resource and returns it once started (or the daemon's
// timeout error). timeout 0 uses the daemon's default.
func (c *Client) Start(ctx context.Context, name string, timeout time.Duration) (status.Resource, error) {
	return c.action(ctx, "start", name, timeout)
}

// Stop stops a resource; see Start.
func (c *Client) Stop(ctx context.Context, name string, timeout time.Duration) (status.Resource, error) {
	return c.action(ctx, "stop", name, timeout)
}

// Restart restarts a resource; see Start.
func (c *Client) Restart(ctx context.Context, name string, timeout time.Duration) (status.Resource, error) {
	return c.action(ctx, "restart", name, timeout)
}

// Rerun runs a job again, ignoring its run = "once" record; see Start.
func (c *Client) Rerun(ctx context.Context, name string, timeout time.Duration) (status.Resource, error) {
	return c.action(ctx, "rerun", name, timeout)
}

// Up asks a running daemon to also run the named resources (and what
// they need) with the given profiles active; no names: the whole project.
// It returns once the daemon has accepted, not once they are ready.
func (c *Client) Up(ctx context.Context, names, profiles []string) error {
	resp, err := c.do(ctx, http.MethodPost, "/v1/up", url.Values{"resource": names, "profile": profiles})
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

func (c *Client) action(ctx context.Context, verb, name string, timeout time.Duration) (status.Resource, error) {
	q := url.Values{}
	if timeout > 0 {
		q.Set("timeout", timeout.String())
	}
	var v status.Resource
	resp, err := c.do(ctx, http.MethodPost, "/v1/resources/"+url.PathEscape(name)+"/"+verb, q)
	if err != nil {
		return v, err
	}
	return v, decodeBody(resp, &v)
}

// Reload makes the daemon re-read the project file. When the file has
// errors it returns the ConfigStatus (diagnostics included) together with
// an error for which errors.Is(err, ErrInvalidConfig) holds.
func (c *Client) Reload(ctx context.Context) (status.ConfigStatus, error) {
	var v status.ConfigStatus
	resp, err := c.send(ctx, http.MethodPost, "/v1/reload", nil)
	if err != nil {
		return v, err
	}
	if resp.StatusCode == http.StatusUnprocessableEntity {
		defer resp.Body.Close()
		if err := json.NewDecoder(io.LimitReader(resp.Body, maxResponseBody)).Decode(&v); err != nil {
			return v, fmt.Errorf("reload: decode response: %w", err)
		}
		return v, &APIError{Status: resp.StatusCode, Code: "invalid_config", Message: "the project file has errors"}
	}
	if err := checkStatus(resp); err != nil {
		return v, err
	}
	return v, decodeBody(resp, &v)
}

// Shutdown asks the daemon to shut down; it returns once the daemon has
// accepted, not once it has exited.
func (c *Client) Shutdown(ctx context.Context) error {
	resp, err := c.do(ctx, http.MethodPost, "/v1/shutdown", nil)
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

// Events calls fn for every event: first the snapshot (one "resource"
// event per resource with seq 0, then one "config" event), then live
// events in order. It returns fn's error, ctx's error, or ErrStreamEnded.
func (c *Client) Events(ctx context.Context, fn func(status.Event) error) error {
	return stream(ctx, c, "/v1/events", nil, true, fn)
}

// Logs calls fn for each log line selected by q. Without q.Follow it returns
// nil after the last line; with it, it runs until ctx ends (or the daemon
// goes away: ErrStreamEnded).
func (c *Client) Logs(ctx context.Context, q LogQuery, fn func(LogLine) error) error {
	v := url.Values{"resource": q.Resources, "tail": {strconv.Itoa(q.Tail)}}
	if q.Follow {
		v.Set("follow", "true")
	}
	return stream(ctx, c, "/v1/logs", v, q.Follow, fn)
}

// stream decodes an NDJSON response one value at a time and hands each to
// fn. endless streams report a clean end as ErrStreamEnded; fn's own errors
// come back unchanged.
func stream[T any](ctx context.Context, c *Client, path string, q url.Values, endless bool, fn func(T) error) error {
	resp, err := c.do(ctx, http.MethodGet, path, q)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	dec := json.NewDecoder(bufio.NewReaderSize(&lineLimit{r: resp.Body}, 64<<10))
	for {
		var v T
		if err := dec.Decode(&v); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if errors.Is(err, io.EOF) {
				if endless {
					return ErrStreamEnded
				}
				return nil
			}
			return fmt.Errorf("read %s: %w", path, err)
		}
		if err := fn(v); err != nil {
			return err
		}
	}
}

// lineLimit fails a stream whose current line grows past maxStreamLine, so a
// broken daemon cannot make the client buffer without bound.
type lineLimit struct {
	r   io.Reader
	cur int
}

func (l *lineLimit) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	for _, b := range p[:n] {
		if b == '\n' {
			l.cur = 0
		} else if l.cur++; l.cur > maxStreamLine {
			return 0, fmt.Errorf("stream line longer than %d bytes", maxStreamLine)
		}
	}
	return n, err
}

func (c *Client) getJSON(ctx context.Context, path string, q url.Values, v any) error {
	resp, err := c.do(ctx, http.MethodGet, path, q)
	if err != nil {
		return err
	}
	return decodeBody(resp, v)
}

// send sends a request and returns the response whatever its status.
func (c *Client) send(ctx context.Context, method, path string, q url.Values) (*http.Response, error) {
	u := baseURL + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	return resp, nil
}

// do sends a request and turns a non-2xx answer into an *APIError.
func (c *Client) do(ctx context.Context, method, path string, q url.Values) (*http.Response, error) {
	resp, err := c.send(ctx, method, path, q)
	if err != nil {
		return nil, err
	}
	if err := checkStatus(resp); err != nil {
		return nil, err
	}
	return resp, nil
}

// checkStatus decodes an error response and closes its body.
func checkStatus(resp *http.Response) error {
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var eb errorBody
	if err := json.Unmarshal(raw, &eb); err == nil && eb.Error != nil && eb.Error.Code != "" {
		eb.Error.Status = resp.StatusCode
		return eb.Error
	}
	msg := strings.TrimSpace(string(bytes.ToValidUTF8(raw, nil)))
	if msg == "" {
		msg = http.StatusText(resp.StatusCode)
	}
	return &APIError{Status: resp.StatusCode, Code: codeForStatus(resp.StatusCode), Message: msg}
}

func decodeBody(resp *http.Response, v any) error {
	defer resp.Body.Close()
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxResponseBody)).Decode(v); err != nil {
		return fmt.Errorf("decode %s response: %w", resp.Request.URL.Path, err)
	}
	return nil
}
