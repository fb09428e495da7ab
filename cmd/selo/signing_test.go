package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/signing"
)

func TestAccountAndCredentialCommands(t *testing.T) {
	t.Parallel()
	data := dataDir(t)
	pw := writeFile(t, filepath.Join(t.TempDir(), "pw"), "correct horse battery\n")
	mustRunSelo(t, "account", "create", "--data", data, "--email", "Maria@Example.pt", "--name", "Maria Silva",
		"--mobile", "+351912345678", "--password-file", pw)
	wantExit(t, runSelo(t, "account", "create", "--data", data, "--email", "maria@example.pt", "--name", "Again", "--password-file", pw), 1)
	wantExit(t, runSelo(t, "account", "create", "--data", data, "--email", "x@example.pt"), 2, "--name")

	// Issue 12 item 5: a qualified credential is made by an order, which
	// checks the holder's identity; an operator cannot make one directly.
	wantExit(t, runSelo(t, "credential", "create", "--data", data, "--account", "maria@example.pt", "--profile", "qualified-sign",
		"--approval", "wallet", "--cn", "Maria Silva", "--given-name", "Maria", "--surname", "Silva",
		"--serial-number", "IDCPT-12345678", "--country", "PT"), 1, "made by an order", "selo order create --delivery cloud")
	if got := strings.Join(auditActions(t, data), "\n"); !strings.Contains(got, "credential.create ") {
		t.Errorf("the refused credential create is not audited:\n%s", got)
	}
	// An advanced one still is, audited.
	r := mustRunSelo(t, "credential", "create", "--data", data, "--account", "maria@example.pt", "--profile", "advanced-invoice",
		"--approval", "sms", "--cn", "Silva Lda", "--org", "Silva Lda", "--org-id", "VATPT-500000002", "--country", "PT", "--json")
	var created map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &created); err != nil || created["approval"] != "sms" || created["key_bits"] != float64(256) {
		t.Fatalf("credential create --json: %v\n%s", err, r)
	}
	// Authorizer approval is only for e-seals.
	wantExit(t, runSelo(t, "credential", "create", "--data", data, "--account", "maria@example.pt", "--profile", "qualified-sign",
		"--approval", "authorizer", "--cn", "Maria Silva", "--given-name", "Maria", "--surname", "Silva",
		"--serial-number", "IDCPT-12345678", "--country", "PT"), 1, "e-seal")
	wantExit(t, runSelo(t, "credential", "list", "--data", data, "--account", "nobody@example.pt"), 1)

	r = mustRunSelo(t, "credential", "list", "--data", data, "--account", "maria@example.pt")
	if !strings.Contains(r.stdout, created["id"].(string)) || !strings.Contains(r.stdout, "sms") {
		t.Fatalf("credential list:\n%s", r)
	}
	// Disable and enable an account and a credential (issue 13 item 2).
	r = mustRunSelo(t, "account", "disable", "--data", data, "maria@example.pt")
	if !strings.Contains(r.stdout, "disabled") {
		t.Fatalf("account disable:\n%s", r)
	}
	mustRunSelo(t, "account", "enable", "--data", data, "maria@example.pt")
	wantExit(t, runSelo(t, "account", "disable", "--data", data, "nobody@example.pt"), 1)
	id := created["id"].(string)
	mustRunSelo(t, "credential", "disable", "--data", data, id)
	if r = mustRunSelo(t, "credential", "list", "--data", data, "--account", "maria@example.pt"); !strings.Contains(r.stdout, "disabled") {
		t.Fatalf("credential list after disable:\n%s", r)
	}
	mustRunSelo(t, "credential", "enable", "--data", data, id)
	wantExit(t, runSelo(t, "credential", "disable", "--data", data, "no-such-credential"), 1)
	r = mustRunSelo(t, "audit", "list", "--data", data)
	for _, action := range []string{"account.disable", "account.enable", "credential.disable", "credential.enable"} {
		if !strings.Contains(r.stdout, action) {
			t.Errorf("audit list has no %s:\n%s", action, r.stdout)
		}
	}

	// A wallet enrolment after the officer's identity check (issue 13 item 11).
	wantExit(t, runSelo(t, "account", "wallet-offer", "--data", data, "maria@example.pt"), 2, "--identity-checked")
	if r = mustRunSelo(t, "account", "wallet-offer", "--data", data, "maria@example.pt", "--identity-checked"); !strings.Contains(r.stdout, "selo-wallet://") {
		t.Fatalf("account wallet-offer:\n%s", r)
	}
}

