package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

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
	e.CreatedAt, e.ExpiresAt = fromMicros(toMicros(e.CreatedAt)), fromMicros(toMicros(e.ExpiresAt))
	_, err := tx.ExecContext(ctx, `INSERT INTO identity_evidence (`+evidenceColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		e.CheckID, string(e.Kind), e.ContentType, e.Size, e.Sealed, toMicros(e.CreatedAt), toMicros(e.ExpiresAt))
	if isUniqueViolation(err) {
		return selo.Errorf(selo.ECONFLICT, "identity check %s already has a %s photo", e.CheckID, e.Kind)
	} else if err != nil {
		return fmt.Errorf("insert identity evidence: %w", err)
	}
	return nil
}

func scanEvidence(row interface{ Scan(...any) error }) (*selo.IdentityEvidence, error) {
	var e selo.IdentityEvidence
	var kind string
	var created, expires int64
	if err := row.Scan(&e.CheckID, &kind, &e.ContentType, &e.Size, &e.Sealed, &created, &expires); err != nil {
		return nil, err
	}
	e.Kind, e.CreatedAt, e.ExpiresAt = selo.EvidenceKind(kind), fromMicros(created), fromMicros(expires)
	return &e, nil
}

// ListIdentityEvidence returns a check's photos in the order of selo.EvidenceKinds.
func (db *DB) ListIdentityEvidence(ctx context.Context, checkID string) ([]*selo.IdentityEvidence, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT `+evidenceColumns+` FROM identity_evidence
		WHERE check_id = ? ORDER BY `+evidenceOrder, checkID)
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
	e, err := scanEvidence(db.read.QueryRowContext(ctx, `SELECT `+evidenceColumns+` FROM identity_evidence
		WHERE check_id = ? AND kind = ?`, checkID, string(kind)))
	if errors.Is(err, sql.ErrNoRows) {
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
	rows, err := db.read.QueryContext(ctx, `SELECT check_id, MIN(expires_at) AS e FROM identity_evidence
		WHERE expires_at <= ? GROUP BY check_id ORDER BY e, check_id LIMIT ?`, toMicros(now), limit)
	if err != nil {
		return nil, fmt.Errorf("list expired identity evidence: %w", err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		var e int64
		if err := rows.Scan(&id, &e); err != nil {
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
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `DELETE FROM identity_evidence WHERE check_id = ?`, checkID)
	if err != nil {
		return 0, fmt.Errorf("delete identity evidence: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("delete identity evidence: %w", err)
	}
	if n == 0 {
		return 0, nil
	}
	if err := appendAudit(ctx, tx, audit); err != nil {
		return 0, err
	}
	return int(n), tx.commit("delete identity evidence")
}
