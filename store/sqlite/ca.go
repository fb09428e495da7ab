package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/store/internal/check"
)

// CreateCA inserts ca and appends audit in one transaction. A zero CreatedAt
// is set from the store's clock and an empty Status to active; ca is updated
// to hold exactly what was stored.
func (db *DB) CreateCA(ctx context.Context, ca *selo.CA, audit *selo.AuditEntry) error {
	if err := check.CA(ca); err != nil {
		return err
	}
	if audit == nil {
		return check.ErrNoAudit
	}
	tx, err := db.beginTx(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := createCA(ctx, tx, ca); err != nil {
		return err
	}
	if err := appendAudit(ctx, tx, audit); err != nil {
		return err
	}
	return tx.commit("create ca")
}

// FindCA returns the CA with this ID, or ENOTFOUND.
func (db *DB) FindCA(ctx context.Context, id string) (*selo.CA, error) {
	return caByID(db.readRow(ctx, findCASQL, id), id)
}

// ListCAs returns every CA ordered by creation time, then ID.
func (db *DB) ListCAs(ctx context.Context) ([]*selo.CA, error) {
	rows, err := db.read.QueryContext(ctx, `
		SELECT `+caColumns+` FROM cas ORDER BY created_at, id`)
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
	tx, err := db.beginTx(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `UPDATE cas SET status = ? WHERE id = ?`, string(status), id)
	if err != nil {
		return fmt.Errorf("set status of ca %s: %w", id, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("set status of ca %s: %w", id, err)
	} else if n == 0 {
		return selo.Errorf(selo.ENOTFOUND, "CA %q not found", id)
	}
	if err := appendAudit(ctx, tx, audit); err != nil {
		return err
	}
	return tx.commit("set ca status")
}

// createCA inserts ca inside tx.
func createCA(ctx context.Context, tx *Tx, ca *selo.CA) error {
	if ca.CreatedAt.IsZero() {
		ca.CreatedAt = tx.now
	}
	ca.CreatedAt = fromMicros(toMicros(ca.CreatedAt))
	_, err := tx.ExecContext(ctx, `
		INSERT INTO cas (id, name, parent_id, key_id, key_algorithm, cert_der, status, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		ca.ID, ca.Name, sql.NullString{String: ca.ParentID, Valid: ca.ParentID != ""}, ca.KeyID,
		string(ca.KeyAlgorithm), ca.CertDER, string(ca.Status), toMicros(ca.CreatedAt))
	switch {
	case isUniqueViolation(err):
		return selo.Errorf(selo.ECONFLICT, "CA %q already exists", ca.ID)
	case isForeignKeyViolation(err):
		return selo.Errorf(selo.ENOTFOUND, "parent CA %q not found", ca.ParentID)
	case err != nil:
		return fmt.Errorf("insert ca %s: %w", ca.ID, err)
	}
	return nil
}

// caColumns is the column list the CA queries select, in the order scanCA
// reads: a CA with a row in ca_revocations is revoked whatever its status
// column says.
const caColumns = `id, name, parent_id, key_id, key_algorithm, cert_der,
	CASE WHEN EXISTS (SELECT 1 FROM ca_revocations r WHERE r.ca_id = cas.id) THEN 'revoked' ELSE status END, created_at`

// findCASQL reads the CA with this ID. Arguments: ID.
const findCASQL = `SELECT ` + caColumns + ` FROM cas WHERE id = ?`

// findCAByID returns the CA with this ID, or ENOTFOUND.
func findCAByID(ctx context.Context, q querier, id string) (*selo.CA, error) {
	return caByID(q.QueryRowContext(ctx, findCASQL, id), id)
}

// caByID scans the row of findCASQL for id: the CA, or ENOTFOUND.
func caByID(row *sql.Row, id string) (*selo.CA, error) {
	ca, err := scanCA(row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, selo.Errorf(selo.ENOTFOUND, "CA %q not found", id)
	} else if err != nil {
		return nil, fmt.Errorf("find ca %s: %w", id, err)
	}
	return ca, nil
}

// scanner is a *sql.Row or *sql.Rows.
type scanner interface {
	Scan(dest ...any) error
}

// scanCA reads one row of the column list the CA queries use.
func scanCA(s scanner) (*selo.CA, error) {
	var ca selo.CA
	var parent sql.NullString
	var alg, status string
	var created int64
	if err := s.Scan(&ca.ID, &ca.Name, &parent, &ca.KeyID, &alg, &ca.CertDER, &status, &created); err != nil {
		return nil, err
	}
	ca.ParentID, ca.KeyAlgorithm, ca.Status, ca.CreatedAt = parent.String, selo.KeyAlgorithm(alg), selo.CAStatus(status), fromMicros(created)
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
	defer tx.Rollback()
	ca, err := findCAByID(ctx, tx, rev.CAID)
	if err != nil {
		return nil, false, err
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
	rev.RevokedAt = fromMicros(toMicros(rev.RevokedAt))
	var invalidity sql.NullInt64
	if !rev.InvalidityDate.IsZero() {
		rev.InvalidityDate = fromMicros(toMicros(rev.InvalidityDate))
		invalidity = sql.NullInt64{Int64: toMicros(rev.InvalidityDate), Valid: true}
	}
	if rev.Actor == "" {
		rev.Actor = audit.Actor
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO ca_revocations (`+caRevocationColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		rev.CAID, rev.ParentID, rev.Serial, int64(rev.Reason), toMicros(rev.RevokedAt), invalidity, rev.Actor); err != nil {
		return nil, false, fmt.Errorf("insert revocation of ca %s: %w", rev.CAID, err)
	}
	if err := appendAudit(ctx, tx, audit); err != nil {
		return nil, false, err
	}
	if err := tx.commit("revoke ca"); err != nil {
		return nil, false, err
	}
	return rev, true, nil
}

// FindCARevocation returns the revocation of a CA's certificate or ENOTFOUND.
func (db *DB) FindCARevocation(ctx context.Context, caID string) (*selo.CARevocation, error) {
	return findCARevocation(ctx, db.read, caID)
}

// ListCARevocations returns the revocations of the CA certificates parentID
// issued, by serial.
func (db *DB) ListCARevocations(ctx context.Context, parentID string) ([]*selo.CARevocation, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT `+caRevocationColumns+` FROM ca_revocations WHERE parent_id = ? ORDER BY serial`, parentID)
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
	rev, err := scanCARevocation(q.QueryRowContext(ctx, `SELECT `+caRevocationColumns+` FROM ca_revocations WHERE ca_id = ?`, caID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, selo.Errorf(selo.ENOTFOUND, "CA %q is not revoked", caID)
	} else if err != nil {
		return nil, fmt.Errorf("find revocation of ca %s: %w", caID, err)
	}
	return rev, nil
}

func scanCARevocation(s scanner) (*selo.CARevocation, error) {
	var rev selo.CARevocation
	var reason, revokedAt int64
	var invalidity sql.NullInt64
	if err := s.Scan(&rev.CAID, &rev.ParentID, &rev.Serial, &reason, &revokedAt, &invalidity, &rev.Actor); err != nil {
		return nil, err
	}
	rev.Reason, rev.RevokedAt = selo.RevocationReason(reason), fromMicros(revokedAt)
	if invalidity.Valid {
		rev.InvalidityDate = fromMicros(invalidity.Int64)
	}
	return &rev, nil
}
