package server_test

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/internal/testenv"
	"github.com/selo-qtsp/selo/lift/lifttest"
	"github.com/selo-qtsp/selo/notify"
	"github.com/selo-qtsp/selo/registration"
	"github.com/selo-qtsp/selo/server"
)

// liftServer is the real stack with the registration desk behind HTTP.
type liftServer struct {
	env    *testenv.Env
	svc    *registration.Service
	outbox *notify.Outbox
	srv    *httptest.Server
}

func newLiftServer(t testing.TB, limit server.RateLimit, now func() time.Time) *liftServer {
	t.Helper()
	env := testenv.New(t)
	outbox, err := notify.OpenOutbox(filepath.Join(env.Dir, "outbox"), env.Clock)
	if err != nil {
		t.Fatal(err)
	}
	codeKey := make([]byte, 32)
	_, _ = rand.Read(codeKey)
	svc := lifttest.NewService(t, env.Store, env.Authority, env.Keys, outbox, codeKey)
	srv := httptest.NewServer(server.New(server.Config{Authority: env.Authority, Registration: svc, PublicRateLimit: limit,
		Now: now, MaxBodyBytes: 16 << 10, Logger: slog.New(slog.DiscardHandler)}).Handler())
	t.Cleanup(srv.Close)
	return &liftServer{env: env, svc: svc, outbox: outbox, srv: srv}
}

