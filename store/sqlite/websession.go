package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/selo-qtsp/selo"
)

// CreateWebSession inserts s; ECONFLICT when the token hash exists.
func (db *DB) CreateWebSession(ctx context.Context, s *selo.WebSession) error {
	if s.TokenHash == "" || s.Kind == "" {
		return selo.Errorf(selo.EINVALID, "a web session needs a token hash and a kind")
	}
	_, err := db.write.ExecContext(ctx, `INSERT INTO web_sessions
		(token_hash, kind, subject, stage, data, failures, created_at, seen_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		s.TokenHash, s.Kind, s.Subject, s.Stage, s.Data, s.Failures, toMicros(s.CreatedAt), toMicros(s.SeenAt), toMicros(s.ExpiresAt))
	if isUniqueViolation(err) {
		return selo.Errorf(selo.ECONFLICT, "a web session with this token already exists")
	} else if err != nil {
		return fmt.Errorf("insert web session: %w", err)
	}
	return nil
}

// FindWebSession returns the session with this token hash, or ENOTFOUND.
func (db *DB) FindWebSession(ctx context.Context, tokenHash string) (*selo.WebSession, error) {
	s := selo.WebSession{TokenHash: tokenHash}
	var created, seen, expires int64
	err := db.readRow(context.WithoutCancel(ctx), `SELECT kind, subject, stage, data, failures, created_at, seen_at, expires_at
		FROM web_sessions WHERE token_hash = ?`, tokenHash).Scan(&s.Kind, &s.Subject, &s.Stage, &s.Data, &s.Failures, &created, &seen, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, selo.Errorf(selo.ENOTFOUND, "web session not found")
	} else if err != nil {
		return nil, fmt.Errorf("find web session: %w", err)
	}
	s.CreatedAt, s.SeenAt, s.ExpiresAt = fromMicros(created), fromMicros(seen), fromMicros(expires)
	return &s, nil
}

// UpdateWebSession stores the subject, stage, data, failures and last request time of s.
func (db *DB) UpdateWebSession(ctx context.Context, s *selo.WebSession) error {
	res, err := db.write.ExecContext(ctx, `UPDATE web_sessions SET subject = ?, stage = ?, data = ?, failures = ?, seen_at = ? WHERE token_hash = ?`,
		s.Subject, s.Stage, s.Data, s.Failures, toMicros(s.SeenAt), s.TokenHash)
	return wantOneRow(res, err, "web session", "")
}

// DeleteWebSession removes a session; an absent one is no error.
func (db *DB) DeleteWebSession(ctx context.Context, tokenHash string) error {
	if _, err := db.write.ExecContext(ctx, `DELETE FROM web_sessions WHERE token_hash = ?`, tokenHash); err != nil {
		return fmt.Errorf("delete web session: %w", err)
	}
	return nil
}

// DeleteWebSessions removes every session of kind and subject but one.
func (db *DB) DeleteWebSessions(ctx context.Context, kind, subject, exceptTokenHash string) (int, error) {
	res, err := db.write.ExecContext(ctx, `DELETE FROM web_sessions WHERE kind = ? AND subject = ? AND token_hash <> ?`, kind, subject, exceptTokenHash)
	if err != nil {
		return 0, fmt.Errorf("delete web sessions: %w", err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

// DeleteExpiredWebSessions removes the sessions past either timeout.
func (db *DB) DeleteExpiredWebSessions(ctx context.Context, now, idleBefore time.Time) (int, error) {
	res, err := db.write.ExecContext(ctx, `DELETE FROM web_sessions WHERE expires_at <= ? OR seen_at < ?`, toMicros(now), toMicros(idleBefore))
	if err != nil {
		return 0, fmt.Errorf("delete expired web sessions: %w", err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

// listAuditByActorSQL reads a page of one actor's entries of one action
// through audit_log_actor_action, without a sort (TestPlans).
const listAuditByActorSQL = `
		SELECT seq, time, actor, action, object, outcome, details, prev_hash, hash
		FROM audit_log WHERE actor = ? AND action = ? AND seq < ? ORDER BY seq DESC LIMIT ?`

// ListAuditByActor returns up to limit entries of actor and action with
// Seq < beforeSeq (all when 0), newest first, through the index
// audit_log_actor_action.
func (db *DB) ListAuditByActor(ctx context.Context, actor, action string, beforeSeq int64, limit int) ([]*selo.AuditEntry, error) {
	if limit <= 0 {
		return nil, selo.Errorf(selo.EINVALID, "limit must be positive")
	}
	if beforeSeq <= 0 {
		beforeSeq = math.MaxInt64
	}
	rows, err := db.read.QueryContext(ctx, listAuditByActorSQL, actor, action, beforeSeq, limit)
	if err != nil {
		return nil, fmt.Errorf("list audit entries of %s: %w", actor, err)
	}
	defer rows.Close()
	var entries []*selo.AuditEntry
	for rows.Next() {
		var e selo.AuditEntry
		var t int64
		if err := rows.Scan(&e.Seq, &t, &e.Actor, &e.Action, &e.Object, &e.Outcome, &e.Details, &e.PrevHash, &e.Hash); err != nil {
			return nil, fmt.Errorf("list audit entries of %s: %w", actor, err)
		}
		e.Time = fromMicros(t)
		entries = append(entries, &e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list audit entries of %s: %w", actor, err)
	}
	return entries, nil
}

// ListOrdersByHolderEmail returns up to limit orders of the holder with
// this e-mail, newest first, through orders_holder_email.
func (db *DB) ListOrdersByHolderEmail(ctx context.Context, email string, limit int) ([]*selo.Order, error) {
	if limit <= 0 {
		return nil, selo.Errorf(selo.EINVALID, "limit must be positive")
	}
	rows, err := db.read.QueryContext(ctx, `SELECT `+orderColumns+` FROM orders
		WHERE holder_email = lower(?) ORDER BY created_at DESC LIMIT ?`, email, limit)
	if err != nil {
		return nil, fmt.Errorf("list orders of a holder: %w", err)
	}
	defer rows.Close()
	var out []*selo.Order
	for rows.Next() {
		o, err := scanOrder(rows)
		if err != nil {
			return nil, fmt.Errorf("list orders of a holder: %w", err)
		}
		out = append(out, o)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list orders of a holder: %w", err)
	}
	return out, nil
}

// SetCredentialApproval sets the credential's approval type and ends what
// was approved under the old one, with its audit entry.
func (db *DB) SetCredentialApproval(ctx context.Context, id string, approval selo.ApprovalType, audit *selo.AuditEntry) error {
	if !approval.Valid() {
		return selo.Errorf(selo.EINVALID, "unknown approval type %q", approval)
	}
	return db.update(ctx, "set credential approval", audit, func(tx *Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE credentials SET approval_type = ? WHERE id = ?`, string(approval), id)
		if err := wantOneRow(res, err, "credential", id); err != nil {
			return err
		}
		return endApprovals(ctx, tx, "credential_id", id, tx.now)
	})
}
