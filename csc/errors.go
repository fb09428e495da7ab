package csc

import (
	"errors"
	"fmt"
	"time"
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
