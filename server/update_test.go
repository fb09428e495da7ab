package server_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/authority"
	"github.com/selo-qtsp/selo/internal/testenv"
	"github.com/selo-qtsp/selo/pki/pkitest"
	"github.com/selo-qtsp/selo/server"
)

// updateServer is a provider that issued a certificate under testenv's
// qualified CA, then made a new issuing CA, retired the old one and pointed
// the profile at the new one.
type updateServer struct {
	env  *testenv.Env
	auth *authority.Authority
	srv  *httptest.Server
	cert *selo.Certificate
	key  crypto.Signer
}

func newUpdateServer(t *testing.T, limit server.RateLimit) *updateServer {
	t.Helper()
	env := testenv.New(t)
	ctx := context.Background()
	key := pkitest.NewKey(t, "ecdsa-p256")
	cert, err := env.Authority.Issue(ctx, testenv.Actor, authority.IssueRequest{Profile: "qualified-sign",
		CSR: pkitest.NewCSR(t, key, pkitest.Request("qualified-sign", key.Public()))})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.Authority.CreateCA(ctx, testenv.Actor, authority.CreateCAOptions{ID: "qualified-ecc-t2", Name: "Selo Test Qualified CA ECC T2",
		ParentID: testenv.RootID, KeyAlgorithm: selo.KeyECDSAP256, ValidityDays: 3650}); err != nil {
		t.Fatal(err)
	}
	if _, err := env.Authority.RetireCA(ctx, testenv.Actor, testenv.QualifiedID); err != nil {
		t.Fatal(err)
	}
	auth, err := authority.New(authority.Config{Store: env.Store, Keys: env.Keys, Profiles: env.Profiles, Linter: env.Linter,
		BaseURL: testenv.BaseURL, ProfileCA: map[string]string{"qualified-sign": "qualified-ecc-t2"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = auth.Close() })
	reg := testenv.RegistrationService(t, env.Store, auth, env.Keys, nil)
	srv := httptest.NewServer(server.New(server.Config{Authority: auth, Registration: reg, PublicRateLimit: limit,
		Logger: slog.New(slog.DiscardHandler)}).Handler())
	t.Cleanup(srv.Close)
	return &updateServer{env: env, auth: auth, srv: srv, cert: cert, key: key}
}

func (u *updateServer) post(t *testing.T, path string, body any, out any) (int, server.ErrorBody) {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case string:
		rd = strings.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		rd = bytes.NewReader(j)
	}
	resp, err := http.Post(u.srv.URL+path, "application/json", rd)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		var e server.ErrorResponse
		_ = json.Unmarshal(raw, &e)
		return resp.StatusCode, e.Error
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q", cc)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatal(err)
		}
	}
	return resp.StatusCode, server.ErrorBody{}
}

func (u *updateServer) challenge(t *testing.T) server.UpdateChallengeResponse {
	t.Helper()
	var ch server.UpdateChallengeResponse
	pemCert := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: u.cert.DER}))
	if st, e := u.post(t, "/api/v1/update/challenge", server.UpdateChallengeRequest{Certificate: pemCert}, &ch); st != http.StatusOK {
		t.Fatalf("challenge: %d %+v", st, e)
	}
	return ch
}

