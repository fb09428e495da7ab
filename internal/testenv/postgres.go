package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// PostgresDSN returns a DSN of SELO_TEST_POSTGRES whose search_path is a
// fresh schema named prefix + a random suffix, dropped when the test ends.
// Without SELO_TEST_POSTGRES it skips the test, except in CI (CI set), where
// the PostgreSQL half of a test must run and it fails instead.
func PostgresDSN(t testing.TB, prefix string) string {
	t.Helper()
	base := os.Getenv("SELO_TEST_POSTGRES")
	if base == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("SELO_TEST_POSTGRES is not set in CI")
		}
		t.Skip("SELO_TEST_POSTGRES is not set: skipping the PostgreSQL run (set it to a DSN, e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable)")
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		t.Fatalf("SELO_TEST_POSTGRES must be a postgres:// URL")
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	schema := prefix + hex.EncodeToString(b[:])
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
	return u.String()
}
