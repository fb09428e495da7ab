package postgres

import (
	"context"
	"fmt"
	"hash/fnv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// TryLock takes a session-level PostgreSQL advisory lock named by name, on a
// connection of its own that it keeps until unlock is called. Replicas call
// it to elect the one that runs background work: exactly one gets ok=true,
// and when its process dies or its connection drops, PostgreSQL releases the
// lock and another replica's next TryLock takes it. The lock key is derived
// from name and the schema, so two Selo installations in one database do not
// block each other.
func (db *DB) TryLock(ctx context.Context, name string) (unlock func(), ok bool, err error) {
	conn, err := db.pool.Acquire(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("acquire connection for lock %q: %w", name, err)
	}
	var schema string
	if err := conn.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		conn.Release()
		return nil, false, fmt.Errorf("lock %q: %w", name, err)
	}
	h := fnv.New64a()
	h.Write([]byte("selo\x00" + schema + "\x00" + name))
	key := int64(h.Sum64())
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, key).Scan(&ok); err != nil {
		conn.Release()
		return nil, false, fmt.Errorf("lock %q: %w", name, err)
	}
	if !ok {
		conn.Release()
		return nil, false, nil
	}
	// The connection leaves the pool for as long as the lock is held, so no
	// other caller can run on the session that owns it.
	held := &heldLock{conn: conn.Hijack()}
	db.locksMu.Lock()
	if db.locks == nil {
		db.locks = map[string]*heldLock{}
	}
	db.locks[name] = held
	db.locksMu.Unlock()
	return func() {
		db.locksMu.Lock()
		if db.locks[name] == held {
			delete(db.locks, name)
		}
		db.locksMu.Unlock()
		held.mu.Lock()
		defer held.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, _ = held.conn.Exec(ctx, `SELECT pg_advisory_unlock($1)`, key)
		_ = held.conn.Close(ctx)
	}, true, nil
}

// heldLock is the session that holds an advisory lock.
type heldLock struct {
	mu   sync.Mutex // a pgx.Conn serves one caller at a time
	conn *pgx.Conn
}

// Held reports whether the lock name that TryLock gave this store is still
// held: its session is alive (a session-level advisory lock lasts exactly as
// long as its session). A session can end while the process lives — the
// server restarted, an administrator terminated the backend, the network
// dropped the connection — and PostgreSQL then frees the lock for another
// replica; the holder learns it here instead of working on beside the new
// one. An error says why it is not held.
func (db *DB) Held(ctx context.Context, name string) (bool, error) {
	db.locksMu.Lock()
	held := db.locks[name]
	db.locksMu.Unlock()
	if held == nil {
		return false, nil
	}
	held.mu.Lock()
	defer held.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := held.conn.Exec(ctx, `SELECT 1`); err != nil {
		return false, fmt.Errorf("the session holding lock %q: %w", name, err)
	}
	return true, nil
}