func sign(t *testing.T, key crypto.Signer, text string) string {
	t.Helper()
	d := sha256.Sum256([]byte(text))
	sig, err := key.Sign(rand.Reader, d[:], crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(sig)
}

func TestUpdateOverHTTP(t *testing.T) {
	u := newUpdateServer(t, server.RateLimit{})
	ch := u.challenge(t)
	if ch.Serial != u.cert.Serial || !strings.HasPrefix(ch.Challenge, "selo-update-v1\n") || !ch.ExpiresAt.After(time.Now()) {
		t.Fatalf("challenge %+v", ch)
	}
	var res server.UpdateCompleteResponse
	if st, e := u.post(t, "/api/v1/update/complete", server.UpdateCompleteRequest{Challenge: ch.Challenge, Signature: sign(t, u.key, ch.Challenge)}, &res); st != http.StatusOK {
		t.Fatalf("complete: %d %+v", st, e)
	}
	block, _ := pem.Decode([]byte(res.Certificate))
	nw, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	old, _ := x509.ParseCertificate(u.cert.DER)
	if res.CA != "qualified-ecc-t2" || res.Replaced != u.cert.Serial || res.AlreadyUpdated || len(res.Chain) != 2 ||
		!bytes.Equal(nw.RawSubjectPublicKeyInfo, old.RawSubjectPublicKeyInfo) || !nw.NotAfter.Equal(old.NotAfter) {
		t.Fatalf("response %+v", res)
	}
	issuerBlock, _ := pem.Decode([]byte(res.Chain[0]))
	issuer, _ := x509.ParseCertificate(issuerBlock.Bytes)
	if err := nw.CheckSignatureFrom(issuer); err != nil {
		t.Fatal(err)
	}
	// Retried: the same certificate.
	ch = u.challenge(t)
	var again server.UpdateCompleteResponse
	u.post(t, "/api/v1/update/complete", server.UpdateCompleteRequest{Challenge: ch.Challenge, Signature: sign(t, u.key, ch.Challenge)}, &again)
	if !again.AlreadyUpdated || again.Serial != res.Serial {
		t.Fatalf("retry %+v", again)
	}
}

func TestUpdateOverHTTPRefusals(t *testing.T) {
	u := newUpdateServer(t, server.RateLimit{Off: true})
	ch := u.challenge(t)
	other := pkitest.NewKey(t, "ecdsa-p256")
	for _, tt := range []struct {
		name, path string
		body       any
		status     int
		code       string
	}{
		{"wrong signature", "/api/v1/update/complete", server.UpdateCompleteRequest{Challenge: ch.Challenge, Signature: sign(t, other, ch.Challenge)}, 401, selo.EUNAUTHORIZED},
		{"signature not base64", "/api/v1/update/complete", server.UpdateCompleteRequest{Challenge: ch.Challenge, Signature: "!!"}, 400, selo.EINVALID},
		{"signature too long", "/api/v1/update/complete", server.UpdateCompleteRequest{Challenge: ch.Challenge, Signature: strings.Repeat("A", 4096)}, 400, selo.EINVALID},
		{"no challenge", "/api/v1/update/complete", server.UpdateCompleteRequest{Signature: "AAAA"}, 400, selo.EINVALID},
		{"malformed challenge", "/api/v1/update/complete", server.UpdateCompleteRequest{Challenge: "sign me", Signature: "AAAA"}, 400, selo.EINVALID},
		{"unknown field", "/api/v1/update/complete", `{"challenge":"x","signature":"AAAA","pin":"1234"}`, 400, selo.EINVALID},
		{"not json", "/api/v1/update/challenge", `certificate=1`, 400, selo.EINVALID},
		{"no certificate", "/api/v1/update/challenge", server.UpdateChallengeRequest{}, 400, selo.EINVALID},
		{"certificate not base64", "/api/v1/update/challenge", server.UpdateChallengeRequest{Certificate: "%%%"}, 400, selo.EINVALID},
		{"certificate of another provider", "/api/v1/update/challenge", server.UpdateChallengeRequest{Certificate: base64.StdEncoding.EncodeToString(u.env.Root.CertDER)}, 404, selo.ENOTFOUND},
		{"body too large", "/api/v1/update/challenge", server.UpdateChallengeRequest{Certificate: strings.Repeat("A", server.DefaultMaxBodyBytes)}, 413, selo.ETOOLARGE},
	} {
		t.Run(tt.name, func(t *testing.T) {
			st, e := u.post(t, tt.path, tt.body, nil)
			if st != tt.status || e.Code != tt.code || e.Message == "" {
				t.Fatalf("got %d %+v, want %d %s", st, e, tt.status, tt.code)
			}
		})
	}
	// Revoked: refused before any challenge.
	if _, _, err := u.auth.Revoke(context.Background(), "officer", authority.RevokeRequest{Serial: u.cert.Serial, Reason: selo.ReasonKeyCompromise}); err != nil {
		t.Fatal(err)
	}
	st, e := u.post(t, "/api/v1/update/challenge", server.UpdateChallengeRequest{Certificate: base64.StdEncoding.EncodeToString(u.cert.DER)}, nil)
	if st != http.StatusForbidden || !strings.Contains(e.Message, "revoked") {
		t.Fatalf("revoked: %d %+v", st, e)
	}
	// GET is not a method here.
	resp, err := http.Get(u.srv.URL + "/api/v1/update/challenge")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("GET: %d", resp.StatusCode)
	}
}

func TestUpdateRateLimited(t *testing.T) {
	u := newUpdateServer(t, server.RateLimit{PerMinute: 1, Burst: 2})
	for i := range 3 {
		st, e := u.post(t, "/api/v1/update/complete", server.UpdateCompleteRequest{Challenge: "x", Signature: "AAAA"}, nil)
		if i < 2 && st != http.StatusBadRequest || i == 2 && (st != http.StatusTooManyRequests || e.Code != server.ETOOMANYREQUESTS) {
			t.Fatalf("request %d: %d %+v", i, st, e)
		}
	}
}
