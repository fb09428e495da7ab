package server

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/selo-qtsp/selo"
)

// EUNSUPPORTEDMEDIA is the code of a request body in a media type the endpoint
// does not read. The root package has no such code because only HTTP has
// media types; it is mapped to 415 with the others in ErrorStatusCode.
const EUNSUPPORTEDMEDIA = "unsupported_media_type"

// EMETHOD is the code of a request whose method the path does not accept (405).
const EMETHOD = "method_not_allowed"

// EUNAVAILABLE is the code of a dependency that does not answer (503), used by
// the health check so that load balancers take the replica out.
const EUNAVAILABLE = "unavailable"

// codeStatus maps application error codes to HTTP status codes, in one place
// so that every endpoint answers the same code with the same status.
var codeStatus = map[string]int{
	selo.EINVALID:        http.StatusBadRequest,
	selo.EUNAUTHORIZED:   http.StatusUnauthorized,
	selo.EFORBIDDEN:      http.StatusForbidden,
	selo.ENOTFOUND:       http.StatusNotFound,
	selo.ECONFLICT:       http.StatusConflict,
	selo.ETOOLARGE:       http.StatusRequestEntityTooLarge,
	selo.ENOTIMPLEMENTED: http.StatusNotImplemented,
	selo.EINTERNAL:       http.StatusInternalServerError,
	EUNSUPPORTEDMEDIA:    http.StatusUnsupportedMediaType,
	EMETHOD:              http.StatusMethodNotAllowed,
	EUNAVAILABLE:         http.StatusServiceUnavailable,
	ETOOMANYREQUESTS:     http.StatusTooManyRequests,
}

// ErrorStatusCode returns the HTTP status for an application error code;
// any code it does not know is an internal error (500).
func ErrorStatusCode(code string) int {
	if s, ok := codeStatus[code]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// ErrorResponse is the JSON body of every error answer.
type ErrorResponse struct {
	Error ErrorBody `json:"error"`
}

// ErrorBody is the error object: a code for programs, a message for people,
// and the request ID to quote when asking the operator what went wrong.
type ErrorBody struct {
	Code      string `json:"code"`
	Message   string `json:"message"`
	RequestID string `json:"request_id,omitempty"`
}

// writeError answers err as JSON. Only application errors reach the client
// as they are; anything else becomes "Internal error." and its details go to
// the log, where the request ID ties them to the access log line.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	code, message := selo.ErrorCode(err), selo.ErrorMessage(err)
	status := ErrorStatusCode(code)
	if status == http.StatusInternalServerError {
		if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
			// The client went away mid-request: nothing is broken here.
			s.logger(r).Info("request cancelled by the client", "method", r.Method, "path", r.URL.Path)
		} else {
			s.logger(r).Error("internal error", "method", r.Method, "path", r.URL.Path, "err", err)
		}
		// An application error with an unmapped code is a bug here, not
		// something the client can act on: its message may not be meant for them.
		code, message = selo.EINTERNAL, "Internal error."
	} else {
		s.logger(r).Debug("request refused", "code", code, "message", message)
	}
	if d := selo.RetryAfter(err); d > 0 && status == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", strconv.Itoa(selo.RetryAfterSeconds(d)))
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="selo"`)
		if r.Header.Get("Authorization") != "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="selo", error="invalid_token"`)
		}
	}
	writeJSON(w, status, ErrorResponse{Error: ErrorBody{Code: code, Message: message, RequestID: requestID(r.Context())}})
}

// writeJSON answers v as JSON with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		// Every type answered here is a plain struct; this cannot happen
		// unless one gains a channel or a func.
		slog.Default().Error("encode json response", "err", err)
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte(`{"error":{"code":"internal","message":"Internal error."}}` + "\n"))
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}
