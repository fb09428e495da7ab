package server_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/selo-qtsp/selo/docsign/revocation"
	"github.com/selo-qtsp/selo/internal/testenv"
)

// TestRevocationCheckerAgainstServer runs the verifier's revocation checker
// (docsign/revocation) against Selo's own /ocsp and /crl endpoints: a good
// and a revoked certificate, by OCSP and, with OCSP unreachable, by CRL.
func TestRevocationCheckerAgainstServer(t *testing.T) {
	ts := newTestServer(t)
	ca := caCertificate(t, ts, testenv.QualifiedID)
	_, good, _ := issueWithKey(t, ts, "qualified-sign", "ecdsa-p256")
	revokedResp, revoked, _ := issueWithKey(t, ts, "qualified-sign", "ecdsa-p256")
	if resp, body := revokeAPI(t, ts, revokedResp.Serial, `{"reason":"keyCompromise"}`); resp.StatusCode != http.StatusCreated {
		t.Fatalf("revoke: %d %s", resp.StatusCode, body)
	}
	ts.env.Authority.WaitCRLs()

	// The certificates name the configured public URLs: send every request
	// to the test server instead, except OCSP when ocspDown is set.
	target, _ := url.Parse(ts.srv.URL)
	ocspDown := false
	client := &http.Client{Transport: roundTrip(func(r *http.Request) (*http.Response, error) {
		if ocspDown && strings.Contains(r.URL.Path, "ocsp") {
			return &http.Response{StatusCode: http.StatusServiceUnavailable, Status: "503 Service Unavailable", Body: http.NoBody, Request: r}, nil
		}
		r = r.Clone(r.Context())
		r.URL.Scheme, r.URL.Host, r.Host = target.Scheme, target.Host, ""
		return http.DefaultTransport.RoundTrip(r)
	})}
	checker := &revocation.Checker{Client: client}
	ctx := context.Background()
	for _, source := range []string{"OCSP", "CRL"} {
		ocspDown = source == "CRL"
		if st := checker.Check(ctx, good, ca); st.Status != revocation.Good || !strings.HasPrefix(st.Source, source+" http") {
			t.Fatalf("%s, good certificate: %+v", source, st)
		}
		st := checker.Check(ctx, revoked, ca)
		if st.Status != revocation.Revoked || st.Reason != "keyCompromise" || st.RevokedAt == nil || !strings.HasPrefix(st.Source, source+" http") {
			t.Fatalf("%s, revoked certificate: %+v", source, st)
		}
	}
}

type roundTrip func(*http.Request) (*http.Response, error)

func (f roundTrip) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
