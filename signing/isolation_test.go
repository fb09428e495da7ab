package signing_test

import (
	"testing"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/signing"
)

// TestHolderIsolation: holder B reaches none of holder A's objects through
// any method, and every answer is the one for an object that does not exist.
func TestHolderIsolation(t *testing.T) {
	f := newFixture(t)
	a := f.holder(t, "ana@example.pt", "+351912345678")
	b := f.holder(t, "bruno@example.pt", "+351912345679")
	smsCred := f.credential(t, a, "qualified-sign", selo.ApprovalSMS, selo.KeyECDSAP256)
	seal := f.credential(t, a, "qualified-seal", selo.ApprovalAuthorizer, selo.KeyECDSAP256)
	enr, err := f.svc.EnrollAuthenticator(ctx, a.ID, "phone", signing.FactorProof{IdentityCheckedBy: "operator:test"})
	if err != nil {
		t.Fatal(err)
	}
	z, err := f.svc.RegisterAuthorizer(ctx, a.ID, seal.Credential.ID, "ERP")
	if err != nil {
		t.Fatal(err)
	}
	hashes := digests(1, "iso")
	sad := sadFor(t, f, a, smsCred, hashes)

	list, err := f.svc.ListCredentials(ctx, b.ID)
	if err != nil || len(list) != 0 {
		t.Fatalf("B lists %d credentials: %v", len(list), err)
	}
	if ls, _ := f.svc.ListAuthenticators(ctx, b.ID); len(ls) != 0 {
		t.Fatal("B lists A's authenticators")
	}
	for _, tt := range []struct {
		name string
		call func() error
		code string
	}{
		{"CredentialInfo", func() error { _, err := f.svc.CredentialInfo(ctx, b.ID, smsCred.Credential.ID); return err }, selo.ENOTFOUND},
		{"SendOTP", func() error { return f.svc.SendOTP(ctx, b.ID, smsCred.Credential.ID) }, selo.ENOTFOUND},
		{"Authorize", func() error {
			_, err := f.svc.Authorize(ctx, signing.AuthorizeRequest{AccountID: b.ID, CredentialID: smsCred.Credential.ID,
				HashAlgorithmOID: signing.OIDSHA256, Hashes: hashes, NumSignatures: 1, OTP: "123456"})
			return err
		}, selo.ENOTFOUND},
		{"SignHash", func() error {
			_, err := f.svc.SignHash(ctx, signing.SignHashRequest{AccountID: b.ID, CredentialID: smsCred.Credential.ID, SAD: sad,
				HashAlgorithmOID: signing.OIDSHA256, Hashes: hashes, SignAlgo: signing.OIDECDSAWithSHA256})
			return err
		}, selo.EUNAUTHORIZED},
		{"ConfirmAuthenticator", func() error { return f.svc.ConfirmAuthenticator(ctx, b.ID, enr.Authenticator.ID, "123456") }, selo.ENOTFOUND},
		{"DeleteAuthenticator", func() error {
			return f.svc.DeleteAuthenticator(ctx, b.ID, enr.Authenticator.ID, signing.FactorProof{IdentityCheckedBy: "operator:test"})
		}, selo.ENOTFOUND},
		{"RegisterAuthorizer", func() error { _, err := f.svc.RegisterAuthorizer(ctx, b.ID, seal.Credential.ID, "mine"); return err }, selo.ENOTFOUND},
		{"ConfirmAuthorizer", func() error { _, err := f.svc.ConfirmAuthorizer(ctx, b.ID, z.ID, "123456"); return err }, selo.ENOTFOUND},
		{"RequestAuthorizationRenewal", func() error { return f.svc.RequestAuthorizationRenewal(ctx, b.ID, z.ID) }, selo.ENOTFOUND},
		{"RenewAuthorization", func() error { _, err := f.svc.RenewAuthorization(ctx, b.ID, z.ID, "123456"); return err }, selo.ENOTFOUND},
		{"SetAuthorizerEnabled", func() error { return f.svc.SetAuthorizerEnabled(ctx, b.ID, z.ID, true) }, selo.ENOTFOUND},
		{"ListAuthorizers", func() error { _, err := f.svc.ListAuthorizers(ctx, b.ID, seal.Credential.ID); return err }, selo.ENOTFOUND},
	} {
		t.Run(tt.name, func(t *testing.T) { wantCode(t, tt.call(), tt.code) })
	}
	// A's SAD was burnt by B's attempt, and A's authenticator still exists.
	if ls, _ := f.svc.ListAuthenticators(ctx, a.ID); len(ls) != 1 {
		t.Fatal("B deleted A's authenticator")
	}
}
