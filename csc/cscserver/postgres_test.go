package cscserver_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/store/postgres"
)

// postgresStore opens a PostgreSQL store in a fresh schema, dropped at the
// end of the test. It skips without SELO_TEST_POSTGRES, except in CI.
func postgresStore(t *testing.T) func(selo.Clock) selo.Store {
	t.Helper()
	base := os.Getenv("SELO_TEST_POSTGRES")
	if base == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("SELO_TEST_POSTGRES is not set in CI")
		}
		t.Skip("SELO_TEST_POSTGRES is not set: skipping the CSC tests over PostgreSQL")
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		t.Fatalf("SELO_TEST_POSTGRES must be a postgres:// URL")
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	schema := "selo_csc_test_" + hex.EncodeToString(b[:])
	exec := func(sql string) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Fatalf("connect to SELO_TEST_POSTGRES: %v", err)
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, sql); err != nil {
			t.Errorf("%s: %v", sql, err)
		}
	}
	exec(`CREATE SCHEMA ` + pgx.Identifier{schema}.Sanitize())
	t.Cleanup(func() { exec(`DROP SCHEMA ` + pgx.Identifier{schema}.Sanitize() + ` CASCADE`) })
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return func(clock selo.Clock) selo.Store {
		st, err := postgres.Open(context.Background(), u.String(), clock)
		if err != nil {
			t.Fatalf("open postgres: %v", err)
		}
		t.Cleanup(func() { _ = st.Close() })
		return st
	}
}

// onBothStores runs test over SQLite and over PostgreSQL.
func onBothStores(t *testing.T, test func(t *testing.T, s *stack)) {
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		test(t, newStack(t))
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		test(t, newStackWith(t, nil, postgresStore(t)))
	})
}
