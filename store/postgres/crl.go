package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/store/internal/check"
)

// crlColumns is the column list every CRL query selects, in the order
// findCRL reads. CRLInfo selects NULL for der.
const crlColumns = `ca_id, number, this_update, next_update, entries, der, created_at`

// NextCRLNumber increments the CA's CRL number and returns it: 1 the first
// time. ENOTFOUND when the CA does not exist. Concurrent callers queue on the
// CA's row, so each gets its own number.
//
// A server set to synchronous_commit=off acknowledges commits a crash may
// undo, and an undone number would be handed out again for a second CRL, so
// this transaction turns it on for itself.
func (db *DB) NextCRLNumber(ctx context.Context, caID string) (int64, error) {
	tx, err := db.beginTx(ctx)
	if err != nil {
		return 0, err
	}
	defer tx.rollback()
	if _, err := tx.Exec(ctx, `SELECT set_config('synchronous_commit', 'on', true)
		WHERE current_setting('synchronous_commit') = 'off'`); err != nil {
		return 0, fmt.Errorf("next crl number of ca %s: %w", caID, err)
	}
	var n int64
	err = tx.QueryRow(ctx, `INSERT INTO crl_numbers (ca_id, number) VALUES ($1, 1)
		ON CONFLICT (ca_id) DO UPDATE SET number = crl_numbers.number + 1
		RETURNING number`, caID).Scan(&n)
	if isForeignKeyViolation(err) {
		return 0, selo.Errorf(selo.ENOTFOUND, "CA %q not found", caID)
	} else if err != nil {
		return 0, fmt.Errorf("next crl number of ca %s: %w", caID, err)
	}
	if err := tx.commit(ctx, "next crl number"); err != nil {
		return 0, err
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
	if crl.CreatedAt.IsZero() {
		crl.CreatedAt = db.clock.Now()
	}
	crl.ThisUpdate, crl.NextUpdate, crl.CreatedAt = micro(crl.ThisUpdate), micro(crl.NextUpdate), micro(crl.CreatedAt)
	// One statement is atomic: of two concurrent saves the higher number
	// stays, whichever commits first.
	_, err := db.pool.Exec(ctx, `INSERT INTO crls (`+crlColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (ca_id) DO UPDATE SET number = excluded.number, this_update = excluded.this_update,
			next_update = excluded.next_update, entries = excluded.entries, der = excluded.der,
			created_at = excluded.created_at
		WHERE excluded.number > crls.number`,
		crl.CAID, crl.Number, crl.ThisUpdate, crl.NextUpdate, crl.Entries, crl.DER, crl.CreatedAt)
	if isForeignKeyViolation(err) {
		return selo.Errorf(selo.ENOTFOUND, "CA %q not found", crl.CAID)
	} else if err != nil {
		return fmt.Errorf("save crl %d of ca %s: %w", crl.Number, crl.CAID, err)
	}
	return nil
}

// LatestCRL returns the CA's newest CRL, or ENOTFOUND.
func (db *DB) LatestCRL(ctx context.Context, caID string) (*selo.CRL, error) {
	return findCRL(ctx, db.pool, `SELECT `+crlColumns+` FROM crls WHERE ca_id = $1`, caID)
}

// CRLInfo returns the CA's newest CRL without its DER, or ENOTFOUND.
func (db *DB) CRLInfo(ctx context.Context, caID string) (*selo.CRL, error) {
	return findCRL(ctx, db.pool, `SELECT ca_id, number, this_update, next_update, entries, NULL::bytea, created_at
		FROM crls WHERE ca_id = $1`, caID)
}

// findCRL runs query, which selects one CRL by CA ID, and reads its row.
func findCRL(ctx context.Context, q querier, query, caID string) (*selo.CRL, error) {
	var crl selo.CRL
	err := q.QueryRow(ctx, query, caID).Scan(&crl.CAID, &crl.Number, &crl.ThisUpdate, &crl.NextUpdate,
		&crl.Entries, &crl.DER, &crl.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, selo.Errorf(selo.ENOTFOUND, "CA %q has no CRL", caID)
	} else if err != nil {
		return nil, fmt.Errorf("find crl of ca %s: %w", caID, err)
	}
	crl.ThisUpdate, crl.NextUpdate, crl.CreatedAt = crl.ThisUpdate.UTC(), crl.NextUpdate.UTC(), crl.CreatedAt.UTC()
	return &crl, nil
}

// CRLState reads, in one statement, the CA's latest CRL, its last reserved
// number and its newest revocation (certificates and CA certificates it
// issued). ENOTFOUND when the CA does not exist.
func (db *DB) CRLState(ctx context.Context, caID string) (*selo.CRLState, error) {
	var st selo.CRLState
	var published, reserved *int64
	var this, next, latest, latestCA *time.Time
	err := db.pool.QueryRow(ctx, `SELECT
			(SELECT number FROM crls WHERE ca_id = cas.id),
			(SELECT this_update FROM crls WHERE ca_id = cas.id),
			(SELECT next_update FROM crls WHERE ca_id = cas.id),
			(SELECT number FROM crl_numbers WHERE ca_id = cas.id),
			(SELECT MAX(revoked_at) FROM revocations WHERE ca_id = cas.id),
			(SELECT MAX(revoked_at) FROM ca_revocations WHERE parent_id = cas.id)
		FROM cas WHERE id = $1`, caID).Scan(&published, &this, &next, &reserved, &latest, &latestCA)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, selo.Errorf(selo.ENOTFOUND, "CA %q not found", caID)
	} else if err != nil {
		return nil, fmt.Errorf("crl state of ca %s: %w", caID, err)
	}
	if published != nil {
		st.Published = *published
	}
	if reserved != nil {
		st.Reserved = *reserved
	}
	if this != nil && next != nil {
		st.ThisUpdate, st.NextUpdate = this.UTC(), next.UTC()
	}
	if latest == nil || (latestCA != nil && latestCA.After(*latest)) {
		latest = latestCA
	}
	if latest != nil {
		st.LatestRevocation = latest.UTC()
	}
	return &st, nil
}
