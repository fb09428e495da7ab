package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/selo-qtsp/selo"
)

// sealed returns bytes that stand for a sealed secret: zero bytes and high
// bytes included, so a store that treats them as text shows up.
func sealed(label string) []byte { return append([]byte{0, 0xff, 0x80, 0}, label...) }

// totp is the usual authenticator setting.
var totp = selo.OTPSettings{Algorithm: "SHA256", Digits: 6, Period: 30}

// setupSigning stores accounts a1 and a2, a signing credential sign1 (SMS)
// and an e-seal credential seal1 (authorizer) of a1, and a signing credential
// sign2 of a2: five audit entries.
func setupSigning(tb testing.TB, st selo.Store) {
	tb.Helper()
	ctx := context.Background()
	createAccounts(tb, st, "a1", "a2")
	for _, c := range []*selo.Credential{
		newCredential("sign1", "a1", "qualified-sign", selo.ApprovalSMS),
		newCredential("seal1", "a1", "qualified-seal", selo.ApprovalAuthorizer),
		newCredential("sign2", "a2", "qualified-sign", selo.ApprovalWallet),
	} {
		must(tb, st.CreateCredential(ctx, c, entry("credential.create", "credential/"+c.ID)))
	}
}

func testAuthenticator(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	st := open(t, NewClock(start)).Store
	setupSigning(t, st)
	audited := 5

	a := &selo.Authenticator{ID: "t1", AccountID: "a1", Name: "phone", SealedSecret: sealed("t1"), Settings: totp, LastStep: -1}
	must(t, st.CreateAuthenticator(ctx, a, entry("authenticator.create", "authenticator/t1")))
	audited++
	got, err := st.FindAuthenticator(ctx, "t1")
	must(t, err)
	if !reflect.DeepEqual(got, a) || !a.CreatedAt.Equal(micro(start)) {
		t.Fatalf("FindAuthenticator returned %+v, want %+v", got, a)
	}
	must(t, st.CreateAuthenticator(ctx, &selo.Authenticator{ID: "t2", AccountID: "a1", Name: "tablet", SealedSecret: sealed("t2"),
		Settings: selo.OTPSettings{Algorithm: "SHA1", Digits: 8, Period: 60}, LastStep: -1, CreatedAt: start.Add(time.Second)},
		entry("authenticator.create", "authenticator/t2")))
	audited++
	list, err := st.ListAuthenticators(ctx, "a1")
	must(t, err)
	if len(list) != 2 || list[0].ID != "t1" || list[1].ID != "t2" || list[1].Settings.Digits != 8 {
		t.Fatalf("ListAuthenticators(a1) = %+v", list)
	}
	if list, _ := st.ListAuthenticators(ctx, "a2"); len(list) != 0 {
		t.Fatalf("ListAuthenticators(a2) lists %d of a1's", len(list))
	}
	for name, tt := range map[string]struct {
		a    *selo.Authenticator
		code string
	}{
		"same ID":         {&selo.Authenticator{ID: "t1", AccountID: "a2", SealedSecret: sealed("x"), Settings: totp}, selo.ECONFLICT},
		"unknown account": {&selo.Authenticator{ID: "t9", AccountID: "nobody", SealedSecret: sealed("x"), Settings: totp}, selo.ENOTFOUND},
		"no secret":       {&selo.Authenticator{ID: "t9", AccountID: "a1", Settings: totp}, selo.EINVALID},
		"bad algorithm":   {&selo.Authenticator{ID: "t9", AccountID: "a1", SealedSecret: sealed("x"), Settings: selo.OTPSettings{Algorithm: "MD5", Digits: 6, Period: 30}}, selo.EINVALID},
		"5 digits":        {&selo.Authenticator{ID: "t9", AccountID: "a1", SealedSecret: sealed("x"), Settings: selo.OTPSettings{Algorithm: "SHA1", Digits: 5, Period: 30}}, selo.EINVALID},
	} {
		if err := st.CreateAuthenticator(ctx, tt.a, entry("authenticator.create", "authenticator/"+tt.a.ID)); selo.ErrorCode(err) != tt.code {
			t.Fatalf("%s: error %v, want %s", name, err, tt.code)
		}
	}

	// Each step is accepted once, and never after a later one.
	for i, step := range []struct {
		step    int64
		confirm bool
		want    bool
	}{{100, false, true}, {100, true, false}, {99, true, false}, {101, true, true}, {102, false, true}} {
		ok, err := st.AdvanceAuthenticatorStep(ctx, "t1", step.step, step.confirm)
		must(t, err)
		if ok != step.want {
			t.Fatalf("advance %d to step %d: %v, want %v", i, step.step, ok, step.want)
		}
	}
	got, err = st.FindAuthenticator(ctx, "t1")
	must(t, err)
	if got.LastStep != 102 || !got.Confirmed {
		t.Fatalf("after the steps the authenticator is %+v, want step 102, confirmed (and never unconfirmed)", got)
	}
	if ok, err := st.AdvanceAuthenticatorStep(ctx, "t9", 1, false); ok || selo.ErrorCode(err) != selo.ENOTFOUND {
		t.Fatalf("advance unknown: %v, %v; want not found", ok, err)
	}

	// Racing the same step: exactly one wins.
	wins, errs := exactlyOne(writers, func(int) error {
		ok, err := st.AdvanceAuthenticatorStep(ctx, "t2", 7, true)
		if err == nil && !ok {
			return errReplay
		}
		return err
	})
	if wins != 1 || !allAre(errs, errReplay) {
		t.Fatalf("%d callers advanced to the same step (want 1); errors %v", wins, errs)
	}

	must(t, st.DeleteAuthenticator(ctx, "t1", entry("authenticator.delete", "authenticator/t1")))
	audited++
	_, err = st.FindAuthenticator(ctx, "t1")
	wantCode(t, err, selo.ENOTFOUND)
	wantCode(t, st.DeleteAuthenticator(ctx, "t1", entry("authenticator.delete", "authenticator/t1")), selo.ENOTFOUND)
	wantIntactAudit(t, st, audited)
}

