package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/store/postgres"
	"github.com/selo-qtsp/selo/store/storetest"
)

// testDSN returns a DSN whose search_path is a fresh schema, dropped when the
// test ends, so tests and parallel runs against one server never meet. It
// skips without SELO_TEST_POSTGRES, except in CI, which must run these tests.
func testDSN(tb testing.TB) string {
	tb.Helper()
	base := os.Getenv("SELO_TEST_POSTGRES")
	if base == "" {
		if os.Getenv("CI") != "" {
			tb.Fatal("SELO_TEST_POSTGRES is not set in CI: the PostgreSQL store must be tested there")
		}
		tb.Skip("SELO_TEST_POSTGRES is not set: skipping the PostgreSQL store tests (set it to a DSN, e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable)")
	}
	var b [8]byte
	rand.Read(b[:])
	schema := "selo_test_" + hex.EncodeToString(b[:])
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, base)
	if err != nil {
		tb.Fatalf("connect to SELO_TEST_POSTGRES: %v", err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, `CREATE SCHEMA `+pgx.Identifier{schema}.Sanitize()); err != nil {
		tb.Fatalf("create schema %s: %v", schema, err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			tb.Errorf("drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, `DROP SCHEMA `+pgx.Identifier{schema}.Sanitize()+` CASCADE`); err != nil {
			tb.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return withParam(tb, base, "search_path", schema)
}

// withParam sets a parameter in a URL or keyword/value DSN.
func withParam(tb testing.TB, dsn, name, value string) string {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			tb.Fatalf("parse SELO_TEST_POSTGRES: %v", err)
		}
		q := u.Query()
		q.Set(name, value)
		u.RawQuery = q.Encode()
		return u.String()
	}
	return dsn + " " + name + "=" + value
}

// open opens the store on a fresh schema.
func open(tb testing.TB, clock selo.Clock) *storetest.Backend {
	tb.Helper()
	dsn := testDSN(tb)
	// Small pools: parallel tests each hold one, and the server's
	// max_connections (100 by default) is shared with everyone else's tests.
	storeDSN := withParam(tb, dsn, "pool_max_conns", "3")
	openStore := func(tb testing.TB) selo.Store {
		tb.Helper()
		db, err := postgres.Open(context.Background(), storeDSN, clock)
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { db.Close() })
		return db
	}
	st := openStore(tb)
	var raw *pgx.Conn
	var mu sync.Mutex
	// withRaw runs fn on the raw connection, one caller at a time.
	withRaw := func(tb testing.TB, fn func(conn *pgx.Conn)) {
		tb.Helper()
		mu.Lock()
		defer mu.Unlock()
		if raw == nil {
			var err error
			if raw, err = pgx.Connect(context.Background(), dsn); err != nil {
				tb.Fatal(err)
			}
			tb.Cleanup(func() { raw.Close(context.Background()) })
		}
		fn(raw)
	}
	return &storetest.Backend{
		Store:  st,
		Reopen: openStore,
		Exec: func(tb testing.TB, query string, args ...any) {
			tb.Helper()
			withRaw(tb, func(conn *pgx.Conn) {
				if _, err := conn.Exec(context.Background(), query, args...); err != nil {
					tb.Fatalf("%s: %v", query, err)
				}
			})
		},
		LoadRevocations: func(tb testing.TB, caID string, n int) {
			tb.Helper()
			withRaw(tb, func(conn *pgx.Conn) { loadRevocations(tb, conn, caID, n) })
		},
	}
}

// loadRevocations stores what storetest.BulkRevocation describes for i in
// [0, n), generating the rows in SQL: two statements in one transaction,
// then VACUUM ANALYZE, as autovacuum would: the planner knows the new size
// and the visibility map lets the walk read the index alone.
func loadRevocations(tb testing.TB, conn *pgx.Conn, caID string, n int) {
	tb.Helper()
	ctx := context.Background()
	err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		for _, query := range []string{`
			INSERT INTO certificates (serial, ca_id, profile, subject, not_before, not_after, der, status, created_at)
			SELECT to_hex(68719476736 + i), $2, 'bulk', 'CN=bulk', 'epoch', 'epoch', '\x3000', 'revoked', 'epoch'
			FROM generate_series(0, $1 - 1) AS i`, `
			INSERT INTO revocations (serial, ca_id, reason, revoked_at, invalidity_date, actor)
			SELECT to_hex(68719476736 + i), $2, CASE i % 2 WHEN 1 THEN 1 ELSE 5 END, to_timestamp(1700000000 + i),
				CASE i % 2 WHEN 1 THEN to_timestamp(1600000000 + i) END, 'bulk'
			FROM generate_series(0, $1 - 1) AS i`,
		} {
			if _, err := tx.Exec(ctx, query, int64(n), caID); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		_, err = conn.Exec(ctx, `VACUUM ANALYZE certificates, revocations`)
	}
	if err != nil {
		tb.Fatalf("load %d revocations: %v", n, err)
	}
}

func TestStore(t *testing.T) {
	storetest.Run(t, open)
}

// TestOpenConcurrently starts several replicas on one new schema at once:
// the advisory lock must let exactly one apply the migrations.
func TestOpenConcurrently(t *testing.T) {
	dsn := testDSN(t)
	ctx := context.Background()
	const replicas = 6
	var wg sync.WaitGroup
	errs := make(chan error, replicas)
	for i := 0; i < replicas; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			db, err := postgres.Open(ctx, dsn, selo.SystemClock{})
			if err == nil {
				err = db.AppendAudit(ctx, &selo.AuditEntry{Actor: "t", Action: "test.open"})
				db.Close()
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	db, err := postgres.Open(ctx, dsn, selo.SystemClock{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	entries, err := db.ListAudit(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != replicas || selo.VerifyAuditChain(nil, entries) != nil {
		t.Fatalf("%d audit entries after %d concurrent opens and appends, or a broken chain", len(entries), replicas)
	}
	if seq, hash, err := db.AuditHead(ctx); err != nil || seq != replicas || hash != entries[replicas-1].Hash {
		t.Fatalf("AuditHead = %d, %q, %v; want the last entry", seq, hash, err)
	}
}

func TestOpenMissingSchema(t *testing.T) {
	dsn := testDSN(t)
	_, err := postgres.Open(context.Background(), withParam(t, dsn, "search_path", "selo_no_such_schema"), selo.SystemClock{})
	if selo.ErrorCode(err) != selo.EINVALID {
		t.Fatalf("Open on a missing schema: %v, want invalid", err)
	}
}

func TestOpenBadDSNHidesPassword(t *testing.T) {
	_, err := postgres.Open(context.Background(), "postgres://u:s3cret@host:notaport/db", selo.SystemClock{})
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("Open with a bad DSN: %v; want an error without the password", err)
	}
}

func BenchmarkCreateCertificate(b *testing.B) {
	storetest.BenchmarkCreateCertificate(b, open)
}

func BenchmarkForEachRevocation(b *testing.B) {
	storetest.BenchmarkForEachRevocation(b, open)
}

// The store records its audit head, so the suite checks tail truncation.
var _ storetest.AuditHeader = (*postgres.DB)(nil)