func TestWalletCommands(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newCSCServer(t)
	svc, a := s.svc, s.acct
	credID := s.credential(t, selo.ApprovalWallet, selo.KeyECDSAP256)
	offer, err := svc.StartWalletEnrollment(ctx, a.ID, signing.FactorProof{IdentityCheckedBy: "operator:test"})
	if err != nil {
		t.Fatal(err)
	}

	dir := filepath.Join(t.TempDir(), "wallet")
	pin := writeFile(t, filepath.Join(t.TempDir(), "pin"), "12345678\n")
	wrongPin := writeFile(t, filepath.Join(t.TempDir(), "wrong"), "87654321\n")
	w := []string{"wallet", "--dir", dir, "--pin-file", pin}
	r := mustRunSelo(t, append(w, "enroll", offer.URI, "--name", "laptop")...)
	if !strings.Contains(r.stdout, "registered") {
		t.Fatalf("enroll:\n%s", r)
	}
	key := readFile(t, filepath.Join(dir, "key.pem"))
	if !bytes.Contains(key, []byte("ENCRYPTED PRIVATE KEY")) {
		t.Fatal("the device key is not stored encrypted")
	}
	// The enrolment URI is single use.
	wantExit(t, runSelo(t, "wallet", "--dir", filepath.Join(t.TempDir(), "w2"), "--pin-file", pin, "enroll", offer.URI), 1, "enrolment")

	r = mustRunSelo(t, append(w, "list")...)
	if !strings.Contains(r.stdout, "nothing waiting") {
		t.Fatalf("list with nothing pending:\n%s", r)
	}
	hashes := [][]byte{bytes.Repeat([]byte{0xab}, 32)}
	authorize := func() string {
		t.Helper()
		res, err := svc.Authorize(ctx, signing.AuthorizeRequest{AccountID: a.ID, CredentialID: credID,
			HashAlgorithmOID: signing.OIDSHA256, Hashes: hashes, NumSignatures: 1, Description: "lease.pdf"})
		if err != nil || res.Pending == nil {
			t.Fatalf("Authorize: %+v %v", res, err)
		}
		return res.Pending.ID
	}
	id := authorize()
	r = mustRunSelo(t, append(w, "list")...)
	if !strings.Contains(r.stdout, id) || !strings.Contains(r.stdout, "lease.pdf") || !strings.Contains(r.stdout, strings.Repeat("ab", 32)) {
		t.Fatalf("list does not show the request:\n%s", r)
	}
	wantExit(t, runSelo(t, "wallet", "--dir", dir, "--pin-file", wrongPin, "approve", id), 1, "PIN")
	mustRunSelo(t, append(w, "approve", id)...)
	if res, err := svc.AuthorizeCheck(ctx, a.ID, id); err != nil || res.SAD == "" {
		t.Fatalf("after approve: %+v %v", res, err)
	}

	// Deny through the QR fallback URI.
	id = authorize()
	p, err := svc.ListApprovals(ctx, a.ID, selo.ApprovalPending)
	if err != nil || len(p) != 1 {
		t.Fatalf("pending: %v %v", p, err)
	}
	mustRunSelo(t, append(w, "deny", "--uri", svc.Challenge(p[0]).URI())...)
	if _, err := svc.AuthorizeCheck(ctx, a.ID, id); selo.ErrorCode(err) != selo.EFORBIDDEN {
		t.Fatalf("after deny: %v", err)
	}
	wantExit(t, runSelo(t, append(w, "approve")...), 2)
}