// errReplay marks a compare-and-set that lost in the race tests.
var errReplay = errors.New("replay refused")

// allAre reports whether every error wraps target or carries its code.
func allAre(errs []error, target error) bool {
	for _, err := range errs {
		if !errors.Is(err, target) {
			return false
		}
	}
	return true
}

func testWallet(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	clock := NewClock(start)
	st := open(t, clock).Store
	setupSigning(t, st)
	audited := 5

	for _, id := range []string{"e1", "e2", "e3"} {
		e := &selo.WalletEnrollment{ID: id, AccountID: "a1", SealedSecret: sealed(id), ExpiresAt: start.Add(10 * time.Minute)}
		must(t, st.CreateWalletEnrollment(ctx, e, entry("wallet.enroll", "enrollment/"+id)))
		audited++
		got, err := st.FindWalletEnrollment(ctx, id)
		must(t, err)
		if !reflect.DeepEqual(got, e) {
			t.Fatalf("FindWalletEnrollment returned %+v, want %+v", got, e)
		}
	}
	wantCode(t, st.CreateWalletEnrollment(ctx, &selo.WalletEnrollment{ID: "e1", AccountID: "a1", SealedSecret: sealed("x"), ExpiresAt: start},
		entry("wallet.enroll", "enrollment/e1")), selo.ECONFLICT)
	wantCode(t, st.CreateWalletEnrollment(ctx, &selo.WalletEnrollment{ID: "e9", AccountID: "nobody", SealedSecret: sealed("x"), ExpiresAt: start},
		entry("wallet.enroll", "enrollment/e9")), selo.ENOTFOUND)

	key := []byte{0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x00}
	w := &selo.Wallet{ID: "w1", Name: "my phone", PublicKey: key}
	must(t, st.CompleteWalletEnrollment(ctx, "e1", w, entry("wallet.register", "wallet/w1")))
	audited++
	if w.AccountID != "a1" || !w.CreatedAt.Equal(micro(start)) {
		t.Fatalf("CompleteWalletEnrollment filled in %+v", w)
	}
	got, err := st.FindWallet(ctx, "w1")
	must(t, err)
	if !reflect.DeepEqual(got, w) {
		t.Fatalf("FindWallet returned %+v, want %+v", got, w)
	}
	if e, _ := st.FindWalletEnrollment(ctx, "e1"); !e.Used {
		t.Fatal("the enrolment is not marked used")
	}
	wantCode(t, st.CompleteWalletEnrollment(ctx, "e1", &selo.Wallet{ID: "w2", PublicKey: key}, entry("wallet.register", "wallet/w2")), selo.ECONFLICT)
	wantCode(t, st.CompleteWalletEnrollment(ctx, "e9", &selo.Wallet{ID: "w2", PublicKey: key}, entry("wallet.register", "wallet/w2")), selo.ENOTFOUND)
	wantCode(t, st.CompleteWalletEnrollment(ctx, "e2", &selo.Wallet{ID: "w2", AccountID: "a2", PublicKey: key}, entry("wallet.register", "wallet/w2")), selo.EINVALID)
	wantCode(t, st.CompleteWalletEnrollment(ctx, "e2", &selo.Wallet{ID: "w1", PublicKey: key}, entry("wallet.register", "wallet/w1")), selo.ECONFLICT)
	wantCode(t, st.CompleteWalletEnrollment(ctx, "e2", &selo.Wallet{ID: "w2"}, entry("wallet.register", "wallet/w2")), selo.EINVALID)
	if e, _ := st.FindWalletEnrollment(ctx, "e2"); e.Used {
		t.Fatal("a failed completion used the enrolment")
	}

	// Completing one enrolment twice at once: one wallet, one conflict.
	clock.Add(time.Second)
	wins, errs := exactlyOne(writers, func(i int) error {
		return st.CompleteWalletEnrollment(ctx, "e3", &selo.Wallet{ID: fmt.Sprintf("race%d", i), PublicKey: key}, entry("wallet.register", "wallet/race"))
	})
	audited += wins
	if wins != 1 || !allCode(errs, selo.ECONFLICT) {
		t.Fatalf("%d completions of one enrolment succeeded (want 1); errors %v", wins, errs)
	}
	list, err := st.ListWallets(ctx, "a1")
	must(t, err)
	if len(list) != 2 || list[0].ID != "w1" {
		t.Fatalf("ListWallets(a1) = %+v, want w1 and the race winner", list)
	}
	if list, _ := st.ListWallets(ctx, "a2"); len(list) != 0 {
		t.Fatalf("ListWallets(a2) lists %d wallets of a1", len(list))
	}
	must(t, st.DeleteWallet(ctx, "w1", entry("wallet.delete", "wallet/w1")))
	audited++
	_, err = st.FindWallet(ctx, "w1")
	wantCode(t, err, selo.ENOTFOUND)
	wantCode(t, st.DeleteWallet(ctx, "w1", entry("wallet.delete", "wallet/w1")), selo.ENOTFOUND)
	wantIntactAudit(t, st, audited)
}

