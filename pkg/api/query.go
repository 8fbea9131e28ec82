package api

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// query parses the raw query strictly: r.URL.Query() silently drops
// malformed pairs, which would turn a typo into a default.
func query(raw string) (url.Values, error) {
	v, err := url.ParseQuery(raw)
	if err != nil {
		return nil, badRequest("malformed query: %v", err)
	}
	return v, nil
}

// single returns the one value of key, or "" if absent; repeating a
// single-valued key is an error.
func single(q url.Values, key string) (string, error) {
	vs := q[key]
	switch len(vs) {
	case 0:
		return "", nil
	case 1:
		return vs[0], nil
	}
	return "", badRequest("query parameter %q given %d times", key, len(vs))
}

func boolParam(q url.Values, key string, def bool) (bool, error) {
	v, err := single(q, key)
	if err != nil || v == "" {
		return def, err
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, badRequest("%s=%q: want true or false", key, v)
	}
	return b, nil
}

// tailParam parses tail: a line count per resource, or "all" (also -1).
func tailParam(q url.Values, def int) (int, error) {
	v, err := single(q, "tail")
	if err != nil || v == "" {
		return def, err
	}
	if strings.EqualFold(v, "all") {
		return -1, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < -1 {
		return 0, badRequest("tail=%q: want a line count, or all", v)
	}
	return n, nil
}

func durationParam(q url.Values, key string, def, max time.Duration) (time.Duration, error) {
	v, err := single(q, key)
	if err != nil || v == "" {
		return def, err
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, badRequest("%s=%q: want a positive duration such as 30s", key, v)
	}
	if d > max {
		return 0, badRequest("%s=%s: longer than the maximum %s", key, d, max)
	}
	return d, nil
}

func badRequest(format string, args ...any) error {
	return &APIError{Status: 400, Code: "bad_request", Message: fmt.Sprintf(format, args...)}
}
