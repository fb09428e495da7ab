package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/selo-qtsp/selo/internal/testenv"
	"github.com/selo-qtsp/selo/server"
)

// testServer is a real Selo stack behind a real HTTP listener.
type testServer struct {
	env  *testenv.Env
	srv  *httptest.Server
	logs *syncBuffer
}

func newTestServer(t *testing.T, configure ...func(*server.Config)) *testServer {
	t.Helper()
	env := testenv.New(t)
	logs := &syncBuffer{}
	cfg := server.Config{
		Authority: env.Authority,
		Logger:    slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	for _, f := range configure {
		f(&cfg)
	}
	srv := httptest.NewServer(server.New(cfg).Handler())
	t.Cleanup(srv.Close)
	return &testServer{env: env, srv: srv, logs: logs}
}

// do sends a request; header is "Name", "value" pairs. Unless the pairs set
// Authorization (to "" to send none), the request carries the test API key.
func (ts *testServer) do(t *testing.T, method, path string, body io.Reader, header ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, ts.srv.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+ts.env.APIKey)
	for i := 0; i+1 < len(header); i += 2 {
		if header[i+1] == "" {
			req.Header.Del(header[i])
		} else {
			req.Header.Set(header[i], header[i+1])
		}
	}
	resp, err := ts.srv.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return resp, b
}

func (ts *testServer) get(t *testing.T, path string, header ...string) (*http.Response, []byte) {
	t.Helper()
	return ts.do(t, http.MethodGet, path, nil, header...)
}

// getJSON GETs path, wants status 200 and decodes the body into v.
func (ts *testServer) getJSON(t *testing.T, path string, v any) *http.Response {
	t.Helper()
	resp, body := ts.get(t, path)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: status %d: %s", path, resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("GET %s: Content-Type %q", path, ct)
	}
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("GET %s: decode %s: %v", path, body, err)
	}
	return resp
}

// wantError checks an error answer: status, JSON body with code and a
// message containing message.
func wantError(t *testing.T, resp *http.Response, body []byte, status int, code, message string) {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("status %d, want %d: %s", resp.StatusCode, status, body)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("error Content-Type %q, want JSON", ct)
	}
	var e server.ErrorResponse
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("error body %s: %v", body, err)
	}
	if e.Error.Code != code {
		t.Fatalf("error code %q, want %q (message %q)", e.Error.Code, code, e.Error.Message)
	}
	if !strings.Contains(e.Error.Message, message) {
		t.Fatalf("error message %q does not contain %q", e.Error.Message, message)
	}
	if e.Error.RequestID == "" || e.Error.RequestID != resp.Header.Get(server.RequestIDHeader) {
		t.Fatalf("error request_id %q, header %q", e.Error.RequestID, resp.Header.Get(server.RequestIDHeader))
	}
}

// syncBuffer is a bytes.Buffer safe for the concurrent writes of handlers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestHealth(t *testing.T) {
	ts := newTestServer(t)
	resp, body := ts.get(t, "/healthz", "Authorization", "")
	if resp.StatusCode != http.StatusOK || string(body) != "ok" {
		t.Fatalf("healthz: %d %q", resp.StatusCode, body)
	}
	if resp.Header.Get(server.RequestIDHeader) == "" {
		t.Fatal("no request ID header")
	}

	// With the database gone the check fails with 503, and the cause goes to
	// the log only.
	if err := ts.env.Store.Close(); err != nil {
		t.Fatal(err)
	}
	resp, body = ts.get(t, "/healthz", "Authorization", "")
	wantError(t, resp, body, http.StatusServiceUnavailable, server.EUNAVAILABLE, "database is unreachable")
	if !strings.Contains(ts.logs.String(), "health check: database unreachable") {
		t.Fatalf("log lacks the health failure:\n%s", ts.logs)
	}
}

// TestInternalError checks that an error that is not an application error
// is answered 500 "Internal error." and its details are logged.
func TestInternalError(t *testing.T) {
	ts := newTestServer(t)
	if err := ts.env.Store.Close(); err != nil {
		t.Fatal(err)
	}
	resp, body := ts.get(t, "/api/v1/cas")
	wantError(t, resp, body, http.StatusInternalServerError, "internal", "Internal error.")
	if strings.Contains(string(body), "sql") || strings.Contains(string(body), "closed") {
		t.Fatalf("internal details leaked to the client: %s", body)
	}
	logs := ts.logs.String()
	if !strings.Contains(logs, "internal error") || !strings.Contains(logs, "request_id="+resp.Header.Get(server.RequestIDHeader)) {
		t.Fatalf("log lacks the internal error with its request ID:\n%s", logs)
	}
}

