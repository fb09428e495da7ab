package storetest

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/selo-qtsp/selo"
)

// testSupersedeMovesCredentials checks that superseding a certificate moves
// every credential it certified to the replacement in the same transaction,
// each with its own audit entry after the supersession's, and leaves the
// credentials of other certificates alone; a refused supersession moves none.
func testSupersedeMovesCredentials(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	st := open(t, NewClock(start)).Store
	setupCAs(t, st, "old-ca", "new-ca")
	createAccounts(t, st, "a1", "a2")
	for _, serial := range []string{"a1", "a2"} {
		must(t, st.CreateCertificate(ctx, newCertificate(serial, "old-ca"), entry("certificate.issue", "certificate/"+serial)))
	}
	creds := map[string]string{"c1": "a1", "c2": "a1", "c3": "a2"} // credential → certificate
	for _, id := range []string{"c1", "c2", "c3"} {
		c := newCredential(id, "a1", "qualified-seal", selo.ApprovalAuthorizer)
		if id == "c2" {
			c.AccountID = "a2" // another holder's credential on the same certificate still moves
		}
		c.CertificateSerial = creds[id]
		must(t, st.CreateCredential(ctx, c, entry("credential.create", "credential/"+id)))
	}
	before := len(allAudit(t, st))

	// Refused: the replacement's serial exists. Nothing moves.
	wantCode(t, st.SupersedeCertificate(ctx, "a1", newCertificate("a2", "new-ca"), entry("certificate.reissue", "certificate/a2")), selo.ECONFLICT)
	wantSerial := func(id, serial string) {
		t.Helper()
		c, err := st.FindCredential(ctx, id)
		must(t, err)
		if c.CertificateSerial != serial {
			t.Fatalf("credential %s is on certificate %q, want %q", id, c.CertificateSerial, serial)
		}
	}
	wantSerial("c1", "a1")

	repl := newCertificate("b1", "new-ca")
	must(t, st.SupersedeCertificate(ctx, "a1", repl, entry("certificate.reissue", "certificate/b1")))
	wantSerial("c1", "b1")
	wantSerial("c2", "b1")
	wantSerial("c3", "a2")
	entries := wantIntactAudit(t, st, before+3)
	got := entries[before:]
	if got[0].Action != "certificate.reissue" {
		t.Fatalf("first entry of the supersession is %s, want certificate.reissue", got[0].Action)
	}
	for i, id := range []string{"c1", "c2"} {
		e := got[i+1]
		var d map[string]string
		if err := json.Unmarshal([]byte(e.Details), &d); err != nil {
			t.Fatal(err)
		}
		if e.Action != "credential.certificate.update" || e.Object != "credential/"+id || e.Actor != "storetest" ||
			d["old_serial"] != "a1" || d["new_serial"] != "b1" || !e.Time.Equal(got[0].Time) {
			t.Fatalf("audit entry of the move of %s: %+v", id, e)
		}
	}
	// A second hop moves them again.
	must(t, st.SupersedeCertificate(ctx, "b1", newCertificate("d1", "old-ca"), entry("certificate.reissue", "certificate/d1")))
	wantSerial("c1", "d1")
	wantSerial("c2", "d1")
	wantIntactAudit(t, st, before+6)
}
