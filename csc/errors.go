package csc

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/selo-qtsp/selo"
)

// CSC error names (the "error" member of an error answer).
const (
	ErrInvalidRequest      = "invalid_request"
	ErrInvalidToken        = "invalid_token"
	ErrInvalidOTP          = "invalid_otp"
	ErrAccessDenied        = "access_denied"
	ErrAuthenticationError = "authentication_error"
	ErrServerError         = "server_error"
)

// Error is a CSC error answer: the HTTP status, the CSC error name and a
// description for people. The client returns it for every refusal, so
// callers can switch on Name.
type Error struct {
	Status      int    `json:"-"`
	Name        string `json:"error"`
	Description string `json:"error_description,omitempty"`
	// RetryAfter is sent as the Retry-After header of a 429 answer.
	RetryAfter time.Duration `json:"-"`
}

// Error implements error.
func (e *Error) Error() string {
	if e.Description == "" {
		return fmt.Sprintf("csc: %s (HTTP %d)", e.Name, e.Status)
	}
	return fmt.Sprintf("csc: %s: %s (HTTP %d)", e.Name, e.Description, e.Status)
}

// ErrorName returns the CSC error name of err's chain, "" when it holds none.
func ErrorName(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Name
	}
	return ""
}

// errStatus maps CSC error names to their HTTP status.
var errStatus = map[string]int{
	ErrInvalidRequest:      http.StatusBadRequest,
	ErrInvalidToken:        http.StatusUnauthorized,
	ErrInvalidOTP:          http.StatusUnauthorized,
	ErrAccessDenied:        http.StatusUnauthorized,
	ErrAuthenticationError: http.StatusUnauthorized,
	ErrServerError:         http.StatusInternalServerError,
}

func newError(name, format string, args ...any) *Error {
	return &Error{Status: errStatus[name], Name: name, Description: fmt.Sprintf(format, args...)}
}

// operation names the endpoint whose backend error is being mapped: the
// same selo code means different things to different endpoints.
type operation int

const (
	opOther operation = iota
	opLogin
	opToken
	opCredential // credentials/info, credentials/sendOTP
	opAuthorize
	opAuthorizeCheck
	opSignHash
)

// mapError turns a backend error into the CSC error the client sees. An
// error that is not a selo.Error (or an unknown code) is a server_error
// whose details the caller logs; it returns internal=true for those.
func mapError(op operation, err error) (e *Error, internal bool) {
	var ce *Error
	if errors.As(err, &ce) {
		return ce, false
	}
	msg := selo.ErrorMessage(err)
	switch selo.ErrorCode(err) {
	case selo.EINVALID:
		return newError(ErrInvalidRequest, "%s", msg), false
	case selo.ETOOLARGE:
		e := newError(ErrInvalidRequest, "%s", msg)
		e.Status = http.StatusRequestEntityTooLarge
		return e, false
	case selo.ENOTFOUND:
		switch op {
		case opAuthorizeCheck:
			return newError(ErrInvalidRequest, "Invalid parameter responseID"), false
		case opToken:
			return newError(ErrInvalidToken, "Invalid or expired access token"), false
		case opLogin:
			return newError(ErrAuthenticationError, "invalid e-mail or password"), false
		}
		return newError(ErrInvalidRequest, "Invalid parameter credentialID"), false
	case selo.EUNAUTHORIZED:
		switch op {
		case opLogin:
			return newError(ErrAuthenticationError, "%s", msg), false
		case opAuthorize:
			return newError(ErrInvalidOTP, "%s", msg), false
		case opAuthorizeCheck:
			return newError(ErrAccessDenied, "%s", msg), false
		case opSignHash:
			return newError(ErrInvalidRequest, "Invalid SAD"), false
		}
		return newError(ErrInvalidToken, "Invalid or expired access token"), false
	case selo.EFORBIDDEN:
		return newError(ErrAccessDenied, "%s", msg), false
	case selo.ECONFLICT:
		return newError(ErrInvalidRequest, "%s", msg), false
	case selo.ETOOMANYREQUESTS:
		// A rate limit (codes sent, failed logins): CSC has no error name of
		// its own for it; the status and Retry-After say it.
		e := newError(ErrAccessDenied, "%s", msg)
		e.Status = http.StatusTooManyRequests
		e.RetryAfter = selo.RetryAfter(err)
		return e, false
	case selo.ENOTIMPLEMENTED:
		e := newError(ErrInvalidRequest, "%s", msg)
		e.Status = http.StatusNotImplemented
		return e, false
	}
	if errors.Is(err, context.Canceled) {
		return newError(ErrServerError, "Request cancelled"), false
	}
	return newError(ErrServerError, "Internal error."), true
}
