package postgres

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
	tx, err := db.beginBatch(ctx)
	if err != nil {
		return err
	}
	defer tx.end()
	return tx.commitAudited(ctx, entry, "append audit entry")
}

// ListAudit returns up to limit entries (all when limit is 0) with Seq >
// afterSeq, in Seq order. It returns the rows as stored, without checking
// them: selo.VerifyAuditChain does that.
func (db *DB) ListAudit(ctx context.Context, afterSeq int64, limit int) ([]*selo.AuditEntry, error) {
	if limit < 0 {
		return nil, selo.Errorf(selo.EINVALID, "negative limit %d", limit)
	}
	var n *int64 // LIMIT NULL is no limit
	if limit > 0 {
		l := int64(limit)
		n = &l
	}
	rows, err := db.pool.Query(ctx, `
		SELECT seq, time, actor, action, object, outcome, details, prev_hash, hash
		FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2`, afterSeq, n)
	if err != nil {
		return nil, fmt.Errorf("list audit entries: %w", err)
	}
	defer rows.Close()
	var entries []*selo.AuditEntry
	for rows.Next() {
		var e selo.AuditEntry
		if err := rows.Scan(&e.Seq, &e.Time, &e.Actor, &e.Action, &e.Object, &e.Outcome, &e.Details, &e.PrevHash, &e.Hash); err != nil {
			return nil, fmt.Errorf("list audit entries: %w", err)
		}
		e.Time = e.Time.UTC()
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
	if err := db.pool.QueryRow(ctx, `SELECT seq, hash FROM audit_head WHERE id = 1`).Scan(&seq, &hash); err != nil {
		return 0, "", fmt.Errorf("read audit head: %w", err)
	}
	return seq, hash, nil
}

// appendAuditSQL inserts a sealed audit entry and moves the head to it in one
// statement. Arguments: seq, time, actor, action, object, outcome, details,
// prev_hash, hash.
const appendAuditSQL = `
	WITH head AS (UPDATE audit_head SET seq = $1, hash = $9 WHERE id = 1)
	INSERT INTO audit_log (seq, time, actor, action, object, outcome, details, prev_hash, hash)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`

// appendAuditEntriesSQL is appendAuditSQL for several sealed entries in
// chain order, one array per column, the head moved once to the last
// (auditColumnArrays makes the arguments).
const appendAuditEntriesSQL = `
	WITH head AS (UPDATE audit_head SET seq = $10, hash = $11 WHERE id = 1)
	INSERT INTO audit_log (seq, time, actor, action, object, outcome, details, prev_hash, hash)
	SELECT * FROM unnest($1::bigint[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[])`

// auditColumnArrays returns the arguments of appendAuditEntriesSQL.
func auditColumnArrays(entries []*selo.AuditEntry) []any {
	n := len(entries)
	seq, tm := make([]int64, n), make([]time.Time, n)
	actor, action, object, outcome := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	details, prev, hash := make([]string, n), make([]string, n), make([]string, n)
	for i, e := range entries {
		seq[i], tm[i], actor[i], action[i], object[i] = e.Seq, e.Time, e.Actor, e.Action, e.Object
		outcome[i], details[i], prev[i], hash[i] = e.Outcome, e.Details, e.PrevHash, e.Hash
	}
	last := entries[n-1]
	return []any{seq, tm, actor, action, object, outcome, details, prev, hash, last.Seq, last.Hash}
}

// appendAudit seals e after the head of the log and inserts it inside tx, for
// writes that read before they write and so cannot be pipelined (batch.go
// holds the pipelined form). Locking the head row serializes appends across
// connections and replicas: the next appender waits here until this
// transaction commits or rolls back, then reads the head it left. Callers
// append last, just before commit, so the lock is held briefly and never
// while waiting for another lock.
func appendAudit(ctx context.Context, tx *Tx, e *selo.AuditEntry) error {
	if err := check.AuditEntry(e); err != nil {
		return err
	}
	var head selo.AuditEntry
	if err := tx.QueryRow(ctx, `SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE`).Scan(&head.Seq, &head.Hash); err != nil {
		return fmt.Errorf("lock audit head: %w", err)
	}
	prev := &head
	if head.Seq == 0 {
		prev = nil
	}
	if e.Time.IsZero() {
		e.Time = tx.now
	}
	e.Seal(prev)
	if _, err := tx.Exec(ctx, appendAuditSQL,
		e.Seq, e.Time, e.Actor, e.Action, e.Object, e.Outcome, e.Details, e.PrevHash, e.Hash); err != nil {
		return fmt.Errorf("append audit entry %d: %w", e.Seq, err)
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
	if _, err := db.pool.Exec(ctx, `INSERT INTO audit_checkpoints (seq, hash, time, key_id, signature) VALUES ($1, $2, $3, $4, $5)`,
		cp.Seq, cp.Hash, cp.Time, cp.KeyID, cp.Signature); err != nil {
		return fmt.Errorf("append audit checkpoint at %d: %w", cp.Seq, err)
	}
	return nil
}

// ListAuditCheckpoints returns every stored checkpoint in Seq order, then
// Time, as stored.
func (db *DB) ListAuditCheckpoints(ctx context.Context) ([]*selo.AuditCheckpoint, error) {
	rows, err := db.pool.Query(ctx, `SELECT seq, hash, time, key_id, signature FROM audit_checkpoints ORDER BY seq, time, id`)
	if err != nil {
		return nil, fmt.Errorf("list audit checkpoints: %w", err)
	}
	defer rows.Close()
	var cps []*selo.AuditCheckpoint
	for rows.Next() {
		var cp selo.AuditCheckpoint
		if err := rows.Scan(&cp.Seq, &cp.Hash, &cp.Time, &cp.KeyID, &cp.Signature); err != nil {
			return nil, fmt.Errorf("list audit checkpoints: %w", err)
		}
		cp.Time = cp.Time.UTC()
		cps = append(cps, &cp)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list audit checkpoints: %w", err)
	}
	return cps, nil
}
