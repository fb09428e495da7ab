package signing_test

import (
	"encoding/base32"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/approval"
	"github.com/selo-qtsp/selo/signing"
)

// secretOf reads the secret of an otpauth:// URI, as an app does.
func secretOf(t testing.TB, uri string) []byte {
	t.Helper()
	u, err := url.Parse(uri)
	if err != nil {
		t.Fatal(err)
	}
	s := strings.ToUpper(u.Query().Get("secret"))
	b, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(s)
	if err != nil {
		t.Fatalf("secret of %s: %v", uri, err)
	}
	return b
}

// paramsOf reads the OTP parameters of an otpauth:// URI.
func paramsOf(t testing.TB, uri string) approval.OTPParams {
	t.Helper()
	u, _ := url.Parse(uri)
	q := u.Query()
	p := approval.OTPParams{Algorithm: approval.Algorithm(q.Get("algorithm")), Period: 30 * time.Second, Digits: 6}
	if q.Get("digits") == "8" {
		p.Digits = 8
	}
	return p
}

func TestAuthorizer(t *testing.T) {
	f := newFixture(t)
	a := f.holder(t, "faturas@example.pt", "+351912345678")
	seal := f.credential(t, a, "qualified-seal", selo.ApprovalAuthorizer, selo.KeyECDSAP256)
	seal2 := f.credential(t, a, "qualified-seal", selo.ApprovalAuthorizer, selo.KeyECDSAP256)

	register := func(c *signing.CredentialInfo, name string) (*signing.AuthorizerSetup, []byte, approval.OTPParams) {
		t.Helper()
		z, err := f.svc.RegisterAuthorizer(ctx, a.ID, c.Credential.ID, name)
		if err != nil {
			t.Fatal(err)
		}
		setup, err := f.svc.ConfirmAuthorizer(ctx, a.ID, z.ID, f.sms.lastCode(t, a.Mobile))
		if err != nil {
			t.Fatal(err)
		}
		return setup, secretOf(t, setup.URI), paramsOf(t, setup.URI)
	}
	setup, secret, p := register(seal, "ERP")
	_, otherSecret, otherP := register(seal2, "other ERP")
	if got := setup.Authorization.NotAfter.Sub(setup.Authorization.NotBefore); got != 60*24*time.Hour {
		t.Fatalf("first authorization lasts %v", got)
	}

	hashes := digests(50, "invoices")
	authorize := func(code string) (*signing.AuthorizeResult, error) {
		return f.svc.Authorize(ctx, signing.AuthorizeRequest{AccountID: a.ID, CredentialID: seal.Credential.ID,
			HashAlgorithmOID: signing.OIDSHA256, Hashes: hashes, NumSignatures: len(hashes), OTP: code})
	}
	step := func() { f.clock.Add(30 * time.Second) }

	step()
	res, err := authorize(approval.TOTP(secret, f.clock.Now(), p))
	if err != nil {
		t.Fatal(err)
	}
	sigs, err := f.svc.SignHash(ctx, signing.SignHashRequest{AccountID: a.ID, CredentialID: seal.Credential.ID, SAD: res.SAD,
		HashAlgorithmOID: signing.OIDSHA256, Hashes: hashes, SignAlgo: signing.OIDECDSAWithSHA256})
	if err != nil {
		t.Fatal(err)
	}
	verifyECDSA(t, seal, hashes, sigs)

	t.Run("another credential's authorizer", func(t *testing.T) {
		step()
		_, err := authorize(approval.TOTP(otherSecret, f.clock.Now(), otherP))
		wantCode(t, err, selo.EUNAUTHORIZED)
	})
	t.Run("disabled", func(t *testing.T) {
		if err := f.svc.SetAuthorizerEnabled(ctx, a.ID, setup.Authorizer.ID, false); err != nil {
			t.Fatal(err)
		}
		step()
		_, err := authorize(approval.TOTP(secret, f.clock.Now(), p))
		wantCode(t, err, selo.EFORBIDDEN)
		if err := f.svc.SetAuthorizerEnabled(ctx, a.ID, setup.Authorizer.ID, true); err != nil {
			t.Fatal(err)
		}
		step()
		if _, err := authorize(approval.TOTP(secret, f.clock.Now(), p)); err != nil {
			t.Fatalf("re-enabled: %v", err)
		}
	})
	t.Run("expired authorization and renewal", func(t *testing.T) {
		f.clock.Add(61 * 24 * time.Hour)
		_, err := authorize(approval.TOTP(secret, f.clock.Now(), p))
		wantCode(t, err, selo.EFORBIDDEN)
		if err := f.svc.RequestAuthorizationRenewal(ctx, a.ID, setup.Authorizer.ID); err != nil {
			t.Fatal(err)
		}
		z, err := f.svc.RenewAuthorization(ctx, a.ID, setup.Authorizer.ID, f.sms.lastCode(t, a.Mobile))
		if err != nil {
			t.Fatal(err)
		}
		if !z.NotBefore.Equal(f.clock.Now()) {
			t.Fatalf("renewal after a lapse starts %v, want now %v", z.NotBefore, f.clock.Now())
		}
		step()
		if _, err := authorize(approval.TOTP(secret, f.clock.Now(), p)); err != nil {
			t.Fatalf("after renewal: %v", err)
		}
		list, err := f.svc.ListAuthorizers(ctx, a.ID, seal.Credential.ID)
		if err != nil || len(list) != 1 || len(list[0].Authorizations) != 2 || list[0].Authorizer.SealedSecret != nil {
			t.Fatalf("ListAuthorizers = %+v, %v", list, err)
		}
	})
}

func TestAuthorizerOnlyOnSeals(t *testing.T) {
	f := newFixture(t)
	a := f.holder(t, "ana@example.pt", "+351912345678")
	_, err := f.svc.CreateCredential(ctx, "operator", signing.CreateCredentialRequest{AccountID: a.ID, Profile: "qualified-sign",
		ApprovalType: selo.ApprovalAuthorizer, KeyAlgorithm: selo.KeyECDSAP256})
	wantCode(t, err, selo.EINVALID)
	_, err = f.svc.CreateCredential(ctx, "operator", signing.CreateCredentialRequest{AccountID: a.ID, Profile: "advanced-invoice",
		ApprovalType: selo.ApprovalAuthorizer, KeyAlgorithm: selo.KeyECDSAP256})
	wantCode(t, err, selo.EINVALID)
	_, err = f.svc.AttachOrderCredential(ctx, "operator", f.env.OrderCredential(t, a.Email, "qualified-sign", selo.ApprovalAuthorizer, selo.KeyECDSAP256))
	wantCode(t, err, selo.EINVALID)
	sign := f.credential(t, a, "qualified-sign", selo.ApprovalSMS, selo.KeyECDSAP256)
	_, err = f.svc.RegisterAuthorizer(ctx, a.ID, sign.Credential.ID, "ERP")
	wantCode(t, err, selo.EINVALID)
}
