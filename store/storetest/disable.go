package storetest

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/selo-qtsp/selo"
)

// newSADFor is a live SAD of credential cred of account a1.
func newSADFor(hash, cred, authorizer string) *selo.SignatureActivation {
	return &selo.SignatureActivation{SADHash: hash, AccountID: "a1", CredentialID: cred, AuthorizerID: authorizer,
		HashAlgorithmOID: "2.16.840.1.101.3.4.2.1", Hashes: [][]byte{bytes.Repeat([]byte{7}, 32)}, ExpiresAt: start.Add(5 * time.Minute)}
}

// testAccountDisable: disabling an account ends its sessions (both scopes),
// its unused SADs and its pending approvals at once; enabling does not bring
// them back; another account is untouched.
func testAccountDisable(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	st := open(t, NewClock(start)).Store
	setupSigning(t, st)
	audited := 5
	now := start.Add(time.Minute)
	for _, s := range []*selo.Session{
		{TokenHash: "h-account", AccountID: "a1", Scope: selo.SessionAccount, ExpiresAt: start.Add(time.Hour)},
		{TokenHash: "h-csc", AccountID: "a1", ExpiresAt: start.Add(time.Hour)},
		{TokenHash: "h-other", AccountID: "a2", Scope: selo.SessionAccount, ExpiresAt: start.Add(time.Hour)},
	} {
		must(t, st.CreateSession(ctx, s, entry("account.login", "account/"+s.AccountID)))
		audited++
	}
	for hash, scope := range map[string]selo.SessionScope{"h-account": selo.SessionAccount, "h-csc": selo.SessionCSC} {
		got, err := st.FindSession(ctx, hash, now)
		must(t, err)
		if got.Scope != scope {
			t.Fatalf("FindSession(%s).Scope = %q, want %q (an empty scope is stored as csc)", hash, got.Scope, scope)
		}
	}
	must(t, st.CreateSignatureActivation(ctx, newSADFor("5ad1", "sign1", ""), entry("sad.create", "credential/sign1")))
	must(t, st.CreateApproval(ctx, &selo.Approval{ID: "ap1", AccountID: "a1", CredentialID: "sign1", Purpose: "signature",
		Type: selo.ApprovalSMS, CodeHash: sealed("code"), ExpiresAt: start.Add(5 * time.Minute)}, entry("approval.create", "approval/ap1")))
	audited += 2

	must(t, st.SetAccountDisabled(ctx, "a1", true, now, entry("account.disable", "account/a1")))
	audited++
	for _, hash := range []string{"h-account", "h-csc"} {
		_, err := st.FindSession(ctx, hash, now)
		wantCode(t, err, selo.ENOTFOUND)
	}
	if _, err := st.FindSession(ctx, "h-other", now); err != nil {
		t.Fatalf("disabling a1 ended a2's session: %v", err)
	}
	_, err := st.ConsumeSignatureActivation(ctx, "5ad1", now)
	wantCode(t, err, selo.ENOTFOUND)
	ap, err := st.FindApproval(ctx, "ap1")
	must(t, err)
	if ap.Status != selo.ApprovalDead {
		t.Fatalf("approval of a disabled account is %s, want dead", ap.Status)
	}
	a, err := st.FindAccount(ctx, "a1")
	must(t, err)
	if !a.Disabled {
		t.Fatal("SetAccountDisabled(true) left the account enabled")
	}
	must(t, st.SetAccountDisabled(ctx, "a1", false, now, entry("account.enable", "account/a1")))
	audited++
	if a, _ := st.FindAccount(ctx, "a1"); a.Disabled {
		t.Fatal("SetAccountDisabled(false) left the account disabled")
	}
	wantCode(t, st.SetAccountDisabled(ctx, "nobody", true, now, entry("account.disable", "account/nobody")), selo.ENOTFOUND)
	wantCode(t, st.SetAccountDisabled(ctx, "a1", true, now, nil), selo.EINVALID)
	wantIntactAudit(t, st, audited)
}

// testCredentialDisableEndsSADs: disabling a credential ends its own unused
// SADs and approvals, not those of the account's other credentials.
func testCredentialDisableEndsSADs(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	st := open(t, NewClock(start)).Store
	setupSigning(t, st)
	audited := 5
	must(t, st.CreateSignatureActivation(ctx, newSADFor("5ad1", "sign1", ""), entry("sad.create", "credential/sign1")))
	must(t, st.CreateSignatureActivation(ctx, newSADFor("5ad2", "seal1", ""), entry("sad.create", "credential/seal1")))
	must(t, st.CreateApproval(ctx, &selo.Approval{ID: "ap1", AccountID: "a1", CredentialID: "sign1", Purpose: "signature",
		Type: selo.ApprovalSMS, CodeHash: sealed("code"), ExpiresAt: start.Add(5 * time.Minute)}, entry("approval.create", "approval/ap1")))
	audited += 3
	must(t, st.SetCredentialStatus(ctx, "sign1", selo.CredentialDisabled, entry("credential.disable", "credential/sign1")))
	audited++
	now := start.Add(time.Minute)
	_, err := st.ConsumeSignatureActivation(ctx, "5ad1", now)
	wantCode(t, err, selo.ENOTFOUND)
	if ap, _ := st.FindApproval(ctx, "ap1"); ap == nil || ap.Status != selo.ApprovalDead {
		t.Fatalf("approval of a disabled credential: %+v, want dead", ap)
	}
	if _, err := st.ConsumeSignatureActivation(ctx, "5ad2", now); err != nil {
		t.Fatalf("disabling sign1 ended seal1's SAD: %v", err)
	}
	wantIntactAudit(t, st, audited)
}

