package api

import (
	"context"
	"errors"
	"net/http"
)

// APIError is an error as it travels over the socket: the HTTP status, a
// stable machine-readable code and a human message. The server renders
// every failed request as
//
//	{"error": {"code": "not_found", "message": "resource \"x\": not found"}}
//
// and the client decodes it back into an *APIError.
type APIError struct {
	Status  int    `json:"-"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *APIError) Error() string {
	if e.Message != "" {
		return e.Message
	}
	return e.Code
}

// Is makes errors.Is(err, ErrNotFound) and friends work on decoded errors.
func (e *APIError) Is(target error) bool {
	for _, c := range errorCodes {
		if c.err == target {
			return c.code == e.Code
		}
	}
	return false
}

// errorBody is the JSON envelope of an error response.
type errorBody struct {
	Error *APIError `json:"error"`
}

// errorCodes is the one table that ties sentinels, statuses and codes
// together; the server's renderer and the client's decoder both read it.
var errorCodes = []struct {
	err    error
	status int
	code   string
}{
	{ErrNotFound, http.StatusNotFound, "not_found"},
	{ErrBadRequest, http.StatusBadRequest, "bad_request"},
	{ErrConflict, http.StatusConflict, "conflict"},
	{ErrResourceFailed, http.StatusConflict, "resource_failed"},
	{ErrMethodNotAllowed, http.StatusMethodNotAllowed, "method_not_allowed"},
	{ErrTooLarge, http.StatusRequestEntityTooLarge, "too_large"},
	{ErrInvalidConfig, http.StatusUnprocessableEntity, "invalid_config"},
	{ErrTimeout, http.StatusGatewayTimeout, "timeout"},
	{ErrInternal, http.StatusInternalServerError, "internal"},
}

// toAPIError classifies err for rendering. An *APIError passes through;
// sentinels (possibly wrapped) map by the table; a body over the limit is
// 413; an elapsed deadline is a timeout; anything else is 500 with the
// error's text, which is the Backend's to keep free of secrets.
func toAPIError(err error) *APIError {
	var ae *APIError
	if errors.As(err, &ae) {
		if ae.Status == 0 {
			ae.Status = statusForCode(ae.Code)
		}
		return ae
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return &APIError{Status: http.StatusRequestEntityTooLarge, Code: "too_large", Message: err.Error()}
	}
	for _, c := range errorCodes {
		if errors.Is(err, c.err) {
			return &APIError{Status: c.status, Code: c.code, Message: err.Error()}
		}
	}
	if isDeadline(err) {
		return &APIError{Status: http.StatusGatewayTimeout, Code: "timeout", Message: err.Error()}
	}
	return &APIError{Status: http.StatusInternalServerError, Code: "internal", Message: err.Error()}
}

func statusForCode(code string) int {
	for _, c := range errorCodes {
		if c.code == code {
			return c.status
		}
	}
	return http.StatusInternalServerError
}

// codeForStatus names an error response that carried no JSON body (a
// proxy, or a server panic).
func codeForStatus(status int) string {
	for _, c := range errorCodes {
		if c.status == status {
			return c.code
		}
	}
	if status >= 500 {
		return "internal"
	}
	return "bad_request"
}

func isDeadline(err error) bool { return errors.Is(err, context.DeadlineExceeded) }
