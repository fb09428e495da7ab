package signing_test

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha512"
	"testing"
	"time"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/approval"
	"github.com/selo-qtsp/selo/signing"
)

var ctx = context.Background()

func TestLoginAndSessions(t *testing.T) {
	f := newFixture(t)
	a := f.holder(t, "Ana@Example.pt", "+351912345678")

	token, sess, err := f.svc.Login(ctx, " ana@example.PT", password)
	if err != nil || sess.AccountID != a.ID || len(token) != 43 {
		t.Fatalf("Login = %q, %+v, %v", token, sess, err)
	}
	if got, err := f.svc.Authenticate(ctx, token); err != nil || got.AccountID != a.ID {
		t.Fatalf("Authenticate = %+v, %v", got, err)
	}
	_, _, err = f.svc.Login(ctx, "nobody@example.pt", password)
	wantCode(t, err, selo.EUNAUTHORIZED)
	_, _, err2 := f.svc.Login(ctx, "ana@example.pt", "wrong password!")
	if selo.ErrorMessage(err) != selo.ErrorMessage(err2) {
		t.Fatalf("unknown e-mail says %q, wrong password says %q: must be the same", selo.ErrorMessage(err), selo.ErrorMessage(err2))
	}
	_, err = f.svc.Authenticate(ctx, token+"x")
	wantCode(t, err, selo.EUNAUTHORIZED)

	f.clock.Add(time.Hour)
	_, err = f.svc.Authenticate(ctx, token)
	wantCode(t, err, selo.EUNAUTHORIZED)

	token, _, err = f.svc.Login(ctx, "ana@example.pt", password)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.svc.Logout(ctx, token); err != nil {
		t.Fatal(err)
	}
	_, err = f.svc.Authenticate(ctx, token)
	wantCode(t, err, selo.EUNAUTHORIZED)
}

// TestPasswordPastLockout: MaxFailures wrong passwords lock the e-mail
// (whether or not it has an account, with the same answer); while locked
// even the right password is refused, unless it comes with a code of the
// account's authenticator; the lock ends with its window.
func TestPasswordPastLockout(t *testing.T) {
	f := newFixture(t)
	a := f.holder(t, "ana@example.pt", "+351912345678")
	var locked [2]error
	for i, email := range []string{"ana@example.pt", "nobody@example.pt"} {
		for j := 0; j < signing.MaxFailures; j++ {
			_, _, err := f.svc.Login(ctx, email, "guess number "+string(rune('0'+j)))
			wantCode(t, err, selo.EUNAUTHORIZED)
		}
		_, _, locked[i] = f.svc.Login(ctx, email, password)
		wantCode(t, locked[i], selo.ETOOMANYREQUESTS)
	}
	if selo.ErrorMessage(locked[0]) != selo.ErrorMessage(locked[1]) || selo.RetryAfter(locked[0]) != selo.RetryAfter(locked[1]) {
		t.Fatalf("a locked account says %q, a locked unknown e-mail %q: must be the same", selo.ErrorMessage(locked[0]), selo.ErrorMessage(locked[1]))
	}
	if selo.RetryAfter(locked[0]) != selo.DefaultLoginLimit.Window {
		t.Fatalf("retry after %s, want %s", selo.RetryAfter(locked[0]), selo.DefaultLoginLimit.Window)
	}

	// The holder's way past the lock: the password and an authenticator code.
	enr, err := f.svc.EnrollAuthenticator(ctx, a.ID, "phone", signing.FactorProof{IdentityCheckedBy: "operator:test"})
	if err != nil {
		t.Fatal(err)
	}
	secret, p := secretOf(t, enr.URI), paramsOf(t, enr.URI)
	if err := f.svc.ConfirmAuthenticator(ctx, a.ID, enr.Authenticator.ID, approval.TOTP(secret, f.clock.Now(), p)); err != nil {
		t.Fatal(err)
	}
	f.clock.Add(30 * time.Second)
	code := approval.TOTP(secret, f.clock.Now(), p)
	_, _, err = f.svc.LoginHolder(ctx, "ana@example.pt", "a wrong password", code)
	wantCode(t, err, selo.ETOOMANYREQUESTS)
	if _, _, err := f.svc.LoginHolder(ctx, "ana@example.pt", password, code); err != nil {
		t.Fatalf("password and authenticator code on a locked e-mail: %v", err)
	}
	if !f.audited(t, "account.login", "account/"+a.ID, selo.OutcomeSuccess) {
		t.Fatal("the login past the lock is not audited")
	}
	_, _, err = f.svc.LoginHolder(ctx, "ana@example.pt", password, code)
	wantCode(t, err, selo.ETOOMANYREQUESTS) // the code is single use

	f.clock.Add(selo.DefaultLoginLimit.Window)
	if _, _, err := f.svc.Login(ctx, "ana@example.pt", password); err != nil {
		t.Fatalf("login after the window: %v", err)
	}
}

