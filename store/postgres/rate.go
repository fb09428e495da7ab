package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/store/internal/check"
	"github.com/selo-qtsp/selo/store/internal/ratewin"
)

// rateLockClass is the first key of the transaction-level advisory lock that
// serializes the takes of one rate key across replicas.
const rateLockClass = 0x52415445 // "RATE"

// TakeRate implements selo.RateStore. An advisory lock on the key, held to
// the end of the transaction, makes takes of one key from any replica run
// one at a time; READ COMMITTED then shows each the events of the last.
func (db *DB) TakeRate(ctx context.Context, key string, now time.Time, windows []selo.RateWindow) (time.Time, bool, error) {
	if err := selo.CheckRateWindows(windows); err != nil {
		return time.Time{}, false, err
	}
	now = micro(now)
	tx, err := db.beginTx(ctx)
	if err != nil {
		return time.Time{}, false, err
	}
	defer tx.rollback()
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, hashtext($2))`, int32(rateLockClass), key); err != nil {
		return time.Time{}, false, fmt.Errorf("lock rate key: %w", err)
	}
	if _, err := tx.Exec(ctx, `DELETE FROM rate_events WHERE id IN
		(SELECT id FROM rate_events WHERE at <= $1 LIMIT $2)`, now.Add(-selo.MaxRateWindow), ratewin.PurgeBatch); err != nil {
		return time.Time{}, false, fmt.Errorf("purge rate events: %w", err)
	}
	rows, err := tx.Query(ctx, `SELECT at FROM rate_events WHERE key = $1 AND at > $2 ORDER BY at DESC`,
		key, now.Add(-ratewin.Span(windows)))
	if err != nil {
		return time.Time{}, false, fmt.Errorf("read rate events: %w", err)
	}
	times, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (time.Time, error) {
		var at time.Time
		err := r.Scan(&at)
		return at.UTC(), err
	})
	if err != nil {
		return time.Time{}, false, fmt.Errorf("read rate events: %w", err)
	}
	if retryAt, ok := ratewin.Decide(now, windows, times); !ok {
		return retryAt, false, tx.commit(ctx, "take rate")
	}
	if _, err := tx.Exec(ctx, `INSERT INTO rate_events (key, at) VALUES ($1, $2)`, key, now); err != nil {
		return time.Time{}, false, fmt.Errorf("record rate event: %w", err)
	}
	return time.Time{}, true, tx.commit(ctx, "take rate")
}

// ReturnRate implements selo.RateStore.
func (db *DB) ReturnRate(ctx context.Context, key string, at time.Time) error {
	_, err := db.pool.Exec(ctx, `DELETE FROM rate_events WHERE id IN
		(SELECT id FROM rate_events WHERE key = $1 AND at = $2 LIMIT 1)`, key, micro(at))
	if err != nil {
		return fmt.Errorf("return rate event: %w", err)
	}
	return nil
}

// PutRevocationCode implements selo.RevocationCodeStore.
func (db *DB) PutRevocationCode(ctx context.Context, serial, hash string, audit *selo.AuditEntry) error {
	if audit == nil {
		return check.ErrNoAudit
	}
	if hash == "" {
		return selo.Errorf(selo.EINVALID, "a revocation code needs its hash")
	}
	tx, err := db.beginTx(ctx)
	if err != nil {
		return err
	}
	defer tx.rollback()
	var n int
	if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM certificates WHERE serial = $1`, serial).Scan(&n); err != nil {
		return fmt.Errorf("find certificate %s: %w", serial, err)
	}
	if n == 0 {
		return selo.Errorf(selo.ENOTFOUND, "certificate %s not found", serial)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO revocation_codes (serial, hash, created_at) VALUES ($1, $2, $3)
		ON CONFLICT (serial) DO UPDATE SET hash = excluded.hash, created_at = excluded.created_at`,
		serial, hash, micro(tx.now)); err != nil {
		return fmt.Errorf("store revocation code: %w", err)
	}
	if err := appendAudit(ctx, tx, audit); err != nil {
		return err
	}
	return tx.commit(ctx, "put revocation code")
}

// FindRevocationCode implements selo.RevocationCodeStore.
func (db *DB) FindRevocationCode(ctx context.Context, serial string) (string, error) {
	var hash string
	err := db.pool.QueryRow(ctx, `SELECT hash FROM revocation_codes WHERE serial = $1`, serial).Scan(&hash)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", selo.Errorf(selo.ENOTFOUND, "certificate %s has no revocation code", serial)
	} else if err != nil {
		return "", fmt.Errorf("find revocation code: %w", err)
	}
	return hash, nil
}
