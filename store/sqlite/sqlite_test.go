package sqlite_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"sync"
	"testing"

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
	return &storetest.Backend{
		Store:  st,
		Reopen: openStore,
		Exec: func(tb testing.TB, query string, args ...any) {
			tb.Helper()
			rawOnce.Do(func() {
				var err error
				if raw, err = sql.Open("sqlite", path+"?_pragma=busy_timeout(10000)"); err != nil {
					tb.Fatal(err)
				}
				tb.Cleanup(func() { raw.Close() })
			})
			if _, err := raw.Exec(query, args...); err != nil {
				tb.Fatalf("%s: %v", query, err)
			}
		},
	}
}

func TestStore(t *testing.T) {
	storetest.Run(t, open)
}

func BenchmarkCreateCertificate(b *testing.B) {
	storetest.BenchmarkCreateCertificate(b, open)
}

// The store records its audit head, so the suite checks tail truncation.
var _ storetest.AuditHeader = (*sqlite.DB)(nil)
