package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/store/internal/check"
)

// caColumns is the column list every CA query selects, in the order scanCA reads.
const caColumns = `id, name, parent_id, key_id, key_algorithm, cert_der, status, created_at`

// caSelectColumns is caColumns as the queries read them: a CA with a row in
// ca_revocations is revoked whatever its status column says.
const caSelectColumns = `id, name, parent_id, key_id, key_algorithm, cert_der,
	CASE WHEN EXISTS (SELECT 1 FROM ca_revocations r WHERE r.ca_id = cas.id) THEN 'revoked' ELSE status END, created_at`

// CreateCA inserts ca and appends audit in one transaction; ECONFLICT when
// the ID exists, ENOTFOUND when the parent does not. A zero CreatedAt is set
// from the store's clock and an empty Status to active; ca is updated to hold
// exactly what was stored.
func (db *DB) CreateCA(ctx context.Context, ca *selo.CA, audit *selo.AuditEntry) error {
	if err := check.CA(ca); err != nil {
		return err
	}
	if audit == nil {
		return check.ErrNoAudit
	}
	tx, err := db.beginBatch(ctx)
	if err != nil {
		return err
	}
	defer tx.end()
	createCA(tx, ca)
	return tx.commitAudited(ctx, audit, "create ca")
}

// FindCA returns the CA with this ID, or ENOTFOUND.
func (db *DB) FindCA(ctx context.Context, id string) (*selo.CA, error) {
	return findCAByID(ctx, db.pool, id)
}

// ListCAs returns every CA ordered by creation time, then ID.
func (db *DB) ListCAs(ctx context.Context) ([]*selo.CA, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+caSelectColumns+` FROM cas ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("list cas: %w", err)
	}
	defer rows.Close()
	var cas []*selo.CA
	for rows.Next() {
		ca, err := scanCA(rows)
		if err != nil {
			return nil, fmt.Errorf("list cas: %w", err)
		}
		cas = append(cas, ca)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list cas: %w", err)
	}
	return cas, nil
}

// SetCAStatus changes a CA's status and appends audit in one transaction;
// ENOTFOUND when the CA does not exist.
func (db *DB) SetCAStatus(ctx context.Context, id string, status selo.CAStatus, audit *selo.AuditEntry) error {
	if err := check.CAStatus(status); err != nil {
		return err
	}
	if audit == nil {
		return check.ErrNoAudit
	}
	tx, err := db.beginBatch(ctx)
	if err != nil {
		return err
	}
	defer tx.end()
	tx.exec(func(tag pgconn.CommandTag, err error) error {
		if err != nil {
			return fmt.Errorf("set status of ca %s: %w", id, err)
		}
		if tag.RowsAffected() == 0 {
			return selo.Errorf(selo.ENOTFOUND, "CA %q not found", id)
		}
		return nil
	}, `UPDATE cas SET status = $1 WHERE id = $2`, string(status), id)
	return tx.commitAudited(ctx, audit, "set ca status")
}

// createCA queues the insert of ca in tx; the flush that sends it returns
// ECONFLICT when the ID exists, ENOTFOUND when the parent does not.
func createCA(tx *batchTx, ca *selo.CA) {
	if ca.CreatedAt.IsZero() {
		ca.CreatedAt = tx.now
	}
	ca.CreatedAt = micro(ca.CreatedAt)
	var parent *string
	if ca.ParentID != "" {
		parent = &ca.ParentID
	}
	id, parentID := ca.ID, ca.ParentID
	tx.exec(func(_ pgconn.CommandTag, err error) error {
		switch {
		case isUniqueViolation(err):
			return selo.Errorf(selo.ECONFLICT, "CA %q already exists", id)
		case isForeignKeyViolation(err):
			return selo.Errorf(selo.ENOTFOUND, "parent CA %q not found", parentID)
		case err != nil:
			return fmt.Errorf("insert ca %s: %w", id, err)
		}
		return nil
	}, `INSERT INTO cas (`+caColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		ca.ID, ca.Name, parent, ca.KeyID, string(ca.KeyAlgorithm), ca.CertDER, string(ca.Status), ca.CreatedAt)
}

// findCAByID returns the CA with this ID, or ENOTFOUND.
func findCAByID(ctx context.Context, q querier, id string) (*selo.CA, error) {
	ca, err := scanCA(q.QueryRow(ctx, `SELECT `+caSelectColumns+` FROM cas WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, selo.Errorf(selo.ENOTFOUND, "CA %q not found", id)
	} else if err != nil {
		return nil, fmt.Errorf("find ca %s: %w", id, err)
	}
	return ca, nil
}

// scanCA reads one row of caColumns.
func scanCA(row pgx.Row) (*selo.CA, error) {
	var ca selo.CA
	var parent *string
	var alg, status string
	if err := row.Scan(&ca.ID, &ca.Name, &parent, &ca.KeyID, &alg, &ca.CertDER, &status, &ca.CreatedAt); err != nil {
		return nil, err
	}
	if parent != nil {
		ca.ParentID = *parent
	}
	ca.KeyAlgorithm, ca.Status, ca.CreatedAt = selo.KeyAlgorithm(alg), selo.CAStatus(status), ca.CreatedAt.UTC()
	return &ca, nil
}

