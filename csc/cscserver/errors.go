package cscserver

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/csc"
)

// errStatus maps CSC error names to their HTTP status.
var errStatus = map[string]int{
	csc.ErrInvalidRequest:      http.StatusBadRequest,
	csc.ErrInvalidToken:        http.StatusUnauthorized,
	csc.ErrInvalidOTP:          http.StatusUnauthorized,
	csc.ErrAccessDenied:        http.StatusUnauthorized,
	csc.ErrAuthenticationError: http.StatusUnauthorized,
	csc.ErrServerError:         http.StatusInternalServerError,
}

func newError(name, format string, args ...any) *csc.Error {
	return &csc.Error{Status: errStatus[name], Name: name, Description: fmt.Sprintf(format, args...)}
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
func mapError(op operation, err error) (e *csc.Error, internal bool) {
	var ce *csc.Error
	if errors.As(err, &ce) {
		return ce, false
	}
	msg := selo.ErrorMessage(err)
	switch selo.ErrorCode(err) {
	case selo.EINVALID:
		return newError(csc.ErrInvalidRequest, "%s", msg), false
	case selo.ETOOLARGE:
		e := newError(csc.ErrInvalidRequest, "%s", msg)
		e.Status = http.StatusRequestEntityTooLarge
		return e, false
	case selo.ENOTFOUND:
		switch op {
		case opAuthorizeCheck:
			return newError(csc.ErrInvalidRequest, "Invalid parameter responseID"), false
		case opToken:
			return newError(csc.ErrInvalidToken, "Invalid or expired access token"), false
		case opLogin:
			return newError(csc.ErrAuthenticationError, "invalid e-mail or password"), false
		}
		return newError(csc.ErrInvalidRequest, "Invalid parameter credentialID"), false
	case selo.EUNAUTHORIZED:
		switch op {
		case opLogin:
			return newError(csc.ErrAuthenticationError, "%s", msg), false
		case opAuthorize:
			return newError(csc.ErrInvalidOTP, "%s", msg), false
		case opAuthorizeCheck:
			return newError(csc.ErrAccessDenied, "%s", msg), false
		case opSignHash:
			return newError(csc.ErrInvalidRequest, "Invalid SAD"), false
		}
		return newError(csc.ErrInvalidToken, "Invalid or expired access token"), false
	case selo.EFORBIDDEN:
		return newError(csc.ErrAccessDenied, "%s", msg), false
	case selo.ECONFLICT:
		return newError(csc.ErrInvalidRequest, "%s", msg), false
	case selo.ETOOMANYREQUESTS:
		// A rate limit (codes sent, failed logins): CSC has no error name of
		// its own for it; the status and Retry-After say it.
		e := newError(csc.ErrAccessDenied, "%s", msg)
		e.Status = http.StatusTooManyRequests
		e.RetryAfter = selo.RetryAfter(err)
		return e, false
	case selo.ENOTIMPLEMENTED:
		e := newError(csc.ErrInvalidRequest, "%s", msg)
		e.Status = http.StatusNotImplemented
		return e, false
	}
	if errors.Is(err, context.Canceled) {
		return newError(csc.ErrServerError, "Request cancelled"), false
	}
	return newError(csc.ErrServerError, "Internal error."), true
}
