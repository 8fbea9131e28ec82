package api

import "errors"

// Errors a Backend returns; the server maps them to HTTP statuses.
var (
	ErrNotFound   = errors.New("not found")   // 404
	ErrBadRequest = errors.New("bad request") // 400
	ErrConflict   = errors.New("conflict")    // 409
)
