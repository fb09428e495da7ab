package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/store/postgres"
)

// TestGroupCommit holds the audit head locked from another connection while
// one CreateCertificate call is in flight and more queue behind it, then
// releases it: the queued calls must commit as one group, a taken serial
// among them must fail alone (ECONFLICT) without sinking the group, a
// certificate under an unknown CA must fail alone (ENOTFOUND) while the rest
// of its group is stored, and the audit chain must hold exactly one entry
// per stored certificate.
func TestGroupCommit(t *testing.T) {
	ctx := context.Background()
	db, raw := openWithConn(t, 2)

	audit := func(serial string) *selo.AuditEntry {
		return &selo.AuditEntry{Actor: "t", Action: "certificate.issue", Object: "certificate/" + serial, Outcome: selo.OutcomeSuccess}
	}
	if err := db.CreateCA(ctx, &selo.CA{ID: "ca1", Name: "CA 1", KeyID: "k1", KeyAlgorithm: selo.KeyECDSAP256, CertDER: []byte{0x30}},
		&selo.AuditEntry{Actor: "t", Action: "ca.create", Object: "ca/ca1", Outcome: selo.OutcomeSuccess}); err != nil {
		t.Fatal(err)
	}
	if err := db.CreateCertificate(ctx, testCertificate("0100", "ca1"), audit("0100")); err != nil {
		t.Fatal(err)
	}
	stored := map[string]bool{"0100": true}

	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); !cond(); runtime.Gosched() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting until %s", what)
			}
		}
	}
	// round queues calls behind a first one that waits for the head lock,
	// releases the lock and returns each serial's error.
	round := func(first string, queued map[string]string) map[string]error {
		t.Helper()
		tx, err := raw.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec(ctx, `SELECT seq FROM audit_head WHERE id = 1 FOR UPDATE`); err != nil {
			t.Fatal(err)
		}
		var mu sync.Mutex
		results := map[string]error{}
		var wg sync.WaitGroup
		create := func(serial, caID string) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := db.CreateCertificate(ctx, testCertificate(serial, caID), audit(serial))
				mu.Lock()
				results[serial] = err
				mu.Unlock()
			}()
		}
		create(first, "ca1")
		waitFor("the first call leads a group", func() bool { n, in := postgres.GroupQueue(db); return in && n == 0 })
		for serial, caID := range queued {
			create(serial, caID)
		}
		waitFor("the other calls queue", func() bool { n, _ := postgres.GroupQueue(db); return n == len(queued) })
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		wg.Wait()
		return results
	}

	// A taken serial in the group: it alone fails, in the same transaction.
	queued := map[string]string{"0100": "ca1"} // taken above
	for i := 0; i < 10; i++ {
		queued[fmt.Sprintf("02%02d", i)] = "ca1"
	}
	before := postgres.GroupsCommitted(db)
	results := round("0200ff", queued)
	// The first call commits alone, the queue in one group.
	if got := postgres.GroupsCommitted(db) - before; got != 1 {
		t.Errorf("%d group transactions for one call and a queue of %d, want 1", got, len(queued))
	}
	for serial, err := range results {
		switch {
		case serial == "0100":
			if selo.ErrorCode(err) != selo.ECONFLICT {
				t.Errorf("taken serial 0100: %v, want a conflict", err)
			}
		case err != nil:
			t.Errorf("certificate %s: %v", serial, err)
		default:
			stored[serial] = true
		}
	}

	// An unknown CA in the group fails the group's transaction: every call
	// is retried alone, and only that one fails.
	queued = map[string]string{"0300": "no-such-ca"}
	for i := 1; i <= 10; i++ {
		queued[fmt.Sprintf("03%02d", i)] = "ca1"
	}
	results = round("0300ff", queued)
	for serial, err := range results {
		switch {
		case serial == "0300":
			if selo.ErrorCode(err) != selo.ENOTFOUND {
				t.Errorf("certificate under an unknown CA: %v, want not found", err)
			}
		case err != nil:
			t.Errorf("certificate %s: %v", serial, err)
		default:
			stored[serial] = true
		}
	}

	entries, err := db.ListAudit(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := selo.VerifyAuditChain(nil, entries); err != nil {
		t.Errorf("audit chain: %v", err)
	}
	issued := map[string]int{}
	for _, e := range entries {
		if e.Action == "certificate.issue" {
			issued[e.Object]++
		}
	}
	certs, err := db.ListCertificates(ctx, selo.CertificateFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(certs) != len(stored) || len(issued) != len(stored) {
		t.Errorf("%d certificates and %d issuance entries, want %d of each", len(certs), len(issued), len(stored))
	}
	for _, c := range certs {
		if !stored[c.Serial] || issued["certificate/"+c.Serial] != 1 {
			t.Errorf("certificate %s: stored %v, %d audit entries; want one", c.Serial, stored[c.Serial], issued["certificate/"+c.Serial])
		}
	}
}

// TestRefusedOnlyWhenNothingCommitted: only an answer that proves the
// transaction was not committed lets a group's calls run again alone; a
// session ended by FATAL (which PostgreSQL may send right after a COMMIT
// it completed) or a lost connection must not, or a committed certificate
// would be reported as a serial conflict and issued twice.
func TestRefusedOnlyWhenNothingCommitted(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{&pgconn.PgError{Severity: "ERROR", SeverityUnlocalized: "ERROR", Code: "23503"}, true},
		{fmt.Errorf("insert: %w", &pgconn.PgError{Severity: "ERROR", Code: "40P01"}), true},
		{fmt.Errorf("commit: %w", pgx.ErrTxCommitRollback), true},
		{&pgconn.PgError{Severity: "FATAL", SeverityUnlocalized: "FATAL", Code: "57P01"}, false},
		{&pgconn.PgError{Severity: "PANIC", Code: "XX000"}, false},
		{errors.New("unexpected EOF"), false},
		{context.DeadlineExceeded, false},
	} {
		if got := postgres.Refused(tc.err); got != tc.want {
			t.Errorf("refused(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

// TestGroupCommitSessionKilledAfterCommit: the backend of a group is
// terminated while its COMMIT waits (commit_delay); PostgreSQL completes the
// commit, answers COMMIT, then FATAL. The group's calls must not be run
// again (each would find its own serial taken and report a conflict for a
// certificate that is stored, which the issuer answers by signing a second
// one): each call either succeeds or reports the failure, never a
// conflict, and every stored certificate has exactly one audit entry.
func TestGroupCommitSessionKilledAfterCommit(t *testing.T) {
	ctx := context.Background()
	base := testDSN(t)
	dsn := base
	// The store's sessions carry a name of their own, so that the test
	// terminates only them and never another package's test running on
	// the same server (it once killed a COMMIT of the server package's).
	app := fmt.Sprintf("selo-groupcommit-%d", time.Now().UnixNano())
	for name, value := range map[string]string{"pool_max_conns": "2", "commit_delay": "100000", "commit_siblings": "0", "application_name": app} {
		dsn = withParam(t, dsn, name, value)
	}
	db, err := postgres.Open(ctx, dsn, selo.SystemClock{})
	if err != nil {
		t.Skipf("cannot open with commit_delay (needs a superuser): %v", err)
	}
	t.Cleanup(func() { db.Close() })
	raw, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close(ctx) })
	audit := func(serial string) *selo.AuditEntry {
		return &selo.AuditEntry{Actor: "t", Action: "certificate.issue", Object: "certificate/" + serial, Outcome: selo.OutcomeSuccess}
	}
	if err := db.CreateCA(ctx, &selo.CA{ID: "ca1", Name: "CA 1", KeyID: "k1", KeyAlgorithm: selo.KeyECDSAP256, CertDER: []byte{0x30}},
		&selo.AuditEntry{Actor: "t", Action: "ca.create", Object: "ca/ca1", Outcome: selo.OutcomeSuccess}); err != nil {
		t.Fatal(err)
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting until %s", what)
			}
		}
	}
	// Hold the audit head so that a first call waits and the rest queue
	// behind it as one group.
	lock, err := raw.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lock.Exec(ctx, `SELECT seq FROM audit_head WHERE id = 1 FOR UPDATE`); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	results := map[string]error{}
	var wg sync.WaitGroup
	create := func(serial string) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := db.CreateCertificate(ctx, testCertificate(serial, "ca1"), audit(serial))
			mu.Lock()
			results[serial] = err
			mu.Unlock()
		}()
	}
	create("0500")
	waitFor("the first call leads", func() bool { n, in := postgres.GroupQueue(db); return in && n == 0 })
	group := []string{"0501", "0502", "0503", "0504", "0505"}
	for _, s := range group {
		create(s)
	}
	waitFor("the group queues", func() bool { n, _ := postgres.GroupQueue(db); return n == len(group) })
	if err := lock.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor("the first call is answered", func() bool { mu.Lock(); defer mu.Unlock(); _, ok := results["0500"]; return ok })
	// The group's COMMIT now waits commit_delay: terminate its backend.
	killed := false
	waitFor("the group's COMMIT is running", func() bool {
		var n int
		err := raw.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
			WHERE pid <> pg_backend_pid() AND state = 'active' AND query = 'COMMIT' AND application_name = $1`, app).Scan(&n)
		killed = err == nil && n > 0
		return killed
	})
	wg.Wait()
	for serial, err := range results {
		if selo.ErrorCode(err) == selo.ECONFLICT {
			t.Errorf("certificate %s: %v — a conflict for a serial nobody else used", serial, err)
		}
	}
	entries, err := db.ListAudit(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	issued := map[string]int{}
	for _, e := range entries {
		if e.Action == "certificate.issue" {
			issued[e.Object]++
		}
	}
	for _, s := range append(group, "0500") {
		_, err := db.FindCertificate(ctx, s)
		inStore := err == nil
		if inStore != (issued["certificate/"+s] == 1) || issued["certificate/"+s] > 1 {
			t.Errorf("certificate %s: stored %v, %d audit entries", s, inStore, issued["certificate/"+s])
		}
		if results[s] == nil && !inStore {
			t.Errorf("certificate %s: reported stored, but is not", s)
		}
	}
}
