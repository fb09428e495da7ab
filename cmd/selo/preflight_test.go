package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/authority"
)

// TestLocalFailureSpendsNoApproval (issue 12 item 8): an output folder that
// does not exist fails 'csc sign-hash', 'sign file', 'sign xml' and 'sign
// pdf' before the approval code is sent to the service, so the same
// authenticator code still signs on the retry.
func TestLocalFailureSpendsNoApproval(t *testing.T) {
	t.Parallel()
	s := newCSCServer(t)
	cred := s.credential(t, selo.ApprovalAuthenticator, selo.KeyECDSAP256)
	otp := writeFile(t, filepath.Join(t.TempDir(), "otp"), s.authenticatorCode(t))
	dir := t.TempDir()
	tf := filepath.Join(dir, "token.json")
	mustRunSelo(t, "csc", "login", "--server", s.url, "--email", "maria@example.pt", "--password-file", s.pwFile, "--token-file", tf)
	doc := writeFile(t, filepath.Join(dir, "invoice.xml"), "<Invoice><ID>1</ID></Invoice>")
	pdf := filepath.Join(dir, "lease.pdf")
	if err := os.WriteFile(pdf, onePagePDF(), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing")
	key := []string{"--credential", cred, "--token-file", tf, "--otp-file", otp}

	wantExit(t, runSelo(t, "csc", "sign-hash", cred, "--file", doc, "--out-dir", missing, "--token-file", tf, "--otp-file", otp), 1, "no such folder", "no approval was used")
	wantExit(t, runSelo(t, "csc", "sign-hash", cred, "--file", doc, "--cert-out", filepath.Join(missing, "chain.pem"), "--token-file", tf, "--otp-file", otp), 1, "no such folder")
	wantExit(t, runSelo(t, append([]string{"sign", "file", doc, "--out", filepath.Join(missing, "invoice.p7s")}, key...)...), 1, "no such folder")
	wantExit(t, runSelo(t, append([]string{"sign", "xml", doc, filepath.Join(missing, "invoice.xml")}, key...)...), 1, "no such folder")
	wantExit(t, runSelo(t, append([]string{"sign", "pdf", pdf, filepath.Join(missing, "lease.pdf")}, key...)...), 1, "no such folder")
	wantExit(t, runSelo(t, append([]string{"sign", "batch", dir, "--out", filepath.Join(doc, "sub"), "--format", "xades"}, key...)...), 1)

	// The code was never used: the retry with a folder that exists signs.
	out := t.TempDir()
	r := mustRunSelo(t, "csc", "sign-hash", cred, "--file", doc, "--out-dir", out, "--token-file", tf, "--otp-file", otp)
	if !strings.Contains(r.stderr, "1 signature(s)") {
		t.Fatalf("retry after a local failure:\n%s", r)
	}
	if _, err := os.Stat(filepath.Join(out, "invoice.xml.sig")); err != nil {
		t.Fatal(err)
	}
}

// TestRevokedCredentialAsksNoApproval: a credential whose certificate is
// revoked is refused by 'csc sign-hash' before the holder is texted.
func TestRevokedCredentialAsksNoApproval(t *testing.T) {
	t.Parallel()
	s := newCSCServer(t)
	cred := s.credential(t, selo.ApprovalSMS, selo.KeyECDSAP256)
	dir := t.TempDir()
	tf := filepath.Join(dir, "token.json")
	mustRunSelo(t, "csc", "login", "--server", s.url, "--email", "maria@example.pt", "--password-file", s.pwFile, "--token-file", tf)
	s.revokeCredential(t, cred)
	doc := writeFile(t, filepath.Join(dir, "a.txt"), "a")
	otp := writeFile(t, filepath.Join(dir, "otp"), "123456")
	wantExit(t, runSelo(t, "csc", "sign-hash", cred, "--file", doc, "--token-file", tf, "--otp-file", otp), 1, "revoked", "no approval was asked for")
	wantExit(t, runSelo(t, "csc", "send-otp", cred, "--token-file", tf), 1, "revoked")
}

// revokeCredential revokes the certificate of the credential, as an officer would.
func (s *cscServer) revokeCredential(t *testing.T, cred string) {
	t.Helper()
	c, err := s.svc.CredentialInfo(context.Background(), s.acct.ID, cred)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.env.Authority.Revoke(context.Background(), "operator", authority.RevokeRequest{Serial: c.Credential.CertificateSerial}); err != nil {
		t.Fatal(err)
	}
}