// testAuthorizerDisableEndsSADs: disabling an authorizer ends the unused
// SADs its codes approved (and keeps AuthorizerID on the SAD), not others.
func testAuthorizerDisableEndsSADs(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	st := open(t, NewClock(start)).Store
	setupSigning(t, st)
	audited := 5
	must(t, st.CreateAuthorizer(ctx, &selo.Authorizer{ID: "z1", CredentialID: "seal1", Name: "ERP", SealedSecret: sealed("z1"),
		Settings: totp, LastStep: -1}, entry("authorizer.create", "authorizer/z1")))
	must(t, st.ConfirmAuthorizer(ctx, "z1", &selo.Authorization{ID: "p1", NotBefore: start, NotAfter: start.Add(time.Hour)},
		entry("authorizer.confirm", "authorizer/z1")))
	must(t, st.CreateSignatureActivation(ctx, newSADFor("5ad1", "seal1", "z1"), entry("sad.create", "credential/seal1")))
	must(t, st.CreateSignatureActivation(ctx, newSADFor("5ad2", "seal1", "z1"), entry("sad.create", "credential/seal1")))
	must(t, st.CreateSignatureActivation(ctx, newSADFor("5ad3", "seal1", ""), entry("sad.create", "credential/seal1")))
	audited += 5
	now := start.Add(time.Minute)
	got, err := st.ConsumeSignatureActivation(ctx, "5ad2", now)
	must(t, err)
	if got.AuthorizerID != "z1" {
		t.Fatalf("SAD AuthorizerID = %q, want z1", got.AuthorizerID)
	}
	must(t, st.SetAuthorizerEnabled(ctx, "z1", false, now, entry("authorizer.disable", "authorizer/z1")))
	audited++
	_, err = st.ConsumeSignatureActivation(ctx, "5ad1", now)
	wantCode(t, err, selo.ENOTFOUND)
	if _, err := st.ConsumeSignatureActivation(ctx, "5ad3", now); err != nil {
		t.Fatalf("disabling z1 ended a SAD it did not approve: %v", err)
	}
	wantIntactAudit(t, st, audited)
}

// testAuthenticatorFailures: a wrong authenticator code counts against every
// confirmed secret of the account; MaxFailures lock them all; a reset clears
// the count; unconfirmed ones and other accounts' are not touched.
func testAuthenticatorFailures(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	st := open(t, NewClock(start)).Store
	setupSigning(t, st)
	audited := 5
	for _, a := range []*selo.Authenticator{
		{ID: "t1", AccountID: "a1", Name: "phone", SealedSecret: sealed("t1"), Settings: totp, LastStep: 5, Confirmed: true},
		{ID: "t2", AccountID: "a1", Name: "tablet", SealedSecret: sealed("t2"), Settings: totp, LastStep: 5, Confirmed: true},
		{ID: "t3", AccountID: "a1", Name: "new", SealedSecret: sealed("t3"), Settings: totp, LastStep: -1},
		{ID: "t4", AccountID: "a2", Name: "phone", SealedSecret: sealed("t4"), Settings: totp, LastStep: 5, Confirmed: true},
	} {
		must(t, st.CreateAuthenticator(ctx, a, entry("authenticator.create", "authenticator/"+a.ID)))
		audited++
	}
	now := start.Add(time.Minute)
	for i := 1; i < 3; i++ {
		f, err := st.RecordAuthenticatorFailure(ctx, "a1", now, 3, lockForHours, entry("approval.failure", "account/a1"))
		must(t, err)
		audited++
		if f.FailedApprovals != i || !f.LockedUntil.IsZero() {
			t.Fatalf("failure %d: %+v", i, f)
		}
	}
	f, err := st.RecordAuthenticatorFailure(ctx, "a1", now, 3, lockForHours, entry("approval.failure", "account/a1"))
	must(t, err)
	audited++
	if !f.LockedUntil.Equal(micro(now.Add(time.Hour))) || f.Lockouts != 1 {
		t.Fatalf("third failure: %+v, want locked for an hour", f)
	}
	for id, locked := range map[string]bool{"t1": true, "t2": true, "t3": false, "t4": false} {
		a, err := st.FindAuthenticator(ctx, id)
		must(t, err)
		if (!a.LockedUntil.IsZero()) != locked || (locked && (a.Lockouts != 1 || a.FailedApprovals != 0)) {
			t.Fatalf("authenticator %s after the lock: %+v, want locked %v", id, a, locked)
		}
	}
	_, err = st.RecordAuthenticatorFailure(ctx, "a1", now, 3, lockForHours, entry("approval.failure", "account/a1"))
	must(t, err)
	audited++
	must(t, st.ResetAuthenticatorFailures(ctx, "a1"))
	if a, _ := st.FindAuthenticator(ctx, "t1"); a.FailedApprovals != 0 {
		t.Fatalf("ResetAuthenticatorFailures left %d", a.FailedApprovals)
	}
	_, err = st.RecordAuthenticatorFailure(ctx, "a1", now, 3, lockForHours, nil)
	wantCode(t, err, selo.EINVALID)
	wantIntactAudit(t, st, audited)
}
