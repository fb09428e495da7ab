package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/selo-qtsp/selo"
)

func TestErrorStatusCode(t *testing.T) {
	for code, want := range map[string]int{
		selo.EINVALID:        400,
		selo.EUNAUTHORIZED:   401,
		selo.EFORBIDDEN:      403,
		selo.ENOTFOUND:       404,
		selo.ECONFLICT:       409,
		selo.ETOOLARGE:       413,
		selo.ENOTIMPLEMENTED: 501,
		selo.EINTERNAL:       500,
		EUNSUPPORTEDMEDIA:    415,
		EMETHOD:              405,
		EUNAVAILABLE:         503,
		"":                   500,
		"something-new":      500,
	} {
		if got := ErrorStatusCode(code); got != want {
			t.Errorf("ErrorStatusCode(%q) = %d, want %d", code, got, want)
		}
	}
}

func TestWriteError(t *testing.T) {
	var logs bytes.Buffer
	s := &Server{log: slog.New(slog.NewTextHandler(&logs, nil))}
	tests := []struct {
		err             error
		status          int
		code, message   string
		logged, notSent string
	}{
		{selo.Errorf(selo.ECONFLICT, "serial taken"), 409, "conflict", "serial taken", "", ""},
		{errors.New("sqlite: disk I/O error at /var/lib/selo"), 500, "internal", "Internal error.", "disk I/O error", "/var/lib/selo"},
		// An application error with a code nobody mapped must not leak its message.
		{selo.Errorf("weird", "secret detail"), 500, "internal", "Internal error.", "secret detail", "secret detail"},
	}
	for _, tt := range tests {
		logs.Reset()
		rec := httptest.NewRecorder()
		s.writeError(rec, httptest.NewRequest(http.MethodGet, "/x", nil), tt.err)
		var body ErrorResponse
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
			t.Fatal(err)
		}
		if rec.Code != tt.status || body.Error.Code != tt.code || body.Error.Message != tt.message {
			t.Errorf("%v: %d %+v", tt.err, rec.Code, body.Error)
		}
		if tt.logged != "" && !strings.Contains(logs.String(), tt.logged) {
			t.Errorf("%v: log lacks %q: %s", tt.err, tt.logged, logs.String())
		}
		if tt.notSent != "" && strings.Contains(rec.Body.String(), tt.notSent) {
			t.Errorf("%v: answer leaks %q", tt.err, tt.notSent)
		}
	}
}

func TestPanicRecovered(t *testing.T) {
	var logs bytes.Buffer
	s := &Server{log: slog.New(slog.NewTextHandler(&logs, nil))}
	h := s.observe(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { panic("boom") }))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/x", nil))
	if rec.Code != 500 || !strings.Contains(rec.Body.String(), "Internal error.") || strings.Contains(rec.Body.String(), "boom") {
		t.Fatalf("panic answered %d %s", rec.Code, rec.Body)
	}
	if !strings.Contains(logs.String(), "panic serving request") || !strings.Contains(logs.String(), "boom") || !strings.Contains(logs.String(), "status=500") {
		t.Fatalf("log: %s", logs.String())
	}
}