func testAuthorizer(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	clock := NewClock(start)
	st := open(t, clock).Store
	setupSigning(t, st)
	audited := 5

	newAuthorizer := func(id, credentialID, name string) *selo.Authorizer {
		return &selo.Authorizer{ID: id, CredentialID: credentialID, Name: name, SealedSecret: sealed(id), Settings: totp, LastStep: -1}
	}
	z := newAuthorizer("z1", "seal1", "ERP")
	must(t, st.CreateAuthorizer(ctx, z, entry("authorizer.create", "authorizer/z1")))
	audited++
	if z.AccountID != "a1" {
		t.Fatalf("CreateAuthorizer set AccountID %q, want the credential's a1", z.AccountID)
	}
	got, err := st.FindAuthorizer(ctx, "z1")
	must(t, err)
	if !reflect.DeepEqual(got, z) || got.Enabled || got.Confirmed {
		t.Fatalf("FindAuthorizer returned %+v, want %+v", got, z)
	}
	other := newAuthorizer("z9", "seal1", "billing")
	other.AccountID = "a2"
	for name, tt := range map[string]struct {
		a    *selo.Authorizer
		code string
	}{
		"same ID":              {newAuthorizer("z1", "seal1", "other"), selo.ECONFLICT},
		"same name":            {newAuthorizer("z9", "seal1", "ERP"), selo.ECONFLICT},
		"signing credential":   {newAuthorizer("z9", "sign1", "ERP"), selo.EINVALID},
		"unknown credential":   {newAuthorizer("z9", "nothing", "ERP"), selo.ENOTFOUND},
		"another account's":    {other, selo.ENOTFOUND},
		"enabled unconfirmed":  {&selo.Authorizer{ID: "z9", CredentialID: "seal1", Name: "x", SealedSecret: sealed("x"), Settings: totp, Enabled: true}, selo.EINVALID},
		"without a sealed one": {&selo.Authorizer{ID: "z9", CredentialID: "seal1", Name: "x", Settings: totp}, selo.EINVALID},
	} {
		if err := st.CreateAuthorizer(ctx, tt.a, entry("authorizer.create", "authorizer/"+tt.a.ID)); selo.ErrorCode(err) != tt.code {
			t.Fatalf("%s: error %v, want %s", name, err, tt.code)
		}
	}
	clock.Add(time.Second)
	must(t, st.CreateAuthorizer(ctx, newAuthorizer("z2", "seal1", "e-invoicing"), entry("authorizer.create", "authorizer/z2")))
	audited++
	list, err := st.ListAuthorizers(ctx, "seal1")
	must(t, err)
	if len(list) != 2 || list[0].ID != "z1" || list[1].ID != "z2" {
		t.Fatalf("ListAuthorizers(seal1) = %+v", list)
	}
	wantCode(t, st.SetAuthorizerEnabled(ctx, "z1", true, start, entry("authorizer.enable", "authorizer/z1")), selo.ECONFLICT)

	first := &selo.Authorization{ID: "p1", NotBefore: start, NotAfter: start.Add(60 * 24 * time.Hour)}
	must(t, st.ConfirmAuthorizer(ctx, "z1", first, entry("authorizer.confirm", "authorizer/z1")))
	audited++
	got, err = st.FindAuthorizer(ctx, "z1")
	must(t, err)
	if !got.Confirmed || !got.Enabled || first.AuthorizerID != "z1" {
		t.Fatalf("after ConfirmAuthorizer: %+v, authorization %+v", got, first)
	}
	wantCode(t, st.ConfirmAuthorizer(ctx, "z1", &selo.Authorization{ID: "p9", NotBefore: start, NotAfter: start.Add(time.Hour)},
		entry("authorizer.confirm", "authorizer/z1")), selo.ECONFLICT)
	wantCode(t, st.ConfirmAuthorizer(ctx, "z9", &selo.Authorization{ID: "p9", NotBefore: start, NotAfter: start.Add(time.Hour)},
		entry("authorizer.confirm", "authorizer/z9")), selo.ENOTFOUND)
	wantCode(t, st.ConfirmAuthorizer(ctx, "z2", &selo.Authorization{ID: "p9", NotBefore: start, NotAfter: start},
		entry("authorizer.confirm", "authorizer/z2")), selo.EINVALID)
	if got, _ := st.FindAuthorizer(ctx, "z2"); got.Confirmed {
		t.Fatal("a refused confirmation confirmed the authorizer")
	}

	must(t, st.SetAuthorizerEnabled(ctx, "z1", false, start, entry("authorizer.disable", "authorizer/z1")))
	audited++
	if got, _ := st.FindAuthorizer(ctx, "z1"); got.Enabled {
		t.Fatal("SetAuthorizerEnabled(false) left it enabled")
	}
	must(t, st.SetAuthorizerEnabled(ctx, "z1", true, start, entry("authorizer.enable", "authorizer/z1")))
	audited++
	wantCode(t, st.SetAuthorizerEnabled(ctx, "z9", true, start, entry("authorizer.enable", "authorizer/z9")), selo.ENOTFOUND)

	clock.Add(time.Hour)
	renewal := &selo.Authorization{ID: "p2", AuthorizerID: "z1", NotBefore: first.NotAfter.Add(-24 * time.Hour), NotAfter: first.NotAfter.Add(59 * 24 * time.Hour)}
	must(t, st.CreateAuthorization(ctx, renewal, entry("authorizer.renew", "authorizer/z1")))
	audited++
	wantCode(t, st.CreateAuthorization(ctx, &selo.Authorization{ID: "p3", AuthorizerID: "z9", NotBefore: start, NotAfter: start.Add(time.Hour)},
		entry("authorizer.renew", "authorizer/z9")), selo.ENOTFOUND)
	wantCode(t, st.CreateAuthorization(ctx, &selo.Authorization{ID: "p2", AuthorizerID: "z1", NotBefore: start, NotAfter: start.Add(time.Hour)},
		entry("authorizer.renew", "authorizer/z1")), selo.ECONFLICT)
	auths, err := st.ListAuthorizations(ctx, "z1")
	must(t, err)
	if len(auths) != 2 || !reflect.DeepEqual(auths[0], renewal) || !reflect.DeepEqual(auths[1], first) {
		t.Fatalf("ListAuthorizations(z1) = %+v, want the renewal, then %+v", auths, first)
	}

	// Authorizer codes: each step once; racing the same step, one wins.
	if ok, err := st.AdvanceAuthorizerStep(ctx, "z1", 50); !ok || err != nil {
		t.Fatalf("first code: %v, %v", ok, err)
	}
	if ok, err := st.AdvanceAuthorizerStep(ctx, "z1", 50); ok || err != nil {
		t.Fatalf("replayed code: %v, %v; want false", ok, err)
	}
	if _, err := st.AdvanceAuthorizerStep(ctx, "z9", 50); selo.ErrorCode(err) != selo.ENOTFOUND {
		t.Fatalf("unknown authorizer: %v, want not found", err)
	}
	wins, errs := exactlyOne(writers, func(int) error {
		ok, err := st.AdvanceAuthorizerStep(ctx, "z1", 51)
		if err == nil && !ok {
			return errReplay
		}
		return err
	})
	if wins != 1 || !allAre(errs, errReplay) {
		t.Fatalf("%d callers advanced to the same step (want 1); errors %v", wins, errs)
	}
	wantIntactAudit(t, st, audited)
}