func TestSMSApprovalSignsBatch(t *testing.T) {
	f := newFixture(t)
	a := f.holder(t, "ana@example.pt", "+351912345678")
	c := f.credential(t, a, "qualified-sign", selo.ApprovalSMS, selo.KeyECDSAP256)
	if c.KeyBits != 256 || len(c.Chain) != 2 || c.Credential.KeyID != "order/"+c.Credential.ID { // made by an order
		t.Fatalf("credential info: bits %d, chain %d, key %s", c.KeyBits, len(c.Chain), c.Credential.KeyID)
	}
	if _, err := f.env.Keys.ExportKey(ctx, c.Credential.KeyID); selo.ErrorCode(err) != selo.EFORBIDDEN {
		t.Fatalf("credential key is exportable: %v", err)
	}
	id := c.Credential.ID
	hashes := digests(100, "sms")

	// Authorize before sendOTP: no code to match.
	_, err := f.svc.Authorize(ctx, signing.AuthorizeRequest{AccountID: a.ID, CredentialID: id, HashAlgorithmOID: signing.OIDSHA256, Hashes: hashes, NumSignatures: 100, OTP: "123456"})
	wantCode(t, err, selo.EUNAUTHORIZED)

	if err := f.svc.SendOTP(ctx, a.ID, id); err != nil {
		t.Fatal(err)
	}
	code := f.sms.lastCode(t, "+351912345678")
	res, err := f.svc.Authorize(ctx, signing.AuthorizeRequest{AccountID: a.ID, CredentialID: id, HashAlgorithmOID: signing.OIDSHA256, Hashes: hashes, NumSignatures: 100, OTP: code})
	if err != nil || res.SAD == "" || res.ExpiresIn <= 0 {
		t.Fatalf("Authorize = %+v, %v", res, err)
	}
	// The code is single use.
	_, err = f.svc.Authorize(ctx, signing.AuthorizeRequest{AccountID: a.ID, CredentialID: id, HashAlgorithmOID: signing.OIDSHA256, Hashes: hashes, NumSignatures: 100, OTP: code})
	wantCode(t, err, selo.EUNAUTHORIZED)

	sigs, err := f.svc.SignHash(ctx, signing.SignHashRequest{AccountID: a.ID, CredentialID: id, SAD: res.SAD,
		HashAlgorithmOID: signing.OIDSHA256, Hashes: hashes, SignAlgo: signing.OIDECDSAWithSHA256})
	if err != nil {
		t.Fatal(err)
	}
	verifyECDSA(t, c, hashes, sigs)
	if !f.audited(t, "signature.sign", "credential/"+id, selo.OutcomeSuccess) {
		t.Fatal("signing is not audited")
	}
	// Second use of the SAD.
	_, err = f.svc.SignHash(ctx, signing.SignHashRequest{AccountID: a.ID, CredentialID: id, SAD: res.SAD,
		HashAlgorithmOID: signing.OIDSHA256, Hashes: hashes, SignAlgo: signing.OIDECDSAWithSHA256})
	wantCode(t, err, selo.EUNAUTHORIZED)
}

// sadFor authorizes hashes for an SMS credential and returns the SAD.
func sadFor(t *testing.T, f *fixture, a *selo.Account, c *signing.CredentialInfo, hashes [][]byte) string {
	t.Helper()
	if err := f.svc.SendOTP(ctx, a.ID, c.Credential.ID); err != nil {
		t.Fatal(err)
	}
	res, err := f.svc.Authorize(ctx, signing.AuthorizeRequest{AccountID: a.ID, CredentialID: c.Credential.ID,
		HashAlgorithmOID: signing.OIDSHA256, Hashes: hashes, NumSignatures: len(hashes), OTP: f.sms.lastCode(t, a.Mobile)})
	if err != nil {
		t.Fatal(err)
	}
	return res.SAD
}