// caRevocationColumns is the column list of the CA revocation queries, in the
// order scanCARevocation reads.
const caRevocationColumns = `ca_id, parent_id, serial, reason, revoked_at, invalidity_date, actor`

// RevokeCA records rev and appends audit in one transaction, and returns rev
// and true; a CA already revoked gets its first revocation and false.
func (db *DB) RevokeCA(ctx context.Context, rev *selo.CARevocation, audit *selo.AuditEntry) (*selo.CARevocation, bool, error) {
	if rev == nil || !rev.Reason.Valid() || !check.Serial(rev.Serial) {
		return nil, false, selo.Errorf(selo.EINVALID, "a CA revocation needs a valid reason and the CA certificate's serial")
	}
	if audit == nil {
		return nil, false, check.ErrNoAudit
	}
	tx, err := db.beginTx(ctx)
	if err != nil {
		return nil, false, err
	}
	defer tx.rollback()
	// Lock the CA row so that two revocations take turns.
	ca, err := scanCA(tx.QueryRow(ctx, `SELECT `+caSelectColumns+` FROM cas WHERE id = $1 FOR UPDATE`, rev.CAID))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, false, selo.Errorf(selo.ENOTFOUND, "CA %q not found", rev.CAID)
	} else if err != nil {
		return nil, false, fmt.Errorf("find ca %s: %w", rev.CAID, err)
	}
	if ca.IsRoot() {
		return nil, false, selo.Errorf(selo.EINVALID, "CA %q is a root: no parent can revoke it", ca.ID)
	}
	if rev.ParentID == "" {
		rev.ParentID = ca.ParentID
	}
	if rev.ParentID != ca.ParentID {
		return nil, false, selo.Errorf(selo.EINVALID, "CA %q was certified by %q, not %q", ca.ID, ca.ParentID, rev.ParentID)
	}
	if first, err := findCARevocation(ctx, tx, rev.CAID); err == nil {
		return first, false, nil
	} else if selo.ErrorCode(err) != selo.ENOTFOUND {
		return nil, false, err
	}
	if rev.RevokedAt.IsZero() {
		rev.RevokedAt = tx.now
	}
	rev.RevokedAt = micro(rev.RevokedAt)
	var invalidity *time.Time
	if !rev.InvalidityDate.IsZero() {
		rev.InvalidityDate = micro(rev.InvalidityDate)
		invalidity = &rev.InvalidityDate
	}
	if rev.Actor == "" {
		rev.Actor = audit.Actor
	}
	if _, err := tx.Exec(ctx, `INSERT INTO ca_revocations (`+caRevocationColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		rev.CAID, rev.ParentID, rev.Serial, int16(rev.Reason), rev.RevokedAt, invalidity, rev.Actor); err != nil {
		return nil, false, fmt.Errorf("insert revocation of ca %s: %w", rev.CAID, err)
	}
	if err := appendAudit(ctx, tx, audit); err != nil {
		return nil, false, err
	}
	if err := tx.commit(ctx, "revoke ca"); err != nil {
		return nil, false, err
	}
	return rev, true, nil
}

// FindCARevocation returns the revocation of a CA's certificate or ENOTFOUND.
func (db *DB) FindCARevocation(ctx context.Context, caID string) (*selo.CARevocation, error) {
	return findCARevocation(ctx, db.pool, caID)
}

// ListCARevocations returns the revocations of the CA certificates parentID
// issued, by serial.
func (db *DB) ListCARevocations(ctx context.Context, parentID string) ([]*selo.CARevocation, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+caRevocationColumns+` FROM ca_revocations WHERE parent_id = $1 ORDER BY serial`, parentID)
	if err != nil {
		return nil, fmt.Errorf("list ca revocations of %s: %w", parentID, err)
	}
	defer rows.Close()
	var out []*selo.CARevocation
	for rows.Next() {
		rev, err := scanCARevocation(rows)
		if err != nil {
			return nil, fmt.Errorf("list ca revocations of %s: %w", parentID, err)
		}
		out = append(out, rev)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list ca revocations of %s: %w", parentID, err)
	}
	return out, nil
}

func findCARevocation(ctx context.Context, q querier, caID string) (*selo.CARevocation, error) {
	rev, err := scanCARevocation(q.QueryRow(ctx, `SELECT `+caRevocationColumns+` FROM ca_revocations WHERE ca_id = $1`, caID))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, selo.Errorf(selo.ENOTFOUND, "CA %q is not revoked", caID)
	} else if err != nil {
		return nil, fmt.Errorf("find revocation of ca %s: %w", caID, err)
	}
	return rev, nil
}

func scanCARevocation(row pgx.Row) (*selo.CARevocation, error) {
	var rev selo.CARevocation
	var reason int16
	var invalidity *time.Time
	if err := row.Scan(&rev.CAID, &rev.ParentID, &rev.Serial, &reason, &rev.RevokedAt, &invalidity, &rev.Actor); err != nil {
		return nil, err
	}
	rev.Reason, rev.RevokedAt = selo.RevocationReason(reason), rev.RevokedAt.UTC()
	if invalidity != nil {
		rev.InvalidityDate = invalidity.UTC()
	}
	return &rev, nil
}
