package server

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/selo-qtsp/selo"
)

const testCSRPEM = "-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n-----END CERTIFICATE REQUEST-----\n"

func TestDecodeIssueRequest(t *testing.T) {
	tests := []struct {
		name, body string
		code       string // "" for success
		message    string // substring of the error message
		wantCSR    string
	}{
		{name: "pem", body: `{"profile":"tls-server","csr":` + quote(testCSRPEM) + `}`, wantCSR: testCSRPEM},
		{name: "with ca", body: `{"profile":"tls-server","ca":"tls-rsa-v1","csr":` + quote(testCSRPEM) + `}`, wantCSR: testCSRPEM},
		{name: "base64 der", body: `{"profile":"tls-server","csr":"AQID\nBA=="}`, wantCSR: "\x01\x02\x03\x04"},
		{name: "empty", body: ``, code: selo.EINVALID, message: "request body is empty"},
		{name: "whitespace", body: "  \n", code: selo.EINVALID, message: "request body is empty"},
		{name: "truncated", body: `{"profile":"tls`, code: selo.EINVALID, message: "ends in the middle"},
		{name: "syntax", body: `{"profile" "x"}`, code: selo.EINVALID, message: "not valid JSON at offset"},
		{name: "not an object", body: `["a"]`, code: selo.EINVALID, message: "must be a JSON object, not an array"},
		{name: "string", body: `"csr"`, code: selo.EINVALID, message: "must be a JSON object, not a string"},
		{name: "unknown field", body: `{"profile":"tls-server","csr":"x","validity":30}`, code: selo.EINVALID, message: `unknown field "validity"`},
		{name: "wrong type", body: `{"profile":7,"csr":"x"}`, code: selo.EINVALID, message: `field "profile" must be a string, not a number`},
		{name: "object for string", body: `{"profile":"p","csr":{}}`, code: selo.EINVALID, message: `field "csr" must be a string, not an object`},
		{name: "two values", body: `{"profile":"p","csr":"AQID"}{}`, code: selo.EINVALID, message: "exactly one JSON value"},
		{name: "trailing garbage", body: `{"profile":"p","csr":"AQID"} x`, code: selo.EINVALID, message: "exactly one JSON value"},
		{name: "missing profile", body: `{"csr":"AQID"}`, code: selo.EINVALID, message: `"profile" is required`},
		{name: "missing csr", body: `{"profile":"tls-server"}`, code: selo.EINVALID, message: `"csr" is required`},
		{name: "null", body: `null`, code: selo.EINVALID, message: `"profile" is required`},
		{name: "long profile", body: `{"profile":"` + strings.Repeat("p", 65) + `","csr":"AQID"}`, code: selo.EINVALID, message: `"profile" is not a profile name`},
		{name: "csr not base64", body: `{"profile":"p","csr":"hello world!"}`, code: selo.EINVALID, message: "PKCS#10 request in PEM"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, csr, err := decodeIssueRequest(strings.NewReader(tt.body))
			if tt.code == "" {
				if err != nil {
					t.Fatalf("decode: %v", err)
				}
				if req.Profile == "" || string(csr) != tt.wantCSR {
					t.Fatalf("got %+v csr %q", req, csr)
				}
				return
			}
			if got := selo.ErrorCode(err); got != tt.code {
				t.Fatalf("code = %q (%v), want %q", got, err, tt.code)
			}
			if msg := selo.ErrorMessage(err); !strings.Contains(msg, tt.message) {
				t.Fatalf("message %q does not contain %q", msg, tt.message)
			}
		})
	}
}

func TestDecodeIssueRequestTooLarge(t *testing.T) {
	body := `{"profile":"tls-server","csr":"` + strings.Repeat("A", 2000) + `"}`
	rec := httptest.NewRecorder()
	r := http.MaxBytesReader(rec, nopCloser{bytes.NewReader([]byte(body))}, 1000)
	_, _, err := decodeIssueRequest(r)
	if selo.ErrorCode(err) != selo.ETOOLARGE || !strings.Contains(selo.ErrorMessage(err), "larger than 1000 bytes") {
		t.Fatalf("err = %v, want ETOOLARGE naming the limit", err)
	}
}

func TestCheckJSONContentType(t *testing.T) {
	for _, tt := range []struct {
		ct string
		ok bool
	}{
		{"application/json", true},
		{"application/json; charset=utf-8", true},
		{"Application/JSON; charset=UTF-8", true},
		{"", false},
		{"text/plain", false},
		{"application/x-www-form-urlencoded", false},
		{"application/json; charset=latin1", false},
		{"application/json;;", false},
	} {
		r := httptest.NewRequest(http.MethodPost, "/", nil)
		if tt.ct != "" {
			r.Header.Set("Content-Type", tt.ct)
		}
		err := checkJSONContentType(r)
		if (err == nil) != tt.ok {
			t.Errorf("%q: err = %v, want ok=%v", tt.ct, err, tt.ok)
		}
		if err != nil && ErrorStatusCode(selo.ErrorCode(err)) != http.StatusUnsupportedMediaType {
			t.Errorf("%q: status %d, want 415", tt.ct, ErrorStatusCode(selo.ErrorCode(err)))
		}
	}
}

// FuzzDecodeIssueRequest feeds arbitrary bodies to the decoder of POST
// /api/v1/certificates: it must never panic, and every refusal must be an
// application error that maps to a 4xx, never an internal error (500).
func FuzzDecodeIssueRequest(f *testing.F) {
	for _, seed := range []string{
		`{"profile":"tls-server","csr":` + quote(testCSRPEM) + `}`,
		`{"profile":"qualified-sign","ca":"qualified-ecc-v1","csr":"AQID"}`,
		`{"profile":"tls-server","csr":"x","extra":1}`,
		`{"profile":1}`, `[]`, `null`, `""`, `{}`, `{"profile":"a"}{}`, `{"a`, "\xff\xfe", `{"profile":"\ud800"}`,
		`{"profile":"p","csr":"` + strings.Repeat("QUJD", 100) + `"}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		rec := httptest.NewRecorder()
		r := http.MaxBytesReader(rec, nopCloser{bytes.NewReader(body)}, DefaultMaxBodyBytes)
		req, csr, err := decodeIssueRequest(r)
		if err != nil {
			if status := ErrorStatusCode(selo.ErrorCode(err)); status < 400 || status >= 500 {
				t.Fatalf("body %q: status %d for %v", body, status, err)
			}
			if selo.ErrorMessage(err) == "" {
				t.Fatalf("body %q: empty error message", body)
			}
			return
		}
		if req.Profile == "" || len(csr) == 0 {
			t.Fatalf("body %q: accepted without profile or csr: %+v", body, req)
		}
	})
}

type nopCloser struct{ *bytes.Reader }

func (nopCloser) Close() error { return nil }

func quote(s string) string {
	return `"` + strings.NewReplacer("\n", `\n`, `"`, `\"`).Replace(s) + `"`
}
