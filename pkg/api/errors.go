package api

import "errors"

// Errors a Backend returns; the server maps them to HTTP statuses.
var (
	ErrNotFound   = errors.New("not found")   // 404
	ErrBadRequest = errors.New("bad request") // 400
	ErrConflict   = errors.New("conflict")    // 409
)

// Errors the server itself produces. A client sees every error as an
// *APIError whose Is reports the matching sentinel, so callers write
// errors.Is(err, api.ErrTimeout) on either side of the socket.
var (
	// ErrTimeout: a start/stop/restart did not reach its target state
	// within ?timeout (504). A Backend may also return it (or
	// context.DeadlineExceeded, which maps to it).
	ErrTimeout = errors.New("timeout")
	// ErrInvalidConfig: the reloaded project file has errors (422).
	ErrInvalidConfig = errors.New("invalid config")
	// ErrMethodNotAllowed: the route exists but not for this method (405).
	ErrMethodNotAllowed = errors.New("method not allowed")
	// ErrTooLarge: the request body exceeds the limit (413).
	ErrTooLarge = errors.New("request body too large")
	// ErrResourceFailed: a start/restart ended with the resource failed
	// (FailedToStart, Exited, RuntimeUnhealthy) rather than ready (409,
	// code resource_failed). A Backend wraps it:
	// fmt.Errorf("%w: api is FailedToStart: port 5000 in use", ErrResourceFailed).
	ErrResourceFailed = errors.New("resource failed")
	// ErrInternal: anything else (500).
	ErrInternal = errors.New("internal error")
)
