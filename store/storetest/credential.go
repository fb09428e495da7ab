package storetest

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/selo-qtsp/selo"
)

// newCredential returns a credential fixture of account accountID.
func newCredential(id, accountID, profile string, approval selo.ApprovalType) *selo.Credential {
	return &selo.Credential{ID: id, AccountID: accountID, KeyID: "cloud/" + id, KeyAlgorithm: selo.KeyECDSAP256,
		Profile: profile, ApprovalType: approval, Description: "credential " + id}
}

func testCredential(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	clock := NewClock(start)
	st := open(t, clock).Store
	createAccounts(t, st, "a1", "a2")
	setupCAs(t, st, "ca1")
	audited := 3

	c1 := newCredential("c1", "a1", "qualified-sign", selo.ApprovalSMS)
	must(t, st.CreateCredential(ctx, c1, entry("credential.create", "credential/c1")))
	audited++
	if c1.Mobile != "+35191000a1" || c1.Status != selo.CredentialActive || !c1.CreatedAt.Equal(micro(start)) {
		t.Fatalf("CreateCredential filled in %+v, want the account's mobile, active and %v", c1, micro(start))
	}
	got, err := st.FindCredential(ctx, "c1")
	must(t, err)
	if !reflect.DeepEqual(got, c1) {
		t.Fatalf("FindCredential returned %+v, want %+v", got, c1)
	}
	clock.Add(time.Second)
	seal := newCredential("c2", "a1", "qualified-seal", selo.ApprovalAuthorizer)
	seal.Mobile, seal.KeyAlgorithm = "+351910000099", selo.KeyRSA3072
	must(t, st.CreateCredential(ctx, seal, entry("credential.create", "credential/c2")))
	audited++
	clock.Add(-2 * time.Second) // an older credential created later still lists first
	old := newCredential("c0", "a1", "qualified-sign", selo.ApprovalWallet)
	must(t, st.CreateCredential(ctx, old, entry("credential.create", "credential/c0")))
	audited++
	must(t, st.CreateCredential(ctx, newCredential("c3", "a2", "qualified-sign", selo.ApprovalAuthenticator), entry("credential.create", "credential/c3")))
	audited++

	list, err := st.ListCredentials(ctx, "a1")
	must(t, err)
	if len(list) != 3 || list[0].ID != "c0" || list[1].ID != "c1" || list[2].ID != "c2" {
		t.Fatalf("ListCredentials(a1) = %v, want c0, c1, c2", credentialIDs(list))
	}
	if !reflect.DeepEqual(list[2], seal) {
		t.Fatalf("listed %+v, want %+v", list[2], seal)
	}
	if list, err := st.ListCredentials(ctx, "nobody"); err != nil || len(list) != 0 {
		t.Fatalf("ListCredentials(nobody) = %v, %v; want none", credentialIDs(list), err)
	}

	for name, tt := range map[string]struct {
		c    *selo.Credential
		code string
	}{
		"same ID":               {newCredential("c1", "a2", "qualified-sign", selo.ApprovalSMS), selo.ECONFLICT},
		"unknown account":       {newCredential("c9", "nobody", "qualified-sign", selo.ApprovalSMS), selo.ENOTFOUND},
		"authorizer on signing": {newCredential("c9", "a1", "qualified-sign", selo.ApprovalAuthorizer), selo.EINVALID},
		"unknown approval":      {newCredential("c9", "a1", "qualified-sign", "fingerprint"), selo.EINVALID},
		"unknown key":           {&selo.Credential{ID: "c9", AccountID: "a1", KeyID: "k", KeyAlgorithm: "dsa", Profile: "p", ApprovalType: selo.ApprovalSMS}, selo.EINVALID},
		"unknown certificate":   {&selo.Credential{ID: "c9", AccountID: "a1", KeyID: "k", KeyAlgorithm: selo.KeyECDSAP256, Profile: "p", ApprovalType: selo.ApprovalSMS, CertificateSerial: "abc"}, selo.ENOTFOUND},
	} {
		if err := st.CreateCredential(ctx, tt.c, entry("credential.create", "credential/"+tt.c.ID)); selo.ErrorCode(err) != tt.code {
			t.Fatalf("%s: error %v, want %s", name, err, tt.code)
		}
	}
	wantCode(t, st.CreateCredential(ctx, newCredential("c9", "a1", "qualified-sign", selo.ApprovalSMS), nil), selo.EINVALID)
	_, err = st.FindCredential(ctx, "c9")
	wantCode(t, err, selo.ENOTFOUND)

	must(t, st.CreateCertificate(ctx, newCertificate("c1c1", "ca1"), entry("certificate.issue", "certificate/c1c1")))
	audited++
	must(t, st.UpdateCredentialCertificate(ctx, "c1", "c1c1", entry("credential.certify", "credential/c1")))
	audited++
	wantCode(t, st.UpdateCredentialCertificate(ctx, "c1", "dead", entry("credential.certify", "credential/c1")), selo.ENOTFOUND)
	wantCode(t, st.UpdateCredentialCertificate(ctx, "c9", "c1c1", entry("credential.certify", "credential/c9")), selo.ENOTFOUND)
	wantCode(t, st.UpdateCredentialCertificate(ctx, "c1", "C1C1", entry("credential.certify", "credential/c1")), selo.EINVALID)
	must(t, st.SetCredentialStatus(ctx, "c1", selo.CredentialDisabled, entry("credential.disable", "credential/c1")))
	audited++
	wantCode(t, st.SetCredentialStatus(ctx, "c1", "lost", entry("credential.disable", "credential/c1")), selo.EINVALID)
	wantCode(t, st.SetCredentialStatus(ctx, "c9", selo.CredentialDisabled, entry("credential.disable", "credential/c9")), selo.ENOTFOUND)
	got, err = st.FindCredential(ctx, "c1")
	must(t, err)
	if got.CertificateSerial != "c1c1" || got.Status != selo.CredentialDisabled {
		t.Fatalf("after certify and disable the credential is %+v", got)
	}

	// Approval failures lock at the limit, longer each time; a good approval resets the count.
	now := start.Add(time.Hour)
	for i, want := range []selo.ApprovalFailure{
		{FailedApprovals: 1}, {Lockouts: 1, LockedUntil: micro(now.Add(time.Hour))},
		{FailedApprovals: 1, Lockouts: 1}, {Lockouts: 2, LockedUntil: micro(now.Add(2 * time.Hour))},
		{FailedApprovals: 1, Lockouts: 2},
	} {
		f, err := st.RecordApprovalFailure(ctx, "c2", now, 2, lockForHours, entry("approval.fail", "credential/c2"))
		must(t, err)
		audited++
		if f.FailedApprovals != want.FailedApprovals || f.Lockouts != want.Lockouts || !f.LockedUntil.Equal(want.LockedUntil) {
			t.Fatalf("failure %d: %+v, want %+v", i+1, f, want)
		}
	}
	got, err = st.FindCredential(ctx, "c2")
	must(t, err)
	if got.FailedApprovals != 1 || got.Lockouts != 2 || !got.LockedUntil.Equal(micro(now.Add(2*time.Hour))) {
		t.Fatalf("after the failures the credential is %+v", got)
	}
	must(t, st.ResetApprovalFailures(ctx, "c2"))
	if got, _ := st.FindCredential(ctx, "c2"); got.FailedApprovals != 0 || got.Lockouts != 2 {
		t.Fatalf("ResetApprovalFailures left %+v", got)
	}
	wantCode(t, st.ResetApprovalFailures(ctx, "c9"), selo.ENOTFOUND)
	_, err = st.RecordApprovalFailure(ctx, "c9", now, 2, lockForHours, entry("approval.fail", "credential/c9"))
	wantCode(t, err, selo.ENOTFOUND)
	_, err = st.RecordApprovalFailure(ctx, "c2", now, 2, nil, entry("approval.fail", "credential/c2"))
	wantCode(t, err, selo.EINVALID)
	wantIntactAudit(t, st, audited)
}

