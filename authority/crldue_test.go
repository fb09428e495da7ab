package authority_test

import (
	"context"
	"crypto/x509"
	"testing"
	"time"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/internal/testenv"
	"github.com/selo-qtsp/selo/store/storetest"
)

// TestRefreshStatusPublishesLostRevocations: a revocation committed without
// the CRL publication it scheduled (a crash between the two), and a CRL
// number reserved and never published, each make the status worker publish a
// CRL on its next pass although the current CRL is far from half-life; a
// pass with nothing new publishes nothing.
func TestRefreshStatusPublishesLostRevocations(t *testing.T) {
	run := func(t *testing.T, s *stack, clock *storetest.Clock) {
		ctx := context.Background()
		c := s.issue(t, "qualified-sign", "ecdsa-p256")
		if _, err := s.A.RefreshStatus(ctx); err != nil {
			t.Fatal(err)
		}
		if rep, err := s.A.RefreshStatus(ctx); err != nil || rep.CRLs != 0 {
			t.Fatalf("a second pass with nothing new published %d CRLs (%v), want 0", rep.CRLs, err)
		}
		// As a process killed right after the revocation's commit leaves it:
		// the revocation is in the database, no CRL was made for it.
		clock.Add(2 * time.Second) // the CRL above is of an earlier second
		rev := &selo.Revocation{Serial: c.Serial, Reason: selo.ReasonKeyCompromise}
		if _, _, err := s.Store.RevokeCertificate(ctx, rev, &selo.AuditEntry{Actor: "officer", Action: "certificate.revoke",
			Object: "certificate/" + c.Serial, Outcome: selo.OutcomeSuccess, Details: "{}"}); err != nil {
			t.Fatal(err)
		}
		clock.Add(time.Second)
		a := s.with(t, s.Store, nil) // the restarted process
		rep, err := a.RefreshStatus(ctx)
		if err != nil || rep.CRLs == 0 {
			t.Fatalf("after a lost publication the worker published %d CRLs (%v), want the qualified CA's", rep.CRLs, err)
		}
		crl, err := a.CurrentCRL(ctx, testenv.QualifiedID)
		if err != nil {
			t.Fatal(err)
		}
		list, err := x509.ParseRevocationList(crl.DER)
		if err != nil {
			t.Fatal(err)
		}
		if len(list.RevokedCertificateEntries) != 1 || list.RevokedCertificateEntries[0].SerialNumber.Text(16) != c.Serial {
			t.Fatalf("the CRL the worker published lists %d entries, want %s", len(list.RevokedCertificateEntries), c.Serial)
		}

		// A number reserved by a publication that never finished.
		if _, err := s.Store.NextCRLNumber(ctx, testenv.QualifiedID); err != nil {
			t.Fatal(err)
		}
		if rep, err := a.RefreshStatus(ctx); err != nil || rep.CRLs != 1 {
			t.Fatalf("after a reserved, unpublished CRL number the worker published %d CRLs (%v), want 1", rep.CRLs, err)
		}
		st, err := s.Store.CRLState(ctx, testenv.QualifiedID)
		if err != nil || st.Reserved != st.Published {
			t.Fatalf("CRL state %+v (%v): the reserved number is still ahead", st, err)
		}
		// A revocation just before a CRL's thisUpdate gets one more CRL (it
		// may have been committed after the CRL read); then none.
		clock.Add(10 * time.Second)
		if rep, err := a.RefreshStatus(ctx); err != nil || rep.CRLs > 1 {
			t.Fatalf("a pass after catching up published %d CRLs (%v), want at most 1", rep.CRLs, err)
		}
		clock.Add(10 * time.Second)
		if rep, err := a.RefreshStatus(ctx); err != nil || rep.CRLs != 0 {
			t.Fatalf("a pass with nothing new published %d CRLs (%v), want 0", rep.CRLs, err)
		}
	}
	t.Run("sqlite", func(t *testing.T) {
		clock := storetest.NewClock(time.Now().UTC().Truncate(time.Second))
		run(t, sqliteStack(t, testenv.Options{Clock: clock}), clock)
	})
	t.Run("postgres", func(t *testing.T) {
		clock := storetest.NewClock(time.Now().UTC().Truncate(time.Second))
		run(t, postgresStack(t, clock), clock)
	})
}
