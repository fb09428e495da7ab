package server_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/selo-qtsp/selo/docsign/revocation"
	"github.com/selo-qtsp/selo/internal/signtest"
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
	ocspDown := false
	client := signtest.RedirectClient(ts.srv.URL, func(r *http.Request) *http.Response {
		if ocspDown && strings.Contains(r.URL.Path, "ocsp") {
			return signtest.Unavailable(r)
		}
		return nil
	})
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