// liftCall sends body (a string sent as it is, or a value sent as JSON; nil
// for none) with the lift code in its header ("" for none).
func (l *liftServer) liftCall(t *testing.T, method, number, step, code string, body any) (int, http.Header, string) {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		rd = bytes.NewReader(j)
	}
	req, _ := http.NewRequest(method, l.srv.URL+"/api/v1/lift/"+number+"/"+step, rd)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if code != "" {
		req.Header.Set(server.LiftCodeHeader, code)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

func wantStatus(t *testing.T, got, want int, body string, contains ...string) {
	t.Helper()
	if got != want {
		t.Fatalf("status %d, want %d: %s", got, want, body)
	}
	for _, c := range contains {
		if !strings.Contains(body, c) {
			t.Fatalf("answer does not hold %q: %s", c, body)
		}
	}
}

func TestLiftHTTP(t *testing.T) {
	l := newLiftServer(t, server.RateLimit{Off: true}, nil)
	o := lifttest.ReadyOrder(t, l.svc, l.outbox, "qualified-sign", selo.DeliverySoftware)
	n, code := o.Number, o.LiftCode
	secrets := []string{code}
	noSecrets := func(body string) {
		t.Helper()
		for _, s := range secrets {
			if strings.Contains(body, s) {
				t.Fatalf("an answer repeats a code: %s", body)
			}
		}
	}

	st, h, body := l.liftCall(t, "GET", n, "status", "", nil)
	wantStatus(t, st, 401, body, server.LiftCodeHeader)
	st, h, body = l.liftCall(t, "GET", n, "status", code, nil)
	wantStatus(t, st, 200, body, `"step": "verify_email"`, `"ecdsa-p256"`, `"delivery": "software"`)
	if h.Get("Cache-Control") != "no-store" {
		t.Fatalf("Cache-Control %q", h.Get("Cache-Control"))
	}
	if lifttest.Count(t, l.outbox, o.Email, "Verification") != 0 {
		t.Fatal("status sent a verification e-mail")
	}
	st, _, body = l.liftCall(t, "POST", n, "start", code, nil)
	wantStatus(t, st, 200, body, `"step": "verify_email"`)
	emailCode := lifttest.EmailCode(t, l.outbox, o.Email)
	secrets = append(secrets, emailCode)

	// Out of order, wrong, malformed: clear errors that repeat no code.
	st, _, body = l.liftCall(t, "POST", n, "issue", code, nil)
	wantStatus(t, st, 409, body, "submit the key first")
	st, _, body = l.liftCall(t, "POST", n, "verify-email", code, map[string]string{"code": "999999"})
	wantStatus(t, st, 401, body, "wrong or has expired")
	noSecrets(body)
	st, _, body = l.liftCall(t, "POST", n, "verify-email", code, map[string]any{"code": emailCode, "extra": 1})
	wantStatus(t, st, 400, body, `unknown field`, `extra`)
	noSecrets(body)
	st, _, body = l.liftCall(t, "POST", n, "verify-email", code, map[string]string{})
	wantStatus(t, st, 400, body, `is required: the verification code`)
	st, _, body = l.liftCall(t, "POST", n, "verify-email", code, `{"code":`)
	wantStatus(t, st, 400, body, "ends in the middle")
	st, _, body = l.liftCall(t, "POST", n, "verify-email", code, map[string]string{"code": strings.Repeat("9", 65)})
	wantStatus(t, st, 400, body, "too long")
	st, _, body = l.liftCall(t, "POST", n, "verify-email", code, map[string]string{"code": strings.Repeat("9", 20<<10)})
	wantStatus(t, st, 413, body)
	st, _, body = l.liftCall(t, "GET", n, "verify-email", code, nil)
	wantStatus(t, st, 405, body, "POST")
	st, _, body = l.liftCall(t, "POST", strings.Repeat("S", 65), "status", code, nil)
	wantStatus(t, st, 400, body, "order number")

	st, _, body = l.liftCall(t, "POST", n, "verify-email", code, map[string]string{"code": emailCode})
	wantStatus(t, st, 200, body, `"step": "submit_key"`)
	noSecrets(body)

	// The CSR as base64 DER; a broken CSR first.
	st, _, body = l.liftCall(t, "POST", n, "key", code, map[string]string{"csr": "not base64!"})
	wantStatus(t, st, 400, body, "PEM")
	csrPEM, _ := testenv.CSR(t, "qualified-sign", "ecdsa-p256")
	block, _ := pem.Decode(csrPEM)
	st, _, body = l.liftCall(t, "POST", n, "key", code, map[string]string{"csr": base64.StdEncoding.EncodeToString(block.Bytes)})
	wantStatus(t, st, 200, body, `"step": "issue"`, `"public_key_sha256"`)

	var issued, fetched server.LiftCertificate
	st, _, body = l.liftCall(t, "POST", n, "issue", code, nil)
	wantStatus(t, st, 200, body, "BEGIN CERTIFICATE")
	json.Unmarshal([]byte(body), &issued)
	st, _, body = l.liftCall(t, "GET", n, "certificate", code, nil)
	wantStatus(t, st, 200, body)
	json.Unmarshal([]byte(body), &fetched)
	// The revocation code comes once, with the issue answer only.
	if issued.RevocationCode == "" || fetched.RevocationCode != "" {
		t.Fatalf("revocation code: issued %q, fetched %q", issued.RevocationCode, fetched.RevocationCode)
	}
	issued.RevocationCode = ""
	if issued.Serial == "" || issued != fetched {
		t.Fatalf("issued %+v, fetched %+v", issued, fetched)
	}
	leafBlock, _ := pem.Decode([]byte(issued.CertificatePEM))
	if leafBlock == nil || strings.Count(issued.ChainPEM, "BEGIN CERTIFICATE") != 2 {
		t.Fatalf("certificate answer %+v", issued)
	}
	st, _, body = l.liftCall(t, "POST", n, "issue", code, map[string]any{})
	wantStatus(t, st, 200, body, issued.Serial)
	st, _, body = l.liftCall(t, "POST", n, "delivered", code, nil)
	wantStatus(t, st, 200, body, `"step": "done"`, `"state": "delivered"`)

	certs, err := l.env.Store.ListCertificates(t.Context(), selo.CertificateFilter{})
	if err != nil || len(certs) != 1 {
		t.Fatalf("%d certificates, %v", len(certs), err)
	}
}

func TestLiftHTTPCloudAndLockout(t *testing.T) {
	l := newLiftServer(t, server.RateLimit{Off: true}, nil)
	o := lifttest.ReadyOrder(t, l.svc, l.outbox, "qualified-seal", selo.DeliveryCloud)
	// A CSR for a cloud order is refused; none is what it takes.
	l.liftCall(t, "POST", o.Number, "start", o.LiftCode, nil)
	st, _, body := l.liftCall(t, "POST", o.Number, "verify-email", o.LiftCode, map[string]string{"code": lifttest.EmailCode(t, l.outbox, o.Email)})
	wantStatus(t, st, 200, body)
	csr, _ := testenv.CSR(t, "qualified-seal", "ecdsa-p256")
	st, _, body = l.liftCall(t, "POST", o.Number, "key", o.LiftCode, map[string]string{"csr": string(csr)})
	wantStatus(t, st, 400, body, "send no CSR")
	st, _, body = l.liftCall(t, "POST", o.Number, "key", o.LiftCode, nil)
	wantStatus(t, st, 200, body, `"step": "issue"`)

	// Wrong lift codes are counted: the fifth locks the code (until a new
	// one is asked for), with the answer a wrong code gets, so that the
	// lock does not tell that the order exists (lift_abuse_test.go).
	for i := 1; i <= registration.DefaultMaxCodeFailures; i++ {
		st, _, body = l.liftCall(t, "GET", o.Number, "status", "AAAAAAAAAAAA", nil)
		wantStatus(t, st, 401, body, "wrong or has expired")
	}
	st, _, body = l.liftCall(t, "GET", o.Number, "status", o.LiftCode, nil)
	wantStatus(t, st, 401, body, "wrong or has expired")
	// An unknown order answers as a wrong code does.
	st, _, body = l.liftCall(t, "GET", "SO-2026-NOSUCHXX", "status", "AAAAAAAAAAAA", nil)
	wantStatus(t, st, 401, body, "wrong or has expired")
}

func TestLiftRateLimited(t *testing.T) {
	now := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	l := newLiftServer(t, server.RateLimit{PerMinute: 6, Burst: 3}, func() time.Time { return now })
	for i := 0; i < 3; i++ {
		st, _, body := l.liftCall(t, "GET", "SO-2026-NOSUCHXX", "status", "AAAAAAAAAAAA", nil)
		wantStatus(t, st, 401, body)
	}
	st, h, body := l.liftCall(t, "POST", "SO-2026-NOSUCHXX", "start", "AAAAAAAAAAAA", nil)
	wantStatus(t, st, 429, body, "too many requests")
	if h.Get("Retry-After") != "10" {
		t.Fatalf("Retry-After %q, want 10", h.Get("Retry-After"))
	}
}

// FuzzLiftBody sends arbitrary bodies to the lift steps that read one: a
// body is refused or reaches the code check, never an internal error.
func FuzzLiftBody(f *testing.F) {
	l := newLiftServer(f, server.RateLimit{Off: true}, nil)
	h := l.srv.Config.Handler
	f.Add("verify-email", []byte(`{"code":"123456"}`))
	f.Add("key", []byte(`{"csr":"MIIB"}`))
	f.Add("key", []byte(`{"csr":"-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n-----END CERTIFICATE REQUEST-----"}`))
	f.Add("start", []byte(`{}`))
	f.Add("delivered", []byte(`[]`))
	f.Fuzz(func(t *testing.T, step string, body []byte) {
		switch step {
		case "start", "verify-email", "key", "issue", "delivered":
		default:
			return
		}
		req := httptest.NewRequest("POST", "/api/v1/lift/SO-2026-NOSUCHXX/"+step, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(server.LiftCodeHeader, "AAAAAAAAAAAA")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("status %d for %q: %s", rec.Code, body, rec.Body)
		}
	})
}
