package postgres_test

import (
	"context"
	"testing"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/store/postgres"
)

// TestTryLock checks that one replica at a time holds a named lock, that the
// lock passes on when released, and that a lock of another name or another
// schema is independent.
func TestTryLock(t *testing.T) {
	ctx := context.Background()
	dsn := testDSN(t)
	openDB := func(dsn string) *postgres.DB {
		db, err := postgres.Open(ctx, dsn, selo.SystemClock{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	a, b := openDB(dsn), openDB(dsn) // two replicas
	unlockA, ok, err := a.TryLock(ctx, "status-worker")
	if err != nil || !ok {
		t.Fatalf("first TryLock = %v, %v; want the lock", ok, err)
	}
	if _, ok, err := b.TryLock(ctx, "status-worker"); err != nil || ok {
		t.Fatalf("second replica's TryLock while held = %v, %v; want not ok", ok, err)
	}
	// A second call on the holder's own store is another session: also refused.
	if _, ok, err := a.TryLock(ctx, "status-worker"); err != nil || ok {
		t.Fatalf("TryLock on another session of the holder = %v, %v; want not ok", ok, err)
	}
	unlockOther, ok, err := b.TryLock(ctx, "other-work")
	if err != nil || !ok {
		t.Fatalf("TryLock of another name = %v, %v; want the lock", ok, err)
	}
	unlockOther()

	unlockA()
	unlockB, ok, err := b.TryLock(ctx, "status-worker")
	if err != nil || !ok {
		t.Fatalf("TryLock after release = %v, %v; want the lock", ok, err)
	}
	unlockB()

	other := openDB(testDSN(t)) // another schema: another installation
	unlockC, ok, err := other.TryLock(ctx, "status-worker")
	if err != nil || !ok {
		t.Fatalf("TryLock in another schema = %v, %v; want the lock", ok, err)
	}
	unlockC()
}
