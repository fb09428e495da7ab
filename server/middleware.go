package server

import (
	"github.com/selo-qtsp/selo"

	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"time"
)

// RequestIDHeader carries the request ID in both directions: a proxy in front
// may set it so that its logs and ours share one ID; Selo always answers it.
const RequestIDHeader = "X-Request-ID"

// requestIDKey is RequestIDHeader in canonical form, for direct map access
// on the hot path.
var requestIDKey = http.CanonicalHeaderKey(RequestIDHeader)

type contextKey int

const (
	requestInfoKey contextKey = iota
)

// requestInfo is what the middleware learns about a request and the access
// log reports at the end. The authentication middleware fills Actor in place,
// which is why the context holds a pointer.
type requestInfo struct {
	ID    string
	Actor string
	Roles []selo.Role // the API key's (roles.go)
}

func infoFrom(ctx context.Context) *requestInfo {
	if ri, ok := ctx.Value(requestInfoKey).(*requestInfo); ok {
		return ri
	}
	return nil
}

// requestID returns the ID of the request ctx belongs to, or "".
func requestID(ctx context.Context) string {
	if ri := infoFrom(ctx); ri != nil {
		return ri.ID
	}
	return ""
}

// actorFrom returns the audit actor of an authenticated request, or "".
func actorFrom(ctx context.Context) string {
	if ri := infoFrom(ctx); ri != nil {
		return ri.Actor
	}
	return ""
}

// logger returns the server's logger tagged with the request's ID.
func (s *Server) logger(r *http.Request) *slog.Logger {
	if id := requestID(r.Context()); id != "" {
		return s.log.With("request_id", id)
	}
	return s.log
}

// validRequestID accepts a client's ID only when it is short and plain, so
// that a hostile one cannot forge log lines or bloat them.
func validRequestID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

func newRequestID() string {
	var b [12]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b[:])
}

// statusRecorder remembers the status and size of an answer for the access log.
type statusRecorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *statusRecorder) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *statusRecorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusRecorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// observe gives every request an ID, turns a panic into a 500 and writes one
// access log line per request. The line names the method, path, status, size,
// duration and actor; never a header value other than the request ID, never a
// query string or a body, so no API key or personal data reaches the log.
func (s *Server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		var id string
		if v := r.Header[requestIDKey]; len(v) > 0 {
			id = v[0]
		}
		if !validRequestID(id) {
			id = newRequestID()
		}
		ri := &requestInfo{ID: id}
		// The client address goes with the request so that the services can
		// limit failed logins and guesses per address.
		r = r.WithContext(selo.WithClientAddress(context.WithValue(r.Context(), requestInfoKey, ri), clientKey(r)))
		w.Header()[requestIDKey] = []string{id}
		rec := &statusRecorder{ResponseWriter: w}

		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v) // the handler asked net/http to drop the connection
				}
				s.log.Error("panic serving request", "request_id", id, "method", r.Method, "path", r.URL.Path,
					"panic", fmt.Sprint(v), "stack", string(debug.Stack()))
				if rec.status == 0 {
					s.writeError(rec, r, fmt.Errorf("panic: %v", v))
				}
			}
			status := rec.status
			if status == 0 {
				status = http.StatusOK
			}
			level := slog.LevelInfo
			if status == http.StatusOK && (r.URL.Path == "/healthz" || strings.HasPrefix(r.URL.Path, "/ocsp") || strings.HasPrefix(r.URL.Path, "/crl/")) {
				// Load balancers probe every few seconds and relying parties
				// ask for status all the time; those successes would drown
				// the lines that matter.
				level = slog.LevelDebug
			}
			if !s.log.Enabled(r.Context(), level) {
				return
			}
			attrs := []any{
				"request_id", id, "method", r.Method, "path", r.URL.Path, "status", status,
				"bytes", rec.bytes, "duration", time.Since(start), "remote", r.RemoteAddr,
			}
			if ri.Actor != "" {
				attrs = append(attrs, "actor", ri.Actor)
			}
			s.log.Log(r.Context(), level, "http request", attrs...)
		}()
		next.ServeHTTP(rec, r)
	})
}
