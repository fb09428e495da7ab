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

const evidenceColumns = `check_id, kind, content_type, size, sealed, created_at, expires_at`

// evidenceOrder sorts a check's photos as selo.EvidenceKinds lists them.
const evidenceOrder = `CASE kind WHEN 'document-front' THEN 0 WHEN 'document-back' THEN 1 ELSE 2 END`

// insertEvidence inserts e inside tx.
func insertEvidence(ctx context.Context, tx *Tx, e *selo.IdentityEvidence) error {
	if e.CreatedAt.IsZero() {
		e.CreatedAt = tx.now
	}
	e.CreatedAt, e.ExpiresAt = micro(e.CreatedAt), micro(e.ExpiresAt)
	_, err := tx.Exec(ctx, `INSERT INTO identity_evidence (`+evidenceColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		e.CheckID, string(e.Kind), e.ContentType, e.Size, e.Sealed, e.CreatedAt, e.ExpiresAt)
	if isUniqueViolation(err) {
		return selo.Errorf(selo.ECONFLICT, "identity check %s already has a %s photo", e.CheckID, e.Kind)
	} else if err != nil {
		return fmt.Errorf("insert identity evidence: %w", err)
	}
	return nil
}

func scanEvidence(row pgx.Row) (*selo.IdentityEvidence, error) {
	var e selo.IdentityEvidence
	var kind string
	if err := row.Scan(&e.CheckID, &kind, &e.ContentType, &e.Size, &e.Sealed, &e.CreatedAt, &e.ExpiresAt); err != nil {
		return nil, err
	}
	e.Kind, e.CreatedAt, e.ExpiresAt = selo.EvidenceKind(kind), e.CreatedAt.UTC(), e.ExpiresAt.UTC()
	return &e, nil
}

// ListIdentityEvidence returns a check's photos in the order of selo.EvidenceKinds.
func (db *DB) ListIdentityEvidence(ctx context.Context, checkID string) ([]*selo.IdentityEvidence, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+evidenceColumns+` FROM identity_evidence
		WHERE check_id = $1 ORDER BY `+evidenceOrder, checkID)
	if err != nil {
		return nil, fmt.Errorf("list identity evidence: %w", err)
	}
	defer rows.Close()
	var out []*selo.IdentityEvidence
	for rows.Next() {
		e, err := scanEvidence(rows)
		if err != nil {
			return nil, fmt.Errorf("list identity evidence: %w", err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list identity evidence: %w", err)
	}
	return out, nil
}

// FindIdentityEvidence returns one photo of a check, or ENOTFOUND.
func (db *DB) FindIdentityEvidence(ctx context.Context, checkID string, kind selo.EvidenceKind) (*selo.IdentityEvidence, error) {
	e, err := scanEvidence(db.pool.QueryRow(ctx, `SELECT `+evidenceColumns+` FROM identity_evidence
		WHERE check_id = $1 AND kind = $2`, checkID, string(kind)))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, selo.Errorf(selo.ENOTFOUND, "identity check %s has no %s photo", checkID, kind)
	} else if err != nil {
		return nil, fmt.Errorf("find identity evidence: %w", err)
	}
	return e, nil
}

// ExpiredIdentityEvidence returns the checks with a photo expired at now.
func (db *DB) ExpiredIdentityEvidence(ctx context.Context, now time.Time, limit int) ([]string, error) {
	if limit <= 0 {
		return nil, selo.Errorf(selo.EINVALID, "the limit must be positive, not %d", limit)
	}
	rows, err := db.pool.Query(ctx, `SELECT check_id FROM identity_evidence
		WHERE expires_at <= $1 GROUP BY check_id ORDER BY MIN(expires_at), check_id LIMIT $2`, micro(now), limit)
	if err != nil {
		return nil, fmt.Errorf("list expired identity evidence: %w", err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("list expired identity evidence: %w", err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list expired identity evidence: %w", err)
	}
	return ids, nil
}

// DeleteIdentityEvidence deletes every photo of a check with its audit entry.
func (db *DB) DeleteIdentityEvidence(ctx context.Context, checkID string, audit *selo.AuditEntry) (int, error) {
	if audit == nil {
		return 0, check.ErrNoAudit
	}
	tx, err := db.beginTx(ctx)
	if err != nil {
		return 0, err
	}
	defer tx.rollback()
	tag, err := tx.Exec(ctx, `DELETE FROM identity_evidence WHERE check_id = $1`, checkID)
	if err != nil {
		return 0, fmt.Errorf("delete identity evidence: %w", err)
	}
	n := tag.RowsAffected()
	if n == 0 {
		return 0, nil
	}
	if err := appendAudit(ctx, tx, audit); err != nil {
		return 0, err
	}
	return int(n), tx.commit(ctx, "delete identity evidence")
}