func TestRouting(t *testing.T) {
	ts := newTestServer(t)
	tests := []struct {
		name, method, path string
		auth               bool
		status             int
		code, message      string
		allow              string
	}{
		{"unknown public path", "GET", "/nope", false, 404, "not_found", "no such resource", ""},
		{"unknown api path", "GET", "/api/v1/nope", true, 404, "not_found", "no such resource", ""},
		{"unknown api path needs a key", "GET", "/api/v1/nope", false, 401, "unauthorized", "API key is required", ""},
		{"method on health", "POST", "/healthz", false, 405, "method_not_allowed", "POST is not allowed", "GET, HEAD"},
		{"method on certificates", "DELETE", "/api/v1/certificates", true, 405, "method_not_allowed", "use GET, HEAD, POST", "GET, HEAD, POST"},
		{"method on api path needs a key", "DELETE", "/api/v1/certificates", false, 401, "unauthorized", "API key is required", ""},
		{"method on ca file", "PUT", "/ca/x.crt", false, 405, "method_not_allowed", "PUT", "GET, HEAD"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			header := []string{}
			if !tt.auth {
				header = []string{"Authorization", ""}
			}
			resp, body := ts.do(t, tt.method, tt.path, nil, header...)
			wantError(t, resp, body, tt.status, tt.code, tt.message)
			if got := resp.Header.Get("Allow"); got != tt.allow {
				t.Fatalf("Allow %q, want %q", got, tt.allow)
			}
		})
	}
}

func TestAuthentication(t *testing.T) {
	ts := newTestServer(t)
	tests := []struct {
		name, authorization string
		status              int
		challenge           string
	}{
		{"missing", "", 401, `Bearer realm="selo"`},
		{"not bearer", "Basic dXNlcjpwYXNz", 401, `Bearer realm="selo", error="invalid_token"`},
		{"empty bearer", "Bearer ", 401, `Bearer realm="selo", error="invalid_token"`},
		{"wrong prefix", "Bearer sk_live_abc", 401, `Bearer realm="selo", error="invalid_token"`},
		{"unknown key", "Bearer selo_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", 401, `Bearer realm="selo", error="invalid_token"`},
		{"too long", "Bearer selo_" + strings.Repeat("A", 200), 401, `Bearer realm="selo", error="invalid_token"`},
		{"valid", "Bearer " + ts.env.APIKey, 200, ""},
		{"valid, scheme in lower case", "bearer " + ts.env.APIKey, 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := ts.get(t, "/api/v1/profiles", "Authorization", tt.authorization)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.status, body)
			}
			if got := resp.Header.Get("WWW-Authenticate"); got != tt.challenge {
				t.Fatalf("WWW-Authenticate %q, want %q", got, tt.challenge)
			}
			if tt.status == 401 {
				wantError(t, resp, body, 401, "unauthorized", "API key")
			}
		})
	}
	// The key never reaches the log, not even in the access log lines.
	if logs := ts.logs.String(); strings.Contains(logs, ts.env.APIKey) || strings.Contains(logs, "selo_AAAA") {
		t.Fatalf("an API key reached the log:\n%s", logs)
	}
}

func TestRequestIDAndAccessLog(t *testing.T) {
	ts := newTestServer(t)
	resp, _ := ts.get(t, "/api/v1/profiles", server.RequestIDHeader, "lb-1234.abcd")
	if got := resp.Header.Get(server.RequestIDHeader); got != "lb-1234.abcd" {
		t.Fatalf("request ID %q, want the proxy's", got)
	}
	resp, _ = ts.get(t, "/api/v1/profiles?secret=1", server.RequestIDHeader, "bad id=x level=ERROR")
	id := resp.Header.Get(server.RequestIDHeader)
	if id == "" || strings.Contains(id, " ") {
		t.Fatalf("hostile request ID kept: %q", id)
	}
	logs := ts.logs.String()
	for _, want := range []string{
		"request_id=lb-1234.abcd", "request_id=" + id, "method=GET", "path=/api/v1/profiles", "status=200",
		"actor=api:" + testenv.APIKeyName, "duration=",
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("access log lacks %q:\n%s", want, logs)
		}
	}
	if strings.Contains(logs, "secret=1") || strings.Contains(logs, ts.env.APIKey) {
		t.Errorf("access log holds a query string or the API key:\n%s", logs)
	}
}

func TestServeGracefulShutdown(t *testing.T) {
	env := testenv.New(t)
	srv := server.New(server.Config{Authority: env.Authority, Logger: slog.New(slog.DiscardHandler)})
	ctx, cancel := context.WithCancel(context.Background())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	resp, err := http.Get("http://" + ln.Addr().String() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("healthz %d", resp.StatusCode)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Serve after cancel: %v", err)
	}
	if _, err := http.Get("http://" + ln.Addr().String() + "/healthz"); err == nil {
		t.Fatal("server still answers after shutdown")
	}
}
