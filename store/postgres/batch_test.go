package postgres_test

import (
	"context"
	"crypto/rand"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/store/postgres"
)

// TestPipelinedWriteFailures makes audited writes fail in each of the two
// round trips of a pipelined transaction (the writes with the audit head
// lock, then the audit entry with COMMIT) on a pool of one connection. Each
// must return its error, leave nothing of itself in the database, and hand
// the connection back usable: the writes after it succeed and the audit chain
// holds exactly the successful writes.
func TestPipelinedWriteFailures(t *testing.T) {
	ctx := context.Background()
	db, raw := openWithConn(t, 1)
	exec := func(query string) {
		t.Helper()
		if _, err := raw.Exec(ctx, query); err != nil {
			t.Fatalf("%s: %v", query, err)
		}
	}
	audit := func(action string) *selo.AuditEntry {
		return &selo.AuditEntry{Actor: "t", Action: action, Object: "o", Outcome: selo.OutcomeSuccess}
	}

	wantAudited := 0
	ok := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		wantAudited++
	}
	ok("CreateCA", db.CreateCA(ctx, &selo.CA{ID: "ca1", Name: "CA 1", KeyID: "k1", KeyAlgorithm: selo.KeyECDSAP256, CertDER: []byte{0x30}}, audit("ca.create")))
	ok("CreateCertificate 01", db.CreateCertificate(ctx, testCertificate("01", "ca1"), audit("certificate.issue")))

	// Failures in the first round trip, mapped to the store's codes.
	failures := []struct {
		name string
		err  error
		code string
	}{
		{"serial exists", db.CreateCertificate(ctx, testCertificate("01", "ca1"), audit("certificate.issue")), selo.ECONFLICT},
		{"unknown CA", db.CreateCertificate(ctx, testCertificate("02", "nope"), audit("certificate.issue")), selo.ENOTFOUND},
		{"status of unknown CA", db.SetCAStatus(ctx, "nope", selo.CARetired, audit("ca.status")), selo.ENOTFOUND},
		{"supersede unknown", db.SupersedeCertificate(ctx, "99", testCertificate("03", "ca1"), audit("certificate.reissue")), selo.ENOTFOUND},
		{"release without revocation", db.ReleaseHold(ctx, "01", audit("certificate.release")), selo.ENOTFOUND},
		{"CA exists", db.CreateCA(ctx, &selo.CA{ID: "ca1", Name: "again", KeyID: "k2", KeyAlgorithm: selo.KeyECDSAP256, CertDER: []byte{0x30}}, audit("ca.create")), selo.ECONFLICT},
	}
	for _, f := range failures {
		if got := selo.ErrorCode(f.err); got != f.code {
			t.Errorf("%s: %v (code %q), want %q", f.name, f.err, got, f.code)
		}
	}

	// A failure in the second round trip: the audit insert fails after the
	// certificate was inserted and the head locked.
	exec(`CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'refused by test'; END $$`)
	exec(`CREATE TRIGGER refuse BEFORE INSERT ON audit_log FOR EACH ROW EXECUTE FUNCTION refuse()`)
	if err := db.CreateCertificate(ctx, testCertificate("04", "ca1"), audit("certificate.issue")); err == nil {
		t.Error("CreateCertificate with a failing audit insert succeeded")
	}
	if _, _, err := db.RevokeCertificate(ctx, &selo.Revocation{Serial: "01", Reason: selo.ReasonKeyCompromise}, audit("certificate.revoke")); err == nil {
		t.Error("RevokeCertificate with a failing audit insert succeeded")
	}
	exec(`DROP TRIGGER refuse ON audit_log`)

	for _, serial := range []string{"02", "03", "04"} {
		if _, err := db.FindCertificate(ctx, serial); selo.ErrorCode(err) != selo.ENOTFOUND {
			t.Errorf("certificate %s of a failed write: %v, want not found", serial, err)
		}
	}
	if c, err := db.FindCertificate(ctx, "01"); err != nil || c.Status != selo.CertValid {
		t.Errorf("certificate 01 after a failed revocation: %+v, %v; want valid", c, err)
	}
	if _, err := db.FindRevocation(ctx, "01"); selo.ErrorCode(err) != selo.ENOTFOUND {
		t.Errorf("revocation of a failed revoke: %v, want not found", err)
	}

	// The one connection is usable again, and writes resume the chain.
	ok("CreateCertificate 05", db.CreateCertificate(ctx, testCertificate("05", "ca1"), audit("certificate.issue")))
	rev, created, err := db.RevokeCertificate(ctx, &selo.Revocation{Serial: "05", Reason: selo.ReasonCertificateHold}, audit("certificate.revoke"))
	ok("RevokeCertificate 05", err)
	if !created || rev.Serial != "05" {
		t.Fatalf("RevokeCertificate 05 = %+v, %v", rev, created)
	}
	// A second revocation finds the first and writes nothing.
	first, created, err := db.RevokeCertificate(ctx, &selo.Revocation{Serial: "05", Reason: selo.ReasonKeyCompromise}, audit("certificate.revoke"))
	if err != nil || created || first.Reason != selo.ReasonCertificateHold {
		t.Fatalf("second RevokeCertificate 05 = %+v, %v, %v; want the hold, false", first, created, err)
	}
	ok("ReleaseHold 05", db.ReleaseHold(ctx, "05", audit("certificate.release")))
	ok("AppendAudit", db.AppendAudit(ctx, audit("test.append")))

	entries, err := db.ListAudit(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != wantAudited {
		t.Errorf("%d audit entries, want %d (one per successful write)", len(entries), wantAudited)
	}
	if err := selo.VerifyAuditChain(nil, entries); err != nil {
		t.Errorf("audit chain: %v", err)
	}
	if seq, hash, err := db.AuditHead(ctx); err != nil || seq != int64(len(entries)) || hash != entries[len(entries)-1].Hash {
		t.Errorf("AuditHead = %d, %q, %v; want the last entry", seq, hash, err)
	}
}

// openWithConn opens the store over a fresh schema with a pool of conns
// connections, and a connection of its own beside the pool for the test to
// hold locks or break things with; both are closed when the test ends.
func openWithConn(t *testing.T, conns int) (*postgres.DB, *pgx.Conn) {
	t.Helper()
	ctx := context.Background()
	dsn := testDSN(t)
	db, err := postgres.Open(ctx, withParam(t, dsn, "pool_max_conns", strconv.Itoa(conns)), selo.SystemClock{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	raw, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close(ctx) })
	return db, raw
}

// testCertificate is a certificate row with a random 64-byte DER, for store
// tests that never parse it.
func testCertificate(serial, caID string) *selo.Certificate {
	der := make([]byte, 64)
	rand.Read(der)
	return &selo.Certificate{Serial: serial, CAID: caID, Profile: "p", Subject: "CN=" + serial,
		NotBefore: time.Unix(1700000000, 0), NotAfter: time.Unix(1800000000, 0), DER: der}
}
