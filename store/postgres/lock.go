package postgres

import (
	"context"
	"fmt"
	"hash/fnv"
	"time"
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
	raw := conn.Hijack()
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, _ = raw.Exec(ctx, `SELECT pg_advisory_unlock($1)`, key)
		_ = raw.Close(ctx)
	}, true, nil
}
