package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/store/internal/check"
	"github.com/selo-qtsp/selo/store/internal/ratewin"
)

// TakeRate implements selo.RateStore. The writer's immediate transaction
// serializes takes, within this process and with other processes.
func (db *DB) TakeRate(ctx context.Context, key string, now time.Time, windows []selo.RateWindow) (time.Time, bool, error) {
	if err := selo.CheckRateWindows(windows); err != nil {
		return time.Time{}, false, err
	}
	now = stored(now)
	tx, err := db.beginTx(ctx)
	if err != nil {
		return time.Time{}, false, err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `DELETE FROM rate_events WHERE id IN
		(SELECT id FROM rate_events WHERE at <= ? LIMIT ?)`, toMicros(now.Add(-selo.MaxRateWindow)), ratewin.PurgeBatch); err != nil {
		return time.Time{}, false, fmt.Errorf("purge rate events: %w", err)
	}
	rows, err := tx.QueryContext(ctx, `SELECT at FROM rate_events WHERE key = ? AND at > ? ORDER BY at DESC`,
		key, toMicros(now.Add(-ratewin.Span(windows))))
	if err != nil {
		return time.Time{}, false, fmt.Errorf("read rate events: %w", err)
	}
	var times []time.Time
	for rows.Next() {
		var us int64
		if err := rows.Scan(&us); err != nil {
			rows.Close()
			return time.Time{}, false, fmt.Errorf("read rate events: %w", err)
		}
		times = append(times, fromMicros(us))
	}
	if err := rows.Close(); err != nil {
		return time.Time{}, false, err
	}
	if retryAt, ok := ratewin.Decide(now, windows, times); !ok {
		return retryAt, false, tx.commit("take rate")
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO rate_events (key, at) VALUES (?, ?)`, key, toMicros(now)); err != nil {
		return time.Time{}, false, fmt.Errorf("record rate event: %w", err)
	}
	return time.Time{}, true, tx.commit("take rate")
}

// ReturnRate implements selo.RateStore.
func (db *DB) ReturnRate(ctx context.Context, key string, at time.Time) error {
	_, err := db.write.ExecContext(ctx, `DELETE FROM rate_events WHERE id IN
		(SELECT id FROM rate_events WHERE key = ? AND at = ? LIMIT 1)`, key, toMicros(stored(at)))
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
	defer tx.Rollback()
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM certificates WHERE serial = ?`, serial).Scan(&n); err != nil {
		return fmt.Errorf("find certificate %s: %w", serial, err)
	}
	if n == 0 {
		return selo.Errorf(selo.ENOTFOUND, "certificate %s not found", serial)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO revocation_codes (serial, hash, created_at) VALUES (?, ?, ?)
		ON CONFLICT (serial) DO UPDATE SET hash = excluded.hash, created_at = excluded.created_at`,
		serial, hash, toMicros(tx.now)); err != nil {
		return fmt.Errorf("store revocation code: %w", err)
	}
	if err := appendAudit(ctx, tx, audit); err != nil {
		return err
	}
	return tx.commit("put revocation code")
}

// FindRevocationCode implements selo.RevocationCodeStore.
func (db *DB) FindRevocationCode(ctx context.Context, serial string) (string, error) {
	var hash string
	err := db.read.QueryRowContext(ctx, `SELECT hash FROM revocation_codes WHERE serial = ?`, serial).Scan(&hash)
	if errors.Is(err, sql.ErrNoRows) {
		return "", selo.Errorf(selo.ENOTFOUND, "certificate %s has no revocation code", serial)
	} else if err != nil {
		return "", fmt.Errorf("find revocation code: %w", err)
	}
	return hash, nil
}
