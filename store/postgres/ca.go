package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/store/internal/check"
)

// caColumns is the column list every CA query selects, in the order scanCA reads.
const caColumns = `id, name, parent_id, key_id, key_algorithm, cert_der, status, created_at`

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
	rows, err := db.pool.Query(ctx, `SELECT `+caColumns+` FROM cas ORDER BY created_at, id`)
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
	ca, err := scanCA(q.QueryRow(ctx, `SELECT `+caColumns+` FROM cas WHERE id = $1`, id))
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