func testApproval(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	clock := NewClock(start)
	st := open(t, clock).Store
	setupSigning(t, st)
	audited := 5

	hashes := [][]byte{bytes.Repeat([]byte{1}, 32), {0, 0, 0}, bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{0xff}, 64)}
	a := &selo.Approval{ID: "ap1", AccountID: "a1", CredentialID: "sign1", Purpose: "signature", Type: selo.ApprovalWallet,
		HashAlgorithmOID: "2.16.840.1.101.3.4.2.1", Hashes: hashes, Description: "invoice 42", Subject: "s",
		ExpiresAt: start.Add(5 * time.Minute)}
	must(t, st.CreateApproval(ctx, a, entry("approval.create", "approval/ap1")))
	audited++
	if a.Status != selo.ApprovalPending || !a.CreatedAt.Equal(micro(start)) {
		t.Fatalf("CreateApproval filled in %+v", a)
	}
	got, err := st.FindApproval(ctx, "ap1")
	must(t, err)
	if !reflect.DeepEqual(got, a) {
		t.Fatalf("FindApproval returned %+v, want %+v", got, a)
	}
	sms := &selo.Approval{ID: "ap2", AccountID: "a1", CredentialID: "sign1", Purpose: "signature", Type: selo.ApprovalSMS,
		CodeHash: sealed("code"), ExpiresAt: start.Add(5 * time.Minute), CreatedAt: start.Add(time.Second)}
	must(t, st.CreateApproval(ctx, sms, entry("approval.create", "approval/ap2")))
	audited++
	got, err = st.FindApproval(ctx, "ap2")
	must(t, err)
	if got.Hashes != nil || !bytes.Equal(got.CodeHash, sms.CodeHash) || !reflect.DeepEqual(got, sms) {
		t.Fatalf("FindApproval returned %+v, want %+v with nil hashes", got, sms)
	}
	enroll := &selo.Approval{ID: "ap3", AccountID: "a1", Purpose: "wallet", Type: selo.ApprovalSMS, ExpiresAt: start.Add(time.Minute), CreatedAt: start.Add(2 * time.Second)}
	must(t, st.CreateApproval(ctx, enroll, entry("approval.create", "approval/ap3")))
	audited++
	for name, tt := range map[string]struct {
		a    *selo.Approval
		code string
	}{
		"same ID":                  {&selo.Approval{ID: "ap1", AccountID: "a1", Purpose: "p", Type: selo.ApprovalSMS, ExpiresAt: start}, selo.ECONFLICT},
		"another account's":        {&selo.Approval{ID: "ap9", AccountID: "a2", CredentialID: "sign1", Purpose: "p", Type: selo.ApprovalSMS, ExpiresAt: start}, selo.ENOTFOUND},
		"unknown account":          {&selo.Approval{ID: "ap9", AccountID: "nobody", Purpose: "p", Type: selo.ApprovalSMS, ExpiresAt: start}, selo.ENOTFOUND},
		"unknown type":             {&selo.Approval{ID: "ap9", AccountID: "a1", Purpose: "p", Type: "email", ExpiresAt: start}, selo.EINVALID},
		"unknown status":           {&selo.Approval{ID: "ap9", AccountID: "a1", Purpose: "p", Type: selo.ApprovalSMS, Status: "maybe", ExpiresAt: start}, selo.EINVALID},
		"no expiry":                {&selo.Approval{ID: "ap9", AccountID: "a1", Purpose: "p", Type: selo.ApprovalSMS}, selo.EINVALID},
		"hashes without algorithm": {&selo.Approval{ID: "ap9", AccountID: "a1", Purpose: "p", Type: selo.ApprovalSMS, Hashes: hashes, ExpiresAt: start}, selo.EINVALID},
	} {
		if err := st.CreateApproval(ctx, tt.a, entry("approval.create", "approval/"+tt.a.ID)); selo.ErrorCode(err) != tt.code {
			t.Fatalf("%s: error %v, want %s", name, err, tt.code)
		}
	}
	pending, err := st.ListApprovals(ctx, "a1", selo.ApprovalPending)
	must(t, err)
	if len(pending) != 3 || pending[0].ID != "ap3" || pending[1].ID != "ap2" || pending[2].ID != "ap1" {
		t.Fatalf("ListApprovals(a1, pending) = %+v, want ap3, ap2, ap1", pending)
	}
	if list, _ := st.ListApprovals(ctx, "a2", selo.ApprovalPending); len(list) != 0 {
		t.Fatalf("ListApprovals(a2) lists %d approvals of a1", len(list))
	}

	// Approve, then consume once; nothing else moves a decided approval.
	decided := start.Add(time.Minute)
	must(t, st.DecideApproval(ctx, "ap1", selo.ApprovalApproved, "w7", decided, entry("approval.approve", "approval/ap1")))
	audited++
	wantCode(t, st.DecideApproval(ctx, "ap1", selo.ApprovalDenied, "w7", decided, entry("approval.deny", "approval/ap1")), selo.ECONFLICT)
	wantCode(t, st.DecideApproval(ctx, "ap1", selo.ApprovalPending, "", decided, entry("approval.reset", "approval/ap1")), selo.EINVALID)
	must(t, st.DecideApproval(ctx, "ap1", selo.ApprovalConsumed, "", decided.Add(time.Second), entry("approval.consume", "approval/ap1")))
	audited++
	wantCode(t, st.DecideApproval(ctx, "ap1", selo.ApprovalConsumed, "", decided.Add(time.Second), entry("approval.consume", "approval/ap1")), selo.ECONFLICT)
	got, err = st.FindApproval(ctx, "ap1")
	must(t, err)
	if got.Status != selo.ApprovalConsumed || got.WalletID != "w7" || !got.DecidedAt.Equal(micro(decided.Add(time.Second))) {
		t.Fatalf("after approve and consume: %+v", got)
	}
	// Pending approvals cannot be consumed, and expired ones cannot be approved.
	wantCode(t, st.DecideApproval(ctx, "ap2", selo.ApprovalConsumed, "", decided, entry("approval.consume", "approval/ap2")), selo.ECONFLICT)
	wantCode(t, st.DecideApproval(ctx, "ap3", selo.ApprovalApproved, "", start.Add(time.Minute), entry("approval.approve", "approval/ap3")), selo.ECONFLICT)
	must(t, st.DecideApproval(ctx, "ap3", selo.ApprovalExpired, "", start.Add(time.Minute), entry("approval.expire", "approval/ap3")))
	audited++
	wantCode(t, st.DecideApproval(ctx, "ap9", selo.ApprovalApproved, "", decided, entry("approval.approve", "approval/ap9")), selo.ENOTFOUND)

	// Wrong codes: dead at the third.
	for want := 1; want <= 3; want++ {
		n, err := st.RecordApprovalCodeFailure(ctx, "ap2", 3)
		must(t, err)
		if n != want {
			t.Fatalf("failure count %d, want %d", n, want)
		}
	}
	got, err = st.FindApproval(ctx, "ap2")
	must(t, err)
	if got.Status != selo.ApprovalDead || got.Failures != 3 {
		t.Fatalf("after 3 wrong codes: %+v, want dead", got)
	}
	_, err = st.RecordApprovalCodeFailure(ctx, "ap2", 3)
	wantCode(t, err, selo.ECONFLICT)
	_, err = st.RecordApprovalCodeFailure(ctx, "ap9", 3)
	wantCode(t, err, selo.ENOTFOUND)
	wantCode(t, st.DecideApproval(ctx, "ap2", selo.ApprovalApproved, "", decided, entry("approval.approve", "approval/ap2")), selo.ECONFLICT)

	// Approve and deny racing: one decision wins and it is the one stored.
	must(t, st.CreateApproval(ctx, &selo.Approval{ID: "race", AccountID: "a1", CredentialID: "sign1", Purpose: "signature",
		Type: selo.ApprovalWallet, ExpiresAt: start.Add(time.Hour)}, entry("approval.create", "approval/race")))
	audited++
	statuses := make(chan selo.ApprovalStatus, writers)
	wins, errs := exactlyOne(writers, func(i int) error {
		status := selo.ApprovalApproved
		if i%2 == 1 {
			status = selo.ApprovalDenied
		}
		err := st.DecideApproval(ctx, "race", status, fmt.Sprintf("w%d", i), decided, entry("approval.decide", "approval/race"))
		if err == nil {
			statuses <- status
		}
		return err
	})
	audited += wins
	if wins != 1 || !allCode(errs, selo.ECONFLICT) {
		t.Fatalf("%d decisions won (want 1); errors %v", wins, errs)
	}
	got, err = st.FindApproval(ctx, "race")
	must(t, err)
	if winner := <-statuses; got.Status != winner {
		t.Fatalf("stored status %s, but the %s decision won", got.Status, winner)
	}
	wantIntactAudit(t, st, audited)
}