// testConcurrentApprovalFailures has 20 goroutines count a wrong code at
// once: every failure counts, and the credential locks exactly at every fifth.
func testConcurrentApprovalFailures(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	st := open(t, NewClock(start)).Store
	createAccounts(t, st, "a1")
	must(t, st.CreateCredential(ctx, newCredential("c1", "a1", "qualified-sign", selo.ApprovalSMS), entry("credential.create", "credential/c1")))
	now := start.Add(time.Minute)
	var lockedUntil []time.Time
	locks := make(chan time.Time, 20)
	wins, errs := exactlyOne(20, func(int) error {
		f, err := st.RecordApprovalFailure(ctx, "c1", now, 5, lockForHours, entry("approval.fail", "credential/c1"))
		if err == nil && !f.LockedUntil.IsZero() {
			locks <- f.LockedUntil
		}
		return err
	})
	close(locks)
	for l := range locks {
		lockedUntil = append(lockedUntil, l)
	}
	if wins != 20 || len(errs) != 0 {
		t.Fatalf("%d of 20 failures counted: %v", wins, errs)
	}
	if len(lockedUntil) != 4 {
		t.Fatalf("%d lockouts, want 4", len(lockedUntil))
	}
	got, err := st.FindCredential(ctx, "c1")
	must(t, err)
	if got.FailedApprovals != 0 || got.Lockouts != 4 || !got.LockedUntil.Equal(micro(now.Add(4*time.Hour))) {
		t.Fatalf("after 20 failures the credential is %+v", got)
	}
	wantIntactAudit(t, st, 2+20)
}

// credentialIDs lists the IDs of credentials, for messages.
func credentialIDs(list []*selo.Credential) []string {
	var ids []string
	for _, c := range list {
		ids = append(ids, c.ID)
	}
	return ids
}
