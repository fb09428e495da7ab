package sqlite_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/store/sqlite"
	"github.com/selo-qtsp/selo/store/storetest"
)

// open makes a fresh database file in a temporary directory.
func open(tb testing.TB, clock selo.Clock) *storetest.Backend {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "selo.db")
	openStore := func(tb testing.TB) selo.Store {
		tb.Helper()
		db, err := sqlite.Open(context.Background(), path, clock)
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { db.Close() })
		return db
	}
	st := openStore(tb)
	var raw *sql.DB
	var rawOnce sync.Once
	openRaw := func(tb testing.TB) *sql.DB {
		rawOnce.Do(func() {
			var err error
			if raw, err = sql.Open("sqlite", path+"?_pragma=busy_timeout(10000)"); err != nil {
				tb.Fatal(err)
			}
			tb.Cleanup(func() { raw.Close() })
		})
		return raw
	}
	return &storetest.Backend{
		Store:  st,
		Reopen: openStore,
		Exec: func(tb testing.TB, query string, args ...any) {
			tb.Helper()
			if _, err := openRaw(tb).Exec(query, args...); err != nil {
				tb.Fatalf("%s: %v", query, err)
			}
		},
		LoadRevocations: func(tb testing.TB, caID string, n int) {
			tb.Helper()
			loadRevocations(tb, openRaw(tb), caID, n)
		},
	}
}

// loadRevocations stores what storetest.BulkRevocation describes for i in
// [0, n), generating the rows in SQL: two statements in one transaction.
func loadRevocations(tb testing.TB, raw *sql.DB, caID string, n int) {
	tb.Helper()
	tx, err := raw.Begin()
	if err != nil {
		tb.Fatal(err)
	}
	defer tx.Rollback()
	for _, query := range []string{`
		WITH RECURSIVE i(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM i WHERE i + 1 < ?1)
		INSERT INTO certificates (serial, ca_id, profile, subject, not_before, not_after, der, status, created_at)
		SELECT printf('%x', 68719476736 + i), ?2, 'bulk', 'CN=bulk', 0, 0, X'3000', 'revoked', 0 FROM i WHERE ?1 > 0`, `
		WITH RECURSIVE i(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM i WHERE i + 1 < ?1)
		INSERT INTO revocations (serial, ca_id, reason, revoked_at, invalidity_date, actor)
		SELECT printf('%x', 68719476736 + i), ?2, CASE i % 2 WHEN 1 THEN 1 ELSE 5 END,
			(1700000000 + i) * 1000000, CASE i % 2 WHEN 1 THEN (1600000000 + i) * 1000000 END, 'bulk'
		FROM i WHERE ?1 > 0`,
	} {
		if _, err := tx.Exec(query, n, caID); err != nil {
			tb.Fatalf("load %d revocations: %v", n, err)
		}
	}
	if err := tx.Commit(); err != nil {
		tb.Fatalf("load %d revocations: %v", n, err)
	}
}

func TestStore(t *testing.T) {
	storetest.Run(t, open)
}

func BenchmarkCreateCertificate(b *testing.B) {
	storetest.BenchmarkCreateCertificate(b, open)
}

func BenchmarkForEachRevocation(b *testing.B) {
	storetest.BenchmarkForEachRevocation(b, open)
}

// The store records its audit head, so the suite checks tail truncation.
var _ storetest.AuditHeader = (*sqlite.DB)(nil)

// TestStatusChangesPruned: a reader whose next change was pruned before it
// read it is told its answer is incomplete (SQLite's seq has no gaps but
// those of pruning), and goes on from the cursor it is given.
func TestStatusChangesPruned(t *testing.T) {
	ctx := context.Background()
	st := open(t, storetest.NewClock(time.Now())).Store
	_, cursor, _, err := st.StatusChanges(ctx, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.CreateCA(ctx, &selo.CA{ID: "ca1", Name: "CA 1", KeyID: "ca/ca1", KeyAlgorithm: selo.KeyECDSAP256, CertDER: []byte("der"), Status: selo.CAActive},
		&selo.AuditEntry{Actor: "test", Action: "ca.create", Object: "ca/ca1", Outcome: selo.OutcomeSuccess}); err != nil {
		t.Fatal(err)
	}
	for _, serial := range []string{"a1", "a2"} {
		c := &selo.Certificate{Serial: serial, CAID: "ca1", Profile: "tls-server", Subject: "CN=" + serial, NotBefore: time.Now(),
			NotAfter: time.Now().Add(time.Hour), DER: []byte{0x30, 0}, Status: selo.CertValid}
		audit := &selo.AuditEntry{Actor: "test", Action: "certificate.issue", Object: "certificate/" + serial, Outcome: selo.OutcomeSuccess}
		if err := st.CreateCertificate(ctx, c, audit); err != nil {
			t.Fatal(err)
		}
		audit = &selo.AuditEntry{Actor: "test", Action: "certificate.revoke", Object: "certificate/" + serial, Outcome: selo.OutcomeSuccess}
		if _, _, err := st.RevokeCertificate(ctx, &selo.Revocation{Serial: serial, Reason: selo.ReasonKeyCompromise}, audit); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(2 * time.Millisecond)
	if n, err := st.PruneStatusChanges(ctx, time.Millisecond); err != nil || n != 2 {
		t.Fatalf("PruneStatusChanges deleted %d (%v), want 2", n, err)
	}
	serials, next, complete, err := st.StatusChanges(ctx, cursor, 10)
	if err != nil || complete || len(serials) != 0 || next <= cursor {
		t.Fatalf("StatusChanges after pruning = %v, next %d (from %d), complete %v, %v; want nothing, incomplete, a later cursor",
			serials, next, cursor, complete, err)
	}
	if serials, _, complete, err := st.StatusChanges(ctx, next, 10); err != nil || !complete || len(serials) != 0 {
		t.Fatalf("StatusChanges from the new cursor = %v, complete %v, %v; want nothing, complete", serials, complete, err)
	}
}