func TestSADBinding(t *testing.T) {
	f := newFixture(t)
	a := f.holder(t, "ana@example.pt", "+351912345678")
	b := f.holder(t, "bruno@example.pt", "+351912345679")
	ca := f.credential(t, a, "qualified-sign", selo.ApprovalSMS, selo.KeyECDSAP256)
	ca2 := f.credential(t, a, "qualified-sign", selo.ApprovalSMS, selo.KeyECDSAP256)
	hashes := digests(3, "bind")
	sign := func(account, cred, sad string, hs [][]byte) error {
		_, err := f.svc.SignHash(ctx, signing.SignHashRequest{AccountID: account, CredentialID: cred, SAD: sad,
			HashAlgorithmOID: signing.OIDSHA256, Hashes: hs, SignAlgo: signing.OIDECDSAWithSHA256})
		return err
	}
	for _, tt := range []struct {
		name    string
		account string
		cred    string
		hashes  [][]byte
	}{
		{"other hashes", a.ID, ca.Credential.ID, digests(3, "other")},
		{"hashes reordered", a.ID, ca.Credential.ID, [][]byte{hashes[1], hashes[0], hashes[2]}},
		{"fewer hashes", a.ID, ca.Credential.ID, hashes[:2]},
		{"another credential", a.ID, ca2.Credential.ID, hashes},
		{"another user's token", b.ID, ca.Credential.ID, hashes},
	} {
		t.Run(tt.name, func(t *testing.T) {
			sad := sadFor(t, f, a, ca, hashes)
			wantCode(t, sign(tt.account, tt.cred, sad, tt.hashes), selo.EUNAUTHORIZED)
			// The SAD was burnt by the attempt: not even the right request works now.
			wantCode(t, sign(a.ID, ca.Credential.ID, sad, hashes), selo.EUNAUTHORIZED)
		})
	}
	t.Run("expired", func(t *testing.T) {
		sad := sadFor(t, f, a, ca, hashes)
		f.clock.Add(signing.DefaultSADLifetime)
		wantCode(t, sign(a.ID, ca.Credential.ID, sad, hashes), selo.EUNAUTHORIZED)
	})
	t.Run("bad input", func(t *testing.T) {
		sad := sadFor(t, f, a, ca, hashes)
		_, err := f.svc.SignHash(ctx, signing.SignHashRequest{AccountID: a.ID, CredentialID: ca.Credential.ID, SAD: sad,
			HashAlgorithmOID: signing.OIDSHA256, Hashes: [][]byte{{1, 2, 3}}, SignAlgo: signing.OIDECDSAWithSHA256})
		wantCode(t, err, selo.EINVALID)
		_, err = f.svc.SignHash(ctx, signing.SignHashRequest{AccountID: a.ID, CredentialID: ca.Credential.ID, SAD: sad,
			HashAlgorithmOID: signing.OIDSHA256, Hashes: hashes, SignAlgo: signing.OIDSHA256WithRSA})
		wantCode(t, err, selo.EINVALID)
	})
}

func TestSixthWrongOTP(t *testing.T) {
	f := newFixture(t)
	a := f.holder(t, "ana@example.pt", "+351912345678")
	c := f.credential(t, a, "qualified-sign", selo.ApprovalSMS, selo.KeyECDSAP256)
	id := c.Credential.ID
	hashes := digests(1, "lock")
	if err := f.svc.SendOTP(ctx, a.ID, id); err != nil {
		t.Fatal(err)
	}
	code := f.sms.lastCode(t, a.Mobile)
	wrong := "000000"
	if code == wrong {
		wrong = "111111"
	}
	authorize := func(otp string) error {
		_, err := f.svc.Authorize(ctx, signing.AuthorizeRequest{AccountID: a.ID, CredentialID: id, HashAlgorithmOID: signing.OIDSHA256, Hashes: hashes, NumSignatures: 1, OTP: otp})
		return err
	}
	for i := 0; i < signing.MaxFailures; i++ {
		wantCode(t, authorize(wrong), selo.EUNAUTHORIZED)
	}
	// The sixth try, even with the right code, is refused: the credential is locked.
	wantCode(t, authorize(code), selo.EFORBIDDEN)
	if !f.audited(t, "credential.lock", "credential/"+id, selo.OutcomeSuccess) || !f.audited(t, "approval.failure", "credential/"+id, selo.OutcomeFailure) {
		t.Fatal("failures and lock are not audited")
	}
	f.clock.Add(approval.CoolingOff(1) + time.Second)
	// The approval died with the lock: its code is worthless after the cooling-off.
	wantCode(t, authorize(code), selo.EUNAUTHORIZED)
	if err := f.svc.SendOTP(ctx, a.ID, id); err != nil {
		t.Fatal(err)
	}
	if err := authorize(f.sms.lastCode(t, a.Mobile)); err != nil {
		t.Fatalf("fresh code after the cooling-off: %v", err)
	}
}