func testSignatureActivation(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	st := open(t, NewClock(start)).Store
	setupSigning(t, st)
	audited := 5

	hashes := [][]byte{bytes.Repeat([]byte{0xaa}, 32), {0}, bytes.Repeat([]byte{0xaa}, 32)}
	newSAD := func(hash string) *selo.SignatureActivation {
		return &selo.SignatureActivation{SADHash: hash, AccountID: "a1", CredentialID: "sign1",
			HashAlgorithmOID: "2.16.840.1.101.3.4.2.1", Hashes: hashes, ExpiresAt: start.Add(5 * time.Minute)}
	}
	s := newSAD("5ad1")
	must(t, st.CreateSignatureActivation(ctx, s, entry("sad.create", "credential/sign1")))
	audited++
	for name, tt := range map[string]struct {
		s    *selo.SignatureActivation
		code string
	}{
		"same hash":          {newSAD("5ad1"), selo.ECONFLICT},
		"another account's":  {&selo.SignatureActivation{SADHash: "5ad9", AccountID: "a2", CredentialID: "sign1", HashAlgorithmOID: "1.2", Hashes: hashes, ExpiresAt: start.Add(time.Minute)}, selo.ENOTFOUND},
		"unknown credential": {&selo.SignatureActivation{SADHash: "5ad9", AccountID: "a1", CredentialID: "nothing", HashAlgorithmOID: "1.2", Hashes: hashes, ExpiresAt: start.Add(time.Minute)}, selo.ENOTFOUND},
		"no hashes":          {&selo.SignatureActivation{SADHash: "5ad9", AccountID: "a1", CredentialID: "sign1", HashAlgorithmOID: "1.2", ExpiresAt: start.Add(time.Minute)}, selo.EINVALID},
		"empty hash":         {&selo.SignatureActivation{SADHash: "5ad9", AccountID: "a1", CredentialID: "sign1", HashAlgorithmOID: "1.2", Hashes: [][]byte{{1}, {}}, ExpiresAt: start.Add(time.Minute)}, selo.EINVALID},
		"no algorithm":       {&selo.SignatureActivation{SADHash: "5ad9", AccountID: "a1", CredentialID: "sign1", Hashes: hashes, ExpiresAt: start.Add(time.Minute)}, selo.EINVALID},
		"already used":       {&selo.SignatureActivation{SADHash: "5ad9", AccountID: "a1", CredentialID: "sign1", HashAlgorithmOID: "1.2", Hashes: hashes, ExpiresAt: start.Add(time.Minute), UsedAt: start}, selo.EINVALID},
	} {
		if err := st.CreateSignatureActivation(ctx, tt.s, entry("sad.create", "credential/"+tt.s.CredentialID)); selo.ErrorCode(err) != tt.code {
			t.Fatalf("%s: error %v, want %s", name, err, tt.code)
		}
	}

	now := start.Add(time.Minute)
	got, err := st.ConsumeSignatureActivation(ctx, "5ad1", now)
	must(t, err)
	want := *s
	want.UsedAt = micro(now)
	if !reflect.DeepEqual(got, &want) {
		t.Fatalf("ConsumeSignatureActivation returned %+v, want %+v", got, &want)
	}
	_, err = st.ConsumeSignatureActivation(ctx, "5ad1", now)
	wantCode(t, err, selo.ENOTFOUND)
	_, err = st.ConsumeSignatureActivation(ctx, "0000", now)
	wantCode(t, err, selo.ENOTFOUND)
	must(t, st.CreateSignatureActivation(ctx, newSAD("5ad2"), entry("sad.create", "credential/sign1")))
	audited++
	_, err = st.ConsumeSignatureActivation(ctx, "5ad2", start.Add(5*time.Minute))
	wantCode(t, err, selo.ENOTFOUND)

	// Racing for one SAD: exactly one caller gets it.
	must(t, st.CreateSignatureActivation(ctx, newSAD("5ad3"), entry("sad.create", "credential/sign1")))
	audited++
	wins, errs := exactlyOne(writers, func(int) error {
		_, err := st.ConsumeSignatureActivation(ctx, "5ad3", now)
		return err
	})
	if wins != 1 || !allCode(errs, selo.ENOTFOUND) {
		t.Fatalf("%d callers consumed one SAD (want 1); errors %v", wins, errs)
	}

	// UseSignatureActivation: consumption, the credential as stored and the
	// audit entry of the decision in one transaction.
	must(t, st.CreateSignatureActivation(ctx, newSAD("5ad4"), entry("sad.create", "credential/sign1")))
	audited++
	calls := 0
	var seen *selo.SignatureActivation
	err = st.UseSignatureActivation(ctx, "5ad4", now, func(act *selo.SignatureActivation, c *selo.Credential, cert *selo.Certificate, ca *selo.CA) (*selo.AuditEntry, error) {
		calls++
		seen = act
		if c == nil || c.ID != "sign1" || c.AccountID != "a1" || c.Status != selo.CredentialActive {
			t.Errorf("decide got credential %+v, want sign1 of a1, active", c)
		}
		if cert != nil || ca != nil {
			t.Errorf("decide got certificate %+v and CA %+v for a credential without a certificate", cert, ca)
		}
		return entry("signature.sign", "credential/sign1"), nil
	})
	must(t, err)
	audited++
	want = *newSAD("5ad4")
	want.CreatedAt, want.ExpiresAt, want.UsedAt = micro(start), micro(want.ExpiresAt), micro(now)
	if calls != 1 || !reflect.DeepEqual(seen, &want) {
		t.Fatalf("decide called %d times with %+v, want once with %+v", calls, seen, &want)
	}
	noDecide := func(*selo.SignatureActivation, *selo.Credential, *selo.Certificate, *selo.CA) (*selo.AuditEntry, error) {
		t.Fatal("decide called for a SAD that is not live")
		return nil, nil
	}
	wantCode(t, st.UseSignatureActivation(ctx, "5ad4", now, noDecide), selo.ENOTFOUND)
	wantCode(t, st.UseSignatureActivation(ctx, "0000", now, noDecide), selo.ENOTFOUND)
	_, err = st.ConsumeSignatureActivation(ctx, "5ad4", now)
	wantCode(t, err, selo.ENOTFOUND)
	must(t, st.CreateSignatureActivation(ctx, newSAD("5ad5"), entry("sad.create", "credential/sign1")))
	audited++
	wantCode(t, st.UseSignatureActivation(ctx, "5ad5", start.Add(5*time.Minute), noDecide), selo.ENOTFOUND)

	// A refusal is returned after its audit entry is committed; the SAD stays used.
	must(t, st.CreateSignatureActivation(ctx, newSAD("5ad6"), entry("sad.create", "credential/sign1")))
	audited++
	refused := selo.Errorf(selo.EUNAUTHORIZED, "invalid SAD")
	err = st.UseSignatureActivation(ctx, "5ad6", now, func(*selo.SignatureActivation, *selo.Credential, *selo.Certificate, *selo.CA) (*selo.AuditEntry, error) {
		return entry("signature.sign.refused", "credential/sign1"), refused
	})
	if err != refused {
		t.Fatalf("UseSignatureActivation returned %v, want decide's error", err)
	}
	audited++
	if all := wantIntactAudit(t, st, audited); all[len(all)-1].Action != "signature.sign.refused" {
		t.Fatalf("last audit entry is %s, want the refusal", all[len(all)-1].Action)
	}
	_, err = st.ConsumeSignatureActivation(ctx, "5ad6", now)
	wantCode(t, err, selo.ENOTFOUND)

	// No audit entry, no consumption.
	must(t, st.CreateSignatureActivation(ctx, newSAD("5ad7"), entry("sad.create", "credential/sign1")))
	audited++
	err = st.UseSignatureActivation(ctx, "5ad7", now, func(*selo.SignatureActivation, *selo.Credential, *selo.Certificate, *selo.CA) (*selo.AuditEntry, error) {
		return nil, nil
	})
	wantCode(t, err, selo.EINVALID)
	_, err = st.ConsumeSignatureActivation(ctx, "5ad7", now)
	must(t, err)

	// Racing for one SAD: exactly one caller decides.
	must(t, st.CreateSignatureActivation(ctx, newSAD("5ad8"), entry("sad.create", "credential/sign1")))
	audited++
	wins, errs = exactlyOne(writers, func(int) error {
		return st.UseSignatureActivation(ctx, "5ad8", now, func(*selo.SignatureActivation, *selo.Credential, *selo.Certificate, *selo.CA) (*selo.AuditEntry, error) {
			return entry("signature.sign", "credential/sign1"), nil
		})
	})
	if wins != 1 || !allCode(errs, selo.ENOTFOUND) {
		t.Fatalf("%d callers used one SAD (want 1); errors %v", wins, errs)
	}
	audited++

	// A credential with a certificate: decide gets the certificate and its
	// CA as they are when the SAD is used, a revocation of the CA included.
	setupCAs(t, st, "ca1")
	must(t, st.CreateCA(ctx, newCA("ca2", "ca1"), entry("ca.create", "ca/ca2")))
	must(t, st.CreateCertificate(ctx, newCertificate("c0ffee", "ca2"), entry("certificate.issue", "certificate/c0ffee")))
	must(t, st.UpdateCredentialCertificate(ctx, "sign1", "c0ffee", entry("credential.certificate", "credential/sign1")))
	audited += 4
	use := func(hash string) (cert *selo.Certificate, ca *selo.CA) {
		t.Helper()
		must(t, st.CreateSignatureActivation(ctx, newSAD(hash), entry("sad.create", "credential/sign1")))
		must(t, st.UseSignatureActivation(ctx, hash, now, func(_ *selo.SignatureActivation, _ *selo.Credential, c *selo.Certificate, a *selo.CA) (*selo.AuditEntry, error) {
			cert, ca = c, a
			return entry("signature.sign", "credential/sign1"), nil
		}))
		audited += 2
		return cert, ca
	}
	if cert, ca := use("5ad9"); cert == nil || cert.Serial != "c0ffee" || ca == nil || ca.ID != "ca2" || ca.Status != selo.CAActive {
		t.Fatalf("decide got certificate %+v and CA %+v, want c0ffee of active ca2", cert, ca)
	}
	_, _, err = st.RevokeCA(ctx, &selo.CARevocation{CAID: "ca2", Serial: "0a", Reason: selo.ReasonCACompromise}, entry("ca.revoke", "ca/ca2"))
	must(t, err)
	audited++
	if cert, ca := use("5ada"); cert == nil || cert.Status != selo.CertValid || ca == nil || ca.ID != "ca2" || ca.Status != selo.CARevoked {
		t.Fatalf("after the CA's revocation decide got certificate %+v and CA %+v, want valid c0ffee of revoked ca2", cert, ca)
	}
	wantIntactAudit(t, st, audited)
}

// allCode reports whether every error carries the application error code.
func allCode(errs []error, code string) bool {
	for _, err := range errs {
		if selo.ErrorCode(err) != code {
			return false
		}
	}
	return true
}
