package selo

import (
	"errors"
	"fmt"
)

// Application error codes. Every error a user can see carries one of these;
// anything else is reported as EINTERNAL and its details go to the log only.
const (
	ECONFLICT       = "conflict"
	EINTERNAL       = "internal"
	EINVALID        = "invalid"
	ENOTFOUND       = "not_found"
	EUNAUTHORIZED   = "unauthorized"
	EFORBIDDEN      = "forbidden"
	ENOTIMPLEMENTED = "not_implemented"
	ETOOLARGE       = "too_large"
)

// Error is an application error: a code for programs and a message for people.
// The message must never contain a secret.
type Error struct {
	Code    string
	Message string
}

// Error implements the error interface. It is not meant for end users: use ErrorMessage.
func (e *Error) Error() string {
	return fmt.Sprintf("selo error: code=%s message=%s", e.Code, e.Message)
}

// Errorf returns an application error with the given code and a formatted message.
func Errorf(code string, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the application error in err's chain, "" for nil,
// and EINTERNAL for any other error.
func ErrorCode(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the human message of the application error in err's chain,
// "" for nil, and "Internal error." for any other error.
func ErrorMessage(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Message
	}
	return "Internal error."
}
