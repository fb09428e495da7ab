package cscserver_test

import (
	"context"
	"testing"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/internal/testenv"
	"github.com/selo-qtsp/selo/store/postgres"
)

// postgresStore opens a PostgreSQL store in a fresh schema, dropped at the
// end of the test. It skips without SELO_TEST_POSTGRES, except in CI.
func postgresStore(t *testing.T) func(selo.Clock) selo.Store {
	t.Helper()
	dsn := testenv.PostgresDSN(t, "selo_csc_test_")
	return func(clock selo.Clock) selo.Store {
		st, err := postgres.Open(context.Background(), dsn, clock)
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
