package signing_test

import (
	"strings"
	"testing"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/authority"
	"github.com/selo-qtsp/selo/signing"
)

// TestNoApprovalForARevokedCertificate: once the credential's certificate is
// revoked, neither an SMS is sent nor a code checked; the refusal says why
// (issue 12: no approval asked for a signature that cannot happen).
func TestNoApprovalForARevokedCertificate(t *testing.T) {
	f := newFixture(t)
	a := f.holder(t, "ana@example.pt", "+351912345678")
	c := f.credential(t, a, "qualified-sign", selo.ApprovalSMS, selo.KeyECDSAP256)
	if _, _, err := f.env.Authority.Revoke(ctx, "officer", authority.RevokeRequest{Serial: c.Credential.CertificateSerial,
		Reason: selo.ReasonKeyCompromise}); err != nil {
		t.Fatal(err)
	}
	before := len(f.sms.texts(t, ""))
	err := f.svc.SendOTP(ctx, a.ID, c.Credential.ID)
	if selo.ErrorCode(err) != selo.EFORBIDDEN || !strings.Contains(selo.ErrorMessage(err), "revoked") {
		t.Fatalf("SendOTP for a revoked certificate: %v, want EFORBIDDEN naming the revocation", err)
	}
	after := len(f.sms.texts(t, ""))
	if after != before {
		t.Fatal("an SMS code was sent for a credential whose certificate is revoked")
	}
	_, err = f.svc.Authorize(ctx, signing.AuthorizeRequest{AccountID: a.ID, CredentialID: c.Credential.ID,
		HashAlgorithmOID: "2.16.840.1.101.3.4.2.1", Hashes: digests(1, "x"), NumSignatures: 1, OTP: "123456"})
	if selo.ErrorCode(err) != selo.EFORBIDDEN || !strings.Contains(selo.ErrorMessage(err), "revoked") {
		t.Fatalf("Authorize for a revoked certificate: %v, want EFORBIDDEN naming the revocation", err)
	}
}
