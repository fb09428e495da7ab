package sqlite

import (
	"context"
	"fmt"
	"time"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/store/internal/check"
)

// AppendAudit seals entry after the last entry of the log and appends it on
// its own. A zero entry.Time is set from the store's clock.
func (db *DB) AppendAudit(ctx context.Context, entry *selo.AuditEntry) error {
	if entry == nil {
		return check.ErrNoAudit
	}
	tx, err := db.beginTx(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := appendAudit(ctx, tx, entry); err != nil {
		return err
	}
	return tx.commit("append audit entry")
}

// ListAudit returns up to limit entries (all when limit is 0) with Seq >
// afterSeq, in Seq order. It returns the rows as stored, without checking
// them: selo.VerifyAuditChain does that.
func (db *DB) ListAudit(ctx context.Context, afterSeq int64, limit int) ([]*selo.AuditEntry, error) {
	if limit < 0 {
		return nil, selo.Errorf(selo.EINVALID, "negative limit %d", limit)
	}
	n := int64(limit)
	if n == 0 {
		n = -1
	}
	rows, err := db.read.QueryContext(ctx, `
		SELECT seq, time, actor, action, object, outcome, details, prev_hash, hash
		FROM audit_log WHERE seq > ? ORDER BY seq LIMIT ?`, afterSeq, n)
	if err != nil {
		return nil, fmt.Errorf("list audit entries: %w", err)
	}
	defer rows.Close()
	var entries []*selo.AuditEntry
	for rows.Next() {
		var e selo.AuditEntry
		var t int64
		if err := rows.Scan(&e.Seq, &t, &e.Actor, &e.Action, &e.Object, &e.Outcome, &e.Details, &e.PrevHash, &e.Hash); err != nil {
			return nil, fmt.Errorf("list audit entries: %w", err)
		}
		e.Time = fromMicros(t)
		entries = append(entries, &e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list audit entries: %w", err)
	}
	return entries, nil
}

// AuditHead returns the sequence number and hash of the last entry appended,
// as recorded apart from the log itself; (0, "") for an empty log. A verifier
// that finds the log ends before this sequence number knows its tail was cut.
func (db *DB) AuditHead(ctx context.Context) (seq int64, hash string, err error) {
	if err := db.read.QueryRowContext(ctx, `SELECT seq, hash FROM audit_head WHERE id = 1`).Scan(&seq, &hash); err != nil {
		return 0, "", fmt.Errorf("read audit head: %w", err)
	}
	return seq, hash, nil
}

// The statements of appendAudit, prepared once by Open.
const (
	auditHeadSQL   = `SELECT seq, hash FROM audit_head WHERE id = 1`
	appendAuditSQL = `INSERT INTO audit_log (seq, time, actor, action, object, outcome, details, prev_hash, hash)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`
	advanceAuditHeadSQL = `UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1`
)

// appendAudit seals e after the head of the log and inserts it inside tx. The
// writer connection's immediate transaction already serializes appends, so
// two entries can never claim the same predecessor.
func appendAudit(ctx context.Context, tx *Tx, e *selo.AuditEntry) error {
	if err := check.AuditEntry(e); err != nil {
		return err
	}
	var head selo.AuditEntry
	if err := tx.queryRow(ctx, auditHeadSQL).Scan(&head.Seq, &head.Hash); err != nil {
		return fmt.Errorf("read audit head: %w", err)
	}
	prev := &head
	if head.Seq == 0 {
		prev = nil
	}
	if e.Time.IsZero() {
		e.Time = tx.now
	}
	e.Seal(prev)
	if _, err := tx.exec(ctx, appendAuditSQL,
		e.Seq, toMicros(e.Time), e.Actor, e.Action, e.Object, e.Outcome, e.Details, e.PrevHash, e.Hash); err != nil {
		return fmt.Errorf("append audit entry %d: %w", e.Seq, err)
	}
	if _, err := tx.exec(ctx, advanceAuditHeadSQL, e.Seq, e.Hash); err != nil {
		return fmt.Errorf("advance audit head to %d: %w", e.Seq, err)
	}
	return nil
}

// AppendAuditCheckpoint stores a signed checkpoint. The store does not check
// the signature (it has no key to check it with): the verifier does.
func (db *DB) AppendAuditCheckpoint(ctx context.Context, cp *selo.AuditCheckpoint) error {
	if err := check.AuditCheckpoint(cp); err != nil {
		return err
	}
	cp.Time = cp.Time.UTC().Truncate(time.Microsecond)
	tx, err := db.beginTx(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.exec(ctx, `INSERT INTO audit_checkpoints (seq, hash, time, key_id, signature) VALUES (?, ?, ?, ?, ?)`,
		cp.Seq, cp.Hash, toMicros(cp.Time), cp.KeyID, cp.Signature); err != nil {
		return fmt.Errorf("append audit checkpoint at %d: %w", cp.Seq, err)
	}
	return tx.commit("append audit checkpoint")
}

// ListAuditCheckpoints returns every stored checkpoint in Seq order, then
// Time, as stored.
func (db *DB) ListAuditCheckpoints(ctx context.Context) ([]*selo.AuditCheckpoint, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT seq, hash, time, key_id, signature FROM audit_checkpoints ORDER BY seq, time, id`)
	if err != nil {
		return nil, fmt.Errorf("list audit checkpoints: %w", err)
	}
	defer rows.Close()
	var cps []*selo.AuditCheckpoint
	for rows.Next() {
		var cp selo.AuditCheckpoint
		var t int64
		if err := rows.Scan(&cp.Seq, &cp.Hash, &t, &cp.KeyID, &cp.Signature); err != nil {
			return nil, fmt.Errorf("list audit checkpoints: %w", err)
		}
		cp.Time = fromMicros(t)
		cps = append(cps, &cp)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list audit checkpoints: %w", err)
	}
	return cps, nil
}
