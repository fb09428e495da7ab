package storetest

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/selo-qtsp/selo"
)

// testStatusChanges: every status change — a revocation, a released hold, a
// certificate superseded, a CA certificate revoked — shows in StatusChanges
// after the cursor it was made after, once the transaction committed; a
// new certificate or an unchanged status does not; a cursor of 0 starts now;
// more changes than the limit make the answer incomplete; pruning keeps
// what is recent.
func testStatusChanges(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	st := open(t, NewClock(start)).Store
	setupCAs(t, st, "ca1")
	must(t, st.CreateCA(ctx, newCA("ca2", "ca1"), entry("ca.create", "ca/ca2")))
	for _, serial := range []string{"a1", "a2", "a3", "a4", "a5"} {
		must(t, st.CreateCertificate(ctx, newCertificate(serial, "ca2"), entry("certificate.issue", "certificate/"+serial)))
	}
	wantCode(t, errOf(st.StatusChanges(ctx, 0, 0)), selo.EINVALID)
	wantCode(t, errOf(st.StatusChanges(ctx, -1, 10)), selo.EINVALID)

	serials, cursor, complete, err := st.StatusChanges(ctx, 0, 10)
	must(t, err)
	if len(serials) != 0 || !complete {
		t.Fatalf("StatusChanges from 0 = %v, complete %v; want nothing, complete", serials, complete)
	}
	// A serial may be reported again (the PostgreSQL store reads with an
	// overlap): every wanted serial must come, and nothing that never changed.
	changed := map[string]bool{}
	changes := func(want ...string) {
		t.Helper()
		got, next, complete, err := st.StatusChanges(ctx, cursor, 100)
		must(t, err)
		if !complete {
			t.Fatalf("StatusChanges = %v, incomplete; want %v", got, want)
		}
		for _, w := range want {
			if !slices.Contains(got, w) {
				t.Fatalf("StatusChanges = %v, want %v among them", got, want)
			}
			changed[w] = true
		}
		for _, g := range got {
			if !changed[g] {
				t.Fatalf("StatusChanges = %v names %s, whose status did not change", got, g)
			}
		}
		cursor = next
	}
	changes() // a certificate created is no change of status

	revoke(t, st, "a1", selo.ReasonKeyCompromise)
	revoke(t, st, "a2", selo.ReasonCertificateHold)
	changes("a1", "a2")
	// Revoking again changes nothing.
	_, created, err := st.RevokeCertificate(ctx, &selo.Revocation{Serial: "a1", Reason: selo.ReasonCACompromise}, entry("certificate.revoke", "certificate/a1"))
	must(t, err)
	if created {
		t.Fatal("a second revocation was created")
	}
	must(t, st.ReleaseHold(ctx, "a2", entry("certificate.release", "certificate/a2")))
	must(t, st.SupersedeCertificate(ctx, "a3", newCertificate("b3", "ca2"), entry("certificate.reissue", "certificate/b3")))
	_, _, err = st.RevokeCA(ctx, &selo.CARevocation{CAID: "ca2", Serial: "0c", Reason: selo.ReasonCACompromise}, entry("ca.revoke", "ca/ca2"))
	must(t, err)
	changes("a2", "a3", "0c")

	// A failed revocation (no audit entry) records nothing.
	_, _, err = st.RevokeCertificate(ctx, &selo.Revocation{Serial: "a4", Reason: selo.ReasonKeyCompromise}, nil)
	wantCode(t, err, selo.EINVALID)
	changes()

	// More than the limit: incomplete, and a cursor past them.
	revoke(t, st, "a4", selo.ReasonKeyCompromise)
	revoke(t, st, "a5", selo.ReasonKeyCompromise)
	_, next, complete, err := st.StatusChanges(ctx, cursor, 1)
	must(t, err)
	if complete {
		t.Fatal("two changes read with a limit of one were called complete")
	}
	cursor = next
	changed["a4"], changed["a5"] = true, true
	changes()

	// Pruning keeps what is recent, and drops what is old; changes after it
	// are reported as before.
	n, err := st.PruneStatusChanges(ctx, time.Hour)
	must(t, err)
	if n != 0 {
		t.Fatalf("PruneStatusChanges(1h) deleted %d fresh changes", n)
	}
	time.Sleep(2 * time.Millisecond) // the record's clock is the database's, not the test's
	if n, err = st.PruneStatusChanges(ctx, time.Millisecond); err != nil || n != 7 {
		t.Fatalf("PruneStatusChanges(1ms) deleted %d changes (%v), want the 7 made above", n, err)
	}
	must(t, st.CreateCertificate(ctx, newCertificate("a6", "ca2"), entry("certificate.issue", "certificate/a6")))
	revoke(t, st, "a6", selo.ReasonKeyCompromise)
	changes("a6")
	_, err = st.PruneStatusChanges(ctx, 0)
	wantCode(t, err, selo.EINVALID)
}

// errOf returns the error of a call that also returns values.
func errOf[A, B, C any](_ A, _ B, _ C, err error) error { return err }
