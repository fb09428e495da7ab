package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/store/internal/check"
)

// crlColumns is the column list every CRL query selects, in the order
// scanCRL reads. CRLInfo selects NULL for der.
const crlColumns = `ca_id, number, this_update, next_update, entries, der, created_at`

// NextCRLNumber increments the CA's CRL number and returns it: 1 the first
// time. ENOTFOUND when the CA does not exist.
//
// The store runs with synchronous=NORMAL, whose last commits a power loss may
// undo; a CRL number handed out and then undone would be handed out again,
// for a second, different CRL. So this one transaction commits with
// synchronous=FULL, which syncs the WAL before the commit returns. The
// writer connection is held throughout, so no other transaction commits
// under the changed setting nor sees it restored too early.
func (db *DB) NextCRLNumber(ctx context.Context, caID string) (int64, error) {
	conn, err := db.write.Conn(ctx)
	if err != nil {
		return 0, fmt.Errorf("next crl number of ca %s: %w", caID, err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `PRAGMA synchronous = FULL`); err != nil {
		return 0, fmt.Errorf("next crl number of ca %s: %w", caID, err)
	}
	// Restoring can only fail with the connection broken, and a connection
	// left at FULL is only slower.
	defer conn.ExecContext(context.Background(), `PRAGMA synchronous = NORMAL`)
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("begin transaction: %w", err)
	}
	defer tx.Rollback()
	var n int64
	err = tx.QueryRowContext(ctx, `INSERT INTO crl_numbers (ca_id, number) VALUES (?, 1)
		ON CONFLICT (ca_id) DO UPDATE SET number = crl_numbers.number + 1
		RETURNING number`, caID).Scan(&n)
	if isForeignKeyViolation(err) {
		return 0, selo.Errorf(selo.ENOTFOUND, "CA %q not found", caID)
	} else if err != nil {
		return 0, fmt.Errorf("next crl number of ca %s: %w", caID, err)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("next crl number of ca %s: commit: %w", caID, err)
	}
	return n, nil
}

// SaveCRL stores crl as its CA's latest unless the stored one has an equal or
// higher number, in which case it changes nothing. ENOTFOUND when the CA does
// not exist. A zero CreatedAt is set from the store's clock and times are
// truncated to microseconds in crl.
func (db *DB) SaveCRL(ctx context.Context, crl *selo.CRL) error {
	if err := check.CRL(crl); err != nil {
		return err
	}
	tx, err := db.beginTx(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if crl.CreatedAt.IsZero() {
		crl.CreatedAt = tx.now
	}
	crl.ThisUpdate = fromMicros(toMicros(crl.ThisUpdate))
	crl.NextUpdate = fromMicros(toMicros(crl.NextUpdate))
	crl.CreatedAt = fromMicros(toMicros(crl.CreatedAt))
	_, err = tx.ExecContext(ctx, `INSERT INTO crls (`+crlColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (ca_id) DO UPDATE SET number = excluded.number, this_update = excluded.this_update,
			next_update = excluded.next_update, entries = excluded.entries, der = excluded.der,
			created_at = excluded.created_at
		WHERE excluded.number > crls.number`,
		crl.CAID, crl.Number, toMicros(crl.ThisUpdate), toMicros(crl.NextUpdate), crl.Entries, crl.DER,
		toMicros(crl.CreatedAt))
	if isForeignKeyViolation(err) {
		return selo.Errorf(selo.ENOTFOUND, "CA %q not found", crl.CAID)
	} else if err != nil {
		return fmt.Errorf("save crl %d of ca %s: %w", crl.Number, crl.CAID, err)
	}
	return tx.commit("save crl")
}

// LatestCRL returns the CA's newest CRL, or ENOTFOUND.
func (db *DB) LatestCRL(ctx context.Context, caID string) (*selo.CRL, error) {
	return findCRL(ctx, db.read, `SELECT `+crlColumns+` FROM crls WHERE ca_id = ?`, caID)
}

// CRLInfo returns the CA's newest CRL without its DER, or ENOTFOUND.
func (db *DB) CRLInfo(ctx context.Context, caID string) (*selo.CRL, error) {
	return findCRL(ctx, db.read, `SELECT ca_id, number, this_update, next_update, entries, NULL, created_at
		FROM crls WHERE ca_id = ?`, caID)
}

// findCRL runs query, which selects one CRL by CA ID, and reads its row.
func findCRL(ctx context.Context, q querier, query, caID string) (*selo.CRL, error) {
	var crl selo.CRL
	var thisUpdate, nextUpdate, created int64
	err := q.QueryRowContext(ctx, query, caID).Scan(&crl.CAID, &crl.Number, &thisUpdate, &nextUpdate,
		&crl.Entries, &crl.DER, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, selo.Errorf(selo.ENOTFOUND, "CA %q has no CRL", caID)
	} else if err != nil {
		return nil, fmt.Errorf("find crl of ca %s: %w", caID, err)
	}
	crl.ThisUpdate, crl.NextUpdate, crl.CreatedAt = fromMicros(thisUpdate), fromMicros(nextUpdate), fromMicros(created)
	return &crl, nil
}

// CRLState reads, in one statement, the CA's latest CRL, its last reserved
// number and its newest revocation (certificates and CA certificates it
// issued). ENOTFOUND when the CA does not exist.
func (db *DB) CRLState(ctx context.Context, caID string) (*selo.CRLState, error) {
	var st selo.CRLState
	var this, next, latest, latestCA sql.NullInt64
	var published, reserved sql.NullInt64
	err := db.read.QueryRowContext(ctx, `SELECT
			(SELECT number FROM crls WHERE ca_id = cas.id),
			(SELECT this_update FROM crls WHERE ca_id = cas.id),
			(SELECT next_update FROM crls WHERE ca_id = cas.id),
			(SELECT number FROM crl_numbers WHERE ca_id = cas.id),
			(SELECT MAX(revoked_at) FROM revocations WHERE ca_id = cas.id),
			(SELECT MAX(revoked_at) FROM ca_revocations WHERE parent_id = cas.id)
		FROM cas WHERE id = ?`, caID).Scan(&published, &this, &next, &reserved, &latest, &latestCA)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, selo.Errorf(selo.ENOTFOUND, "CA %q not found", caID)
	} else if err != nil {
		return nil, fmt.Errorf("crl state of ca %s: %w", caID, err)
	}
	st.Published, st.Reserved = published.Int64, reserved.Int64
	if this.Valid {
		st.ThisUpdate, st.NextUpdate = fromMicros(this.Int64), fromMicros(next.Int64)
	}
	if latestCA.Int64 > latest.Int64 {
		latest = latestCA
	}
	if latest.Valid {
		st.LatestRevocation = fromMicros(latest.Int64)
	}
	return &st, nil
}