func TestAuthenticatorApprovalRSA(t *testing.T) {
	f := newFixture(t)
	a := f.holder(t, "ana@example.pt", "+351912345678")
	c := f.credential(t, a, "qualified-seal", selo.ApprovalAuthenticator, selo.KeyRSA3072)
	if c.KeyBits != 3072 {
		t.Fatalf("key bits %d", c.KeyBits)
	}
	enr, err := f.svc.EnrollAuthenticator(ctx, a.ID, "phone", signing.FactorProof{IdentityCheckedBy: "operator:test"})
	if err != nil || len(enr.QRPNG) == 0 || enr.QRTerminal == "" {
		t.Fatalf("EnrollAuthenticator = %+v, %v", enr, err)
	}
	secret := secretOf(t, enr.URI)
	p := approval.OTPParams{Algorithm: approval.AlgSHA1, Digits: 6, Period: 30 * time.Second}
	list, _ := f.svc.ListAuthenticators(ctx, a.ID)
	if len(list) != 1 || list[0].SealedSecret != nil {
		t.Fatalf("ListAuthenticators = %+v", list)
	}

	hashes := [][]byte{sha512Of("one"), sha512Of("two")}
	authorize := func(code string) (*signing.AuthorizeResult, error) {
		return f.svc.Authorize(ctx, signing.AuthorizeRequest{AccountID: a.ID, CredentialID: c.Credential.ID,
			HashAlgorithmOID: signing.OIDSHA512, Hashes: hashes, NumSignatures: 2, OTP: code})
	}
	// Unconfirmed authenticators approve nothing.
	_, err = authorize(approval.TOTP(secret, f.clock.Now(), p))
	wantCode(t, err, selo.EUNAUTHORIZED)
	f.clock.Add(30 * time.Second)
	if err := f.svc.ConfirmAuthenticator(ctx, a.ID, enr.Authenticator.ID, approval.TOTP(secret, f.clock.Now(), p)); err != nil {
		t.Fatal(err)
	}
	f.clock.Add(30 * time.Second)
	code := approval.TOTP(secret, f.clock.Now(), p)
	res, err := authorize(code)
	if err != nil {
		t.Fatal(err)
	}
	// Replayed TOTP within its window.
	_, err = authorize(code)
	wantCode(t, err, selo.EUNAUTHORIZED)

	sigs, err := f.svc.SignHash(ctx, signing.SignHashRequest{AccountID: a.ID, CredentialID: c.Credential.ID, SAD: res.SAD,
		HashAlgorithmOID: signing.OIDSHA512, Hashes: hashes, SignAlgo: signing.OIDSHA512WithRSA})
	if err != nil {
		t.Fatal(err)
	}
	pub := c.Certificate.PublicKey.(*rsa.PublicKey)
	for i := range hashes {
		if err := rsa.VerifyPKCS1v15(pub, crypto.SHA512, hashes[i], sigs[i]); err != nil {
			t.Fatalf("PKCS#1 v1.5 signature %d: %v", i, err)
		}
	}

	f.clock.Add(30 * time.Second)
	res, err = authorize(approval.TOTP(secret, f.clock.Now(), p))
	if err != nil {
		t.Fatal(err)
	}
	sigs, err = f.svc.SignHash(ctx, signing.SignHashRequest{AccountID: a.ID, CredentialID: c.Credential.ID, SAD: res.SAD,
		HashAlgorithmOID: signing.OIDSHA512, Hashes: hashes, SignAlgo: signing.OIDRSASSAPSS})
	if err != nil {
		t.Fatal(err)
	}
	for i := range hashes {
		if err := rsa.VerifyPSS(pub, crypto.SHA512, hashes[i], sigs[i], &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}); err != nil {
			t.Fatalf("PSS signature %d: %v", i, err)
		}
	}
}

func sha512Of(s string) []byte {
	h := sha512.Sum512([]byte(s))
	return h[:]
}
