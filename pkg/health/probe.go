package health

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"
)

// DefaultClient is the HTTP client probes share when a Spec names none.
//
// Keep-alives are off: a held idle connection would block a single-threaded
// dev server (php -S, a plain Python HTTPServer speaking HTTP/1.1) from
// serving anyone else, and a fresh loopback connect per probe costs
// microseconds. Redirects are not followed (a 3xx is judged by its own
// status, as Docker and Kubernetes do), proxies from the environment are
// ignored, and TLS certificates are not verified, because probes target
// loopback dev servers that commonly use self-signed certificates (kubelet
// skips verification for HTTPS probes for the same reason).
var DefaultClient = NewClient()

// NewClient returns a client configured like DefaultClient. Per-probe
// timeouts come from the request context, not from the client.
func NewClient() *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			Proxy:               nil,
			DialContext:         (&net.Dialer{KeepAlive: -1}).DialContext,
			DisableKeepAlives:   true,
			DisableCompression:  true,
			TLSClientConfig:     &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // loopback health probes, see DefaultClient
			TLSHandshakeTimeout: 0,                                     // bounded by the request context
			MaxIdleConns:        1,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// maxDrain bounds how much of a probe response body is read: enough to end
// the exchange cleanly for small health bodies, not a way to download a
// large page every interval.
const maxDrain = 64 << 10

// ProbeHTTP sends GET url and succeeds if the response status is in
// [statusMin, statusMax]. A zero statusMin/statusMax means 200/399. client
// nil means DefaultClient. The probe is bounded by ctx.
func ProbeHTTP(ctx context.Context, client *http.Client, url string, statusMin, statusMax int) error {
	if client == nil {
		client = DefaultClient
	}
	if statusMin == 0 {
		statusMin = 200
	}
	if statusMax == 0 {
		statusMax = 399
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("build probe request: %w", err)
	}
	req.Header.Set("User-Agent", "apphostd-health/1")
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("get %s: %w", url, unwrapURLError(err))
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxDrain))
	_ = resp.Body.Close()
	if resp.StatusCode < statusMin || resp.StatusCode > statusMax {
		return fmt.Errorf("get %s: status %d, want %d-%d", url, resp.StatusCode, statusMin, statusMax)
	}
	return nil
}

// unwrapURLError drops the *url.Error layer, which repeats the method and
// URL that the caller's message already carries.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) && ue.Err != nil {
		return ue.Err
	}
	return err
}

// ProbeTCP succeeds if a TCP connection to addr can be opened; the
// connection is closed at once. The probe is bounded by ctx.
func ProbeTCP(ctx context.Context, addr string) error {
	d := net.Dialer{KeepAlive: -1}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("dial %s: %w", addr, err)
	}
	_ = conn.Close()
	return nil
}

// probeTimeoutError is reported when a probe outlives its Timeout, so the
// message says which limit was hit instead of "context deadline exceeded".
func probeTimeoutError(timeout time.Duration, err error) error {
	return fmt.Errorf("probe timed out after %s: %w", timeout, err)
}
