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
	return findCAByID(ctx, db.read, id)
}

// ListCAs returns every CA ordered by creation time, then ID.
func (db *DB) ListCAs(ctx context.Context) ([]*selo.CA, error) {
	rows, err := db.read.QueryContext(ctx, `
		SELECT id, name, parent_id, key_id, key_algorithm, cert_der, status, created_at
		FROM cas ORDER BY created_at, id`)
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

// findCAByID returns the CA with this ID, or ENOTFOUND.
func findCAByID(ctx context.Context, q querier, id string) (*selo.CA, error) {
	ca, err := scanCA(q.QueryRowContext(ctx, `
		SELECT id, name, parent_id, key_id, key_algorithm, cert_der, status, created_at
		FROM cas WHERE id = ?`, id))
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
