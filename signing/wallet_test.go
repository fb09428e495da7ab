package signing_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"testing"
	"time"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/approval"
	"github.com/selo-qtsp/selo/authority"
	"github.com/selo-qtsp/selo/signing"
)

// device is a wallet as a phone holds it: a P-256 key and its registration.
type device struct {
	key    *ecdsa.PrivateKey
	wallet *selo.Wallet
}

// enrollWallet registers a fresh P-256 device key on the account through the
// enrolment URI the service offers, as the wallet app does.
func (f *fixture) enrollWallet(t *testing.T, a *selo.Account, name string) *device {
	t.Helper()
	offer, err := f.svc.StartWalletEnrollment(ctx, a.ID, signing.FactorProof{IdentityCheckedBy: "operator:test"})
	if err != nil {
		t.Fatal(err)
	}
	e, err := approval.ParseWalletEnrollmentURI(offer.URI)
	if err != nil {
		t.Fatalf("the offered URI does not parse: %v", err)
	}
	if e.URL != "https://sign.selo-test.eu"+signing.WalletRegisterPath || e.EnrollmentID != offer.EnrollmentID {
		t.Fatalf("enrolment names %s / %s", e.URL, e.EnrollmentID)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	reg, err := approval.NewWalletRegistration(e, name, key)
	if err != nil {
		t.Fatal(err)
	}
	w, err := f.svc.RegisterWallet(ctx, reg)
	if err != nil {
		t.Fatalf("register wallet: %v", err)
	}
	// The enrolment is single use.
	_, err = f.svc.RegisterWallet(ctx, reg)
	wantCode(t, err, selo.EUNAUTHORIZED)
	return &device{key: key, wallet: w}
}

// pending lists the device's pending challenges after authenticating as it.
func (f *fixture) pending(t *testing.T, d *device) []*approval.WalletChallenge {
	t.Helper()
	at := f.clock.Now()
	digest := sha256.Sum256(signing.WalletRequestBytes(d.wallet.ID, at))
	sig, err := ecdsa.SignASN1(rand.Reader, d.key, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	w, err := f.svc.AuthenticateWallet(ctx, d.wallet.ID, at, sig)
	if err != nil {
		t.Fatalf("authenticate wallet: %v", err)
	}
	cs, err := f.svc.PendingApprovals(ctx, w)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

func walletRequest(a *selo.Account, c *signing.CredentialInfo, hashes [][]byte) signing.AuthorizeRequest {
	return signing.AuthorizeRequest{AccountID: a.ID, CredentialID: c.Credential.ID, HashAlgorithmOID: signing.OIDSHA256,
		Hashes: hashes, NumSignatures: len(hashes), Description: "Contrato de arrendamento.pdf"}
}

func TestWalletApprovalEndToEnd(t *testing.T) { walletEndToEnd(t, newFixture(t)) }

func walletEndToEnd(t *testing.T, f *fixture) {
	a := f.holder(t, "ana@example.pt", "+351912345678")
	c := f.credential(t, a, "qualified-sign", selo.ApprovalWallet, selo.KeyECDSAP256)

	// No wallet yet: nothing could approve.
	hashes := digests(3, "lease")
	_, err := f.svc.Authorize(ctx, walletRequest(a, c, hashes))
	wantCode(t, err, selo.EFORBIDDEN)

	d := f.enrollWallet(t, a, "Ana's phone")
	news, stop := f.svc.WaitApprovals(a.ID)
	defer stop()

	res, err := f.svc.Authorize(ctx, walletRequest(a, c, hashes))
	if err != nil || res.Pending == nil || res.SAD != "" {
		t.Fatalf("Authorize = %+v, %v; want a pending approval", res, err)
	}
	select {
	case <-news:
	case <-time.After(5 * time.Second):
		t.Fatal("WaitApprovals did not wake on the new approval")
	}
	// A code is not how a wallet credential is approved.
	req := walletRequest(a, c, hashes)
	req.OTP = "123456"
	_, err = f.svc.Authorize(ctx, req)
	wantCode(t, err, selo.EINVALID)

	// Polling before the holder answers: still pending.
	chk, err := f.svc.AuthorizeCheck(ctx, a.ID, res.Pending.ID)
	if err != nil || chk.Pending == nil || chk.SAD != "" {
		t.Fatalf("AuthorizeCheck while pending = %+v, %v", chk, err)
	}

	cs := f.pending(t, d)
	if len(cs) != 1 {
		t.Fatalf("%d pending challenges, want 1", len(cs))
	}
	ch := cs[0]
	if ch.ApprovalID != res.Pending.ID || ch.CredentialID != c.Credential.ID || ch.Description != "Contrato de arrendamento.pdf" ||
		ch.HashAlgorithmOID != signing.OIDSHA256 || len(ch.Hashes) != len(hashes) {
		t.Fatalf("challenge %+v does not show the request", ch)
	}
	for i := range hashes {
		if !bytes.Equal(ch.Hashes[i], hashes[i]) {
			t.Fatalf("challenge hash %d differs from the hash to be signed", i)
		}
	}
	// The QR fallback carries the same challenge, byte for byte.
	fromQR, err := approval.ParseWalletChallengeURI(ch.URI())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(fromQR.SigningBytes(), ch.SigningBytes()) {
		t.Fatal("the challenge URI does not carry the same challenge")
	}

	sig, err := approval.SignWalletDecision(fromQR, true, d.key)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.svc.DecideWalletApproval(ctx, ch.ApprovalID, d.wallet.ID, true, sig); err != nil {
		t.Fatalf("approve: %v", err)
	}
	// A decision counts once.
	err = f.svc.DecideWalletApproval(ctx, ch.ApprovalID, d.wallet.ID, true, sig)
	wantCode(t, err, selo.ECONFLICT)
	if got := f.pending(t, d); len(got) != 0 {
		t.Fatalf("%d challenges still pending after the decision", len(got))
	}

	chk, err = f.svc.AuthorizeCheck(ctx, a.ID, res.Pending.ID)
	if err != nil || chk.SAD == "" || chk.Pending != nil {
		t.Fatalf("AuthorizeCheck after approval = %+v, %v", chk, err)
	}
	_, err = f.svc.AuthorizeCheck(ctx, a.ID, res.Pending.ID)
	wantCode(t, err, selo.ECONFLICT)

	// The SAD is bound to the hashes the holder saw.
	sigs, err := f.svc.SignHash(ctx, signing.SignHashRequest{AccountID: a.ID, CredentialID: c.Credential.ID, SAD: chk.SAD,
		HashAlgorithmOID: signing.OIDSHA256, Hashes: hashes, SignAlgo: signing.OIDECDSAWithSHA256})
	if err != nil {
		t.Fatal(err)
	}
	verifyECDSA(t, c, hashes, sigs)
	if !f.audited(t, "approval.approve", "approval/"+ch.ApprovalID, selo.OutcomeSuccess) {
		t.Fatal("the wallet's approval is not audited")
	}
}

func TestWalletApprovalRefusals(t *testing.T) {
	f := newFixture(t)
	a := f.holder(t, "ana@example.pt", "+351912345678")
	b := f.holder(t, "bruno@example.pt", "+351913333333")
	c := f.credential(t, a, "qualified-sign", selo.ApprovalWallet, selo.KeyECDSAP256)
	cb := f.credential(t, b, "qualified-sign", selo.ApprovalWallet, selo.KeyECDSAP256)
	d := f.enrollWallet(t, a, "Ana's phone")
	d2 := f.enrollWallet(t, a, "Ana's tablet")
	db := f.enrollWallet(t, b, "Bruno's phone")

	request := func(acct *selo.Account, ci *signing.CredentialInfo, seed string) *approval.WalletChallenge {
		t.Helper()
		res, err := f.svc.Authorize(ctx, walletRequest(acct, ci, digests(2, seed)))
		if err != nil || res.Pending == nil {
			t.Fatalf("Authorize = %+v, %v", res, err)
		}
		return f.svc.Challenge(res.Pending)
	}

	t.Run("deny", func(t *testing.T) {
		ch := request(a, c, "deny")
		sig, _ := approval.SignWalletDecision(ch, false, d.key)
		if err := f.svc.DecideWalletApproval(ctx, ch.ApprovalID, d.wallet.ID, false, sig); err != nil {
			t.Fatal(err)
		}
		_, err := f.svc.AuthorizeCheck(ctx, a.ID, ch.ApprovalID)
		wantCode(t, err, selo.EFORBIDDEN)
	})
	t.Run("deny signature is not an approval", func(t *testing.T) {
		ch := request(a, c, "flip")
		sig, _ := approval.SignWalletDecision(ch, false, d.key)
		err := f.svc.DecideWalletApproval(ctx, ch.ApprovalID, d.wallet.ID, true, sig)
		wantCode(t, err, selo.EUNAUTHORIZED)
		chk, err := f.svc.AuthorizeCheck(ctx, a.ID, ch.ApprovalID)
		if err != nil || chk.Pending == nil {
			t.Fatalf("after a refused decision: %+v, %v; want still pending", chk, err)
		}
	})
	t.Run("another wallet's key", func(t *testing.T) {
		ch := request(a, c, "other key")
		sig, _ := approval.SignWalletDecision(ch, true, d2.key) // signed by the tablet, sent as the phone
		err := f.svc.DecideWalletApproval(ctx, ch.ApprovalID, d.wallet.ID, true, sig)
		wantCode(t, err, selo.EUNAUTHORIZED)
		// Another holder's wallet cannot see or decide it at all.
		sig, _ = approval.SignWalletDecision(ch, true, db.key)
		err = f.svc.DecideWalletApproval(ctx, ch.ApprovalID, db.wallet.ID, true, sig)
		wantCode(t, err, selo.ENOTFOUND)
		for _, p := range f.pending(t, db) {
			if p.ApprovalID == ch.ApprovalID {
				t.Fatal("another holder's wallet lists the approval")
			}
		}
		// The right wallet can still approve.
		sig, _ = approval.SignWalletDecision(ch, true, d.key)
		if err := f.svc.DecideWalletApproval(ctx, ch.ApprovalID, d.wallet.ID, true, sig); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("signature over another approval", func(t *testing.T) {
		ch1 := request(a, c, "first")
		ch2 := request(a, c, "second")
		sig, _ := approval.SignWalletDecision(ch1, true, d.key)
		err := f.svc.DecideWalletApproval(ctx, ch2.ApprovalID, d.wallet.ID, true, sig)
		wantCode(t, err, selo.EUNAUTHORIZED)
		// A challenge with other hashes under the same approval ID is refused too.
		forged := *ch2
		forged.Hashes = digests(2, "attacker")
		sig, _ = approval.SignWalletDecision(&forged, true, d.key)
		err = f.svc.DecideWalletApproval(ctx, ch2.ApprovalID, d.wallet.ID, true, sig)
		wantCode(t, err, selo.EUNAUTHORIZED)
	})
	t.Run("other account polls", func(t *testing.T) {
		ch := request(b, cb, "bruno")
		_, err := f.svc.AuthorizeCheck(ctx, a.ID, ch.ApprovalID)
		wantCode(t, err, selo.ENOTFOUND)
	})
	t.Run("expired", func(t *testing.T) {
		ch := request(a, c, "late")
		sig, _ := approval.SignWalletDecision(ch, true, d.key)
		f.clock.Add(signing.DefaultApprovalLifetime + time.Second)
		err := f.svc.DecideWalletApproval(ctx, ch.ApprovalID, d.wallet.ID, true, sig)
		wantCode(t, err, selo.EUNAUTHORIZED)
		_, err = f.svc.AuthorizeCheck(ctx, a.ID, ch.ApprovalID)
		wantCode(t, err, selo.EUNAUTHORIZED)
		for _, p := range f.pending(t, d) {
			if p.ApprovalID == ch.ApprovalID {
				t.Fatal("an expired approval is still offered to the wallet")
			}
		}
	})
	t.Run("too many hashes for a wallet", func(t *testing.T) {
		_, err := f.svc.Authorize(ctx, walletRequest(a, c, digests(signing.MaxWalletHashes+1, "many")))
		wantCode(t, err, selo.EINVALID)
	})
	t.Run("description with control characters", func(t *testing.T) {
		req := walletRequest(a, c, digests(1, "ctl"))
		req.Description = "Pay\u202eevil"
		_, err := f.svc.Authorize(ctx, req)
		wantCode(t, err, selo.EINVALID)
	})
	t.Run("deleted wallet", func(t *testing.T) {
		ch := request(a, c, "deleted")
		if err := f.svc.DeleteWallet(ctx, b.ID, d2.wallet.ID, signing.FactorProof{IdentityCheckedBy: "operator:test"}); selo.ErrorCode(err) != selo.ENOTFOUND {
			t.Fatalf("another holder deleted the wallet: %v", err)
		}
		if err := f.svc.DeleteWallet(ctx, a.ID, d2.wallet.ID, signing.FactorProof{IdentityCheckedBy: "operator:test"}); err != nil {
			t.Fatal(err)
		}
		sig, _ := approval.SignWalletDecision(ch, true, d2.key)
		err := f.svc.DecideWalletApproval(ctx, ch.ApprovalID, d2.wallet.ID, true, sig)
		wantCode(t, err, selo.ENOTFOUND)
	})
}

func TestWalletRequestAuthentication(t *testing.T) {
	f := newFixture(t)
	a := f.holder(t, "ana@example.pt", "+351912345678")
	d := f.enrollWallet(t, a, "Ana's phone")
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	sign := func(k *ecdsa.PrivateKey, id string, at time.Time) []byte {
		digest := sha256.Sum256(signing.WalletRequestBytes(id, at))
		sig, _ := ecdsa.SignASN1(rand.Reader, k, digest[:])
		return sig
	}
	now := f.clock.Now()
	for _, tc := range []struct {
		name string
		id   string
		at   time.Time
		sig  []byte
	}{
		{"other key", d.wallet.ID, now, sign(other, d.wallet.ID, now)},
		{"stale", d.wallet.ID, now.Add(-signing.WalletAuthWindow - time.Second), sign(d.key, d.wallet.ID, now.Add(-signing.WalletAuthWindow-time.Second))},
		{"future", d.wallet.ID, now.Add(signing.WalletAuthWindow + time.Second), sign(d.key, d.wallet.ID, now.Add(signing.WalletAuthWindow+time.Second))},
		{"signed for another time", d.wallet.ID, now, sign(d.key, d.wallet.ID, now.Add(-time.Second))},
		{"unknown wallet", "nope", now, sign(d.key, "nope", now)},
		{"empty signature", d.wallet.ID, now, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.svc.AuthenticateWallet(ctx, tc.id, tc.at, tc.sig)
			wantCode(t, err, selo.EUNAUTHORIZED)
		})
	}
	if _, err := f.svc.AuthenticateWallet(ctx, d.wallet.ID, now, sign(d.key, d.wallet.ID, now)); err != nil {
		t.Fatalf("good request refused: %v", err)
	}
}

func TestWalletEnrollmentExpires(t *testing.T) {
	f := newFixture(t)
	a := f.holder(t, "ana@example.pt", "+351912345678")
	offer, err := f.svc.StartWalletEnrollment(ctx, a.ID, signing.FactorProof{IdentityCheckedBy: "operator:test"})
	if err != nil {
		t.Fatal(err)
	}
	if len(offer.QRPNG) == 0 || offer.QRTerminal == "" {
		t.Fatal("the offer has no QR code")
	}
	e, _ := approval.ParseWalletEnrollmentURI(offer.URI)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	reg, _ := approval.NewWalletRegistration(e, "late phone", key)
	f.clock.Add(signing.DefaultEnrollmentLifetime + time.Second)
	_, err = f.svc.RegisterWallet(ctx, reg)
	wantCode(t, err, selo.EUNAUTHORIZED)
	if ws, _ := f.svc.ListWallets(ctx, a.ID); len(ws) != 0 {
		t.Fatalf("%d wallets after an expired enrolment", len(ws))
	}
}

func TestDisabledCredentialStopsSigningAtOnce(t *testing.T) { disabledStopsSigning(t, newFixture(t)) }

func disabledStopsSigning(t *testing.T, f *fixture) {
	a := f.holder(t, "ana@example.pt", "+351912345678")
	c := f.credential(t, a, "qualified-sign", selo.ApprovalSMS, selo.KeyECDSAP256)
	hashes := digests(2, "disable")
	sad := func() string {
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
	sign := func(s string) error {
		_, err := f.svc.SignHash(ctx, signing.SignHashRequest{AccountID: a.ID, CredentialID: c.Credential.ID, SAD: s,
			HashAlgorithmOID: signing.OIDSHA256, Hashes: hashes, SignAlgo: signing.OIDECDSAWithSHA256})
		return err
	}
	// Warm the cache with one signature, then take a SAD and disable.
	if err := sign(sad()); err != nil {
		t.Fatal(err)
	}
	s := sad()
	if err := f.env.Store.SetCredentialStatus(ctx, c.Credential.ID, selo.CredentialDisabled,
		&selo.AuditEntry{Time: f.clock.Now(), Actor: "operator", Action: "credential.disable", Object: "credential/" + c.Credential.ID, Outcome: selo.OutcomeSuccess, Details: "{}"}); err != nil {
		t.Fatal(err)
	}
	// Disabling ended the SAD issued before it: the signature is refused
	// (audited), and the SAD stays dead once the credential is enabled again.
	wantCode(t, sign(s), selo.EUNAUTHORIZED)
	if !f.audited(t, "signature.sign", "credential/"+c.Credential.ID, selo.OutcomeFailure) {
		t.Fatal("the refused signature of a disabled credential is not audited")
	}
	if err := f.env.Store.SetCredentialStatus(ctx, c.Credential.ID, selo.CredentialActive,
		&selo.AuditEntry{Time: f.clock.Now(), Actor: "operator", Action: "credential.enable", Object: "credential/" + c.Credential.ID, Outcome: selo.OutcomeSuccess, Details: "{}"}); err != nil {
		t.Fatal(err)
	}
	wantCode(t, sign(s), selo.EUNAUTHORIZED)

	// Revoking the certificate stops signing too.
	c2 := f.credential(t, a, "qualified-sign", selo.ApprovalSMS, selo.KeyECDSAP256)
	c, hashes = c2, digests(2, "revoke")
	if err := sign(sad()); err != nil {
		t.Fatal(err)
	}
	s = sad()
	if _, _, err := f.env.Authority.Revoke(ctx, "operator", authority.RevokeRequest{Serial: c2.Credential.CertificateSerial}); err != nil {
		t.Fatalf("revoke: %v", err)
	}
	wantCode(t, sign(s), selo.EFORBIDDEN)
}
