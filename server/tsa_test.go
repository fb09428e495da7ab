package server_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/selo-qtsp/selo/authority"
	"github.com/selo-qtsp/selo/internal/signtest"
	"github.com/selo-qtsp/selo/internal/testenv"
	"github.com/selo-qtsp/selo/pki/timestamp"
	"github.com/selo-qtsp/selo/server"
	"github.com/selo-qtsp/selo/tsa"
)

type tsaServer struct {
	url   string
	env   *testenv.Env
	chain []*x509.Certificate // TSA certificate, issuing CA
}

func newTSAServer(t *testing.T, limit server.RateLimit) *tsaServer {
	t.Helper()
	env := testenv.New(t)
	ctx := context.Background()
	rec, err := env.Authority.IssueTimestamping(ctx, "test", authority.TimestampingRequest{CAID: testenv.QualifiedID})
	if err != nil {
		t.Fatal(err)
	}
	caChain, _ := env.Authority.Chain(ctx, testenv.QualifiedID)
	r, err := tsa.Load(ctx, env.Store, env.Keys, rec.Serial, caChain[:len(caChain)-1], tsa.Config{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(server.New(server.Config{
		Authority: env.Authority, TSA: r, PublicRateLimit: limit, Logger: slog.New(slog.DiscardHandler),
	}).Handler())
	t.Cleanup(srv.Close)
	return &tsaServer{url: srv.URL, env: env, chain: append([]*x509.Certificate{r.Certificate()}, caChain[:len(caChain)-1]...)}
}

func post(t *testing.T, url, contentType string, body []byte) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// TestTSAWithOpenSSL: openssl ts -query makes the request, POST /tsa answers,
// openssl ts -verify accepts the reply with the chain from the server.
func TestTSAWithOpenSSL(t *testing.T) {
	openssl := signtest.OpenSSL(t)
	ts := newTSAServer(t, server.RateLimit{})
	dir := t.TempDir()
	data := filepath.Join(dir, "contract.pdf")
	os.WriteFile(data, []byte("%PDF-1.7 contract"), 0o600)
	query := filepath.Join(dir, "q.tsq")
	if out, err := signtest.Run(openssl, "ts", "-query", "-data", data, "-sha256", "-cert", "-out", query); err != nil {
		t.Fatalf("openssl ts -query: %v\n%s", err, out)
	}
	q, _ := os.ReadFile(query)
	resp, body := post(t, ts.url+"/tsa", timestamp.ContentTypeQuery, q)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != timestamp.ContentTypeReply {
		t.Fatalf("status %d, type %q: %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	tsr := filepath.Join(dir, "r.tsr")
	os.WriteFile(tsr, body, 0o600)
	rootCert, _ := x509.ParseCertificate(ts.env.Root.CertDER)
	root := signtest.WritePEM(t, dir, "root.pem", rootCert)
	chain := signtest.WritePEM(t, dir, "tsa-chain.pem", ts.chain...)
	out, err := signtest.Run(openssl, "ts", "-verify", "-data", data, "-in", tsr, "-CAfile", root, "-untrusted", chain)
	if err != nil || !strings.Contains(out, "Verification: OK") {
		t.Fatalf("openssl ts -verify: %v\n%s", err, out)
	}
	// A request the TSA refuses is still a TimeStampResp, with the reason.
	resp, body = post(t, ts.url+"/tsa", timestamp.ContentTypeQuery, []byte("garbage"))
	r, err := timestamp.ParseResponse(body)
	if resp.StatusCode != http.StatusOK || err != nil || r.Status != timestamp.StatusRejection || r.Fail != timestamp.FailBadDataFormat {
		t.Fatalf("garbage: status %d, %+v, %v", resp.StatusCode, r, err)
	}
}

func TestTSAHTTPErrors(t *testing.T) {
	ts := newTSAServer(t, server.RateLimit{PerMinute: 1, Burst: 3})
	if resp, body := post(t, ts.url+"/tsa", "application/json", []byte("{}")); resp.StatusCode != http.StatusUnsupportedMediaType {
		t.Fatalf("wrong type: %d %s", resp.StatusCode, body)
	}
	if resp, body := post(t, ts.url+"/tsa", timestamp.ContentTypeQuery, make([]byte, timestamp.MaxRequestSize+1)); resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("too large: %d %s", resp.StatusCode, body)
	}
	resp, err := http.Get(ts.url + "/tsa")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("GET: %d", resp.StatusCode)
	}
	// The burst is spent: the next request is refused with 429.
	if resp, body := post(t, ts.url+"/tsa", timestamp.ContentTypeQuery, []byte{0x30, 0}); resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("after burst: %d %s", resp.StatusCode, body)
	}
}

func TestTSAOffWhenNotConfigured(t *testing.T) {
	ts := newTestServer(t)
	resp, _ := ts.do(t, http.MethodPost, "/tsa", bytes.NewReader([]byte{0x30, 0}), "Content-Type", timestamp.ContentTypeQuery)
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("status %d, want 404", resp.StatusCode)
	}
}
