package postgres_test

import (
	"context"
	"hash/fnv"
	"testing"

	"github.com/jackc/pgx/v5"

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

// TestLockLostWithSession checks that a lock whose session ends while the
// process goes on (here an administrator terminates the backend) is reported
// as no longer held, and that another replica can then take it: the worker
// asks Held before each tick so that two replicas never work side by side.
func TestLockLostWithSession(t *testing.T) {
	ctx := context.Background()
	dsn := testDSN(t)
	a, err := postgres.Open(ctx, dsn, selo.SystemClock{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := postgres.Open(ctx, dsn, selo.SystemClock{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()

	if held, err := a.Held(ctx, "status-worker"); held || err != nil {
		t.Fatalf("Held before TryLock = %v, %v; want false, nil", held, err)
	}
	unlock, ok, err := a.TryLock(ctx, "status-worker")
	if err != nil || !ok {
		t.Fatalf("TryLock = %v, %v; want the lock", ok, err)
	}
	defer unlock()
	if held, err := a.Held(ctx, "status-worker"); !held || err != nil {
		t.Fatalf("Held while the session lives = %v, %v; want true", held, err)
	}

	// Terminate the backend that holds the advisory lock of this schema.
	admin, err := pgx.Connect(ctx, dsn) // the same schema as the replicas
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	var schema string
	if err := admin.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		t.Fatal(err)
	}
	h := fnv.New64a()
	h.Write([]byte("selo\x00" + schema + "\x00status-worker"))
	key := h.Sum64()
	var terminated int
	err = admin.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_locks
		WHERE locktype = 'advisory' AND granted AND classid = $1 AND objid = $2 AND objsubid = 1`,
		uint32(key>>32), uint32(key)).Scan(&terminated)
	if err != nil || terminated != 1 {
		t.Fatalf("terminate the lock's backend: %d terminated, %v; want 1", terminated, err)
	}

	if held, err := a.Held(ctx, "status-worker"); held || err == nil {
		t.Fatalf("Held after the session was terminated = %v, %v; want false with the reason", held, err)
	}
	unlockB, ok, err := b.TryLock(ctx, "status-worker")
	if err != nil || !ok {
		t.Fatalf("another replica's TryLock after the holder's session ended = %v, %v; want the lock", ok, err)
	}
	unlockB()
}
