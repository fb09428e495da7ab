package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/store/internal/check"
)

// batchTx is a write transaction (READ COMMITTED) sent in pipelined batches:
// statements are queued, each with a function that reads its result, and
// flush sends everything queued in one round trip. The first batch starts
// with BEGIN and commitAudited ends the last with COMMIT, so a write that
// queues its statements and then calls commitAudited costs two round trips:
//
//	BEGIN; the writes; SELECT … FROM audit_head FOR UPDATE
//	INSERT the sealed audit entry and move the head; COMMIT
//
// instead of five, and the audit head stays locked for one round trip instead
// of two. A statement that fails makes PostgreSQL skip the rest of its batch,
// COMMIT included, and end closes such a transaction with ROLLBACK, so an
// error never leaves anything half-written.
type batchTx struct {
	conn  *pgxpool.Conn
	now   time.Time // the store's clock when the transaction began
	batch *pgx.Batch
	// committed is set when PostgreSQL answered COMMIT with COMMIT: the
	// transaction is durable whatever error the rest of the exchange
	// brings (a FATAL that terminates the session right after it, say).
	committed bool
}

// beginBatch acquires a connection and queues BEGIN; nothing is sent until
// the first flush. The caller must call end.
func (db *DB) beginBatch(ctx context.Context) (*batchTx, error) {
	conn, err := db.pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("begin transaction: %w", err)
	}
	t := &batchTx{conn: conn, now: db.clock.Now(), batch: &pgx.Batch{}}
	t.exec(func(_ pgconn.CommandTag, err error) error {
		if err != nil {
			return fmt.Errorf("begin transaction: %w", err)
		}
		return nil
	}, `BEGIN`)
	return t, nil
}

// exec queues sql. fn gets its command tag, or the error that it or an
// earlier statement of the batch failed with, and returns the error flush
// reports; the first such error ends the batch.
func (t *batchTx) exec(fn func(tag pgconn.CommandTag, err error) error, sql string, args ...any) {
	t.batch.Queue(sql, args...).Fn = func(br pgx.BatchResults) error {
		return fn(br.Exec())
	}
}

// queryRow queues sql, a query that returns at most one row. fn gets the row,
// whose Scan returns pgx.ErrNoRows when there is none or the error that the
// query or an earlier statement of the batch failed with, and returns the
// error flush reports.
func (t *batchTx) queryRow(fn func(row pgx.Row) error, sql string, args ...any) {
	t.batch.Queue(sql, args...).Fn = func(br pgx.BatchResults) error {
		return fn(br.QueryRow())
	}
}

// query queues sql, a query that returns rows. fn gets them, or the error
// that the query or an earlier statement of the batch failed with (rows is
// then nil), and returns the error flush reports; it must read or close rows.
func (t *batchTx) query(fn func(rows pgx.Rows, err error) error, sql string, args ...any) {
	t.batch.Queue(sql, args...).Fn = func(br pgx.BatchResults) error {
		rows, err := br.Query()
		if err != nil {
			return fn(nil, err)
		}
		return fn(rows, nil)
	}
}

// flush sends the queued statements in one round trip and reads their
// results in order; it returns the first error a result function returned.
func (t *batchTx) flush(ctx context.Context) error {
	b := t.batch
	t.batch = &pgx.Batch{}
	if b.Len() == 0 {
		return nil
	}
	return t.conn.SendBatch(ctx, b).Close()
}

// commitAudited seals e after the head of the audit log and commits: one
// round trip sends what was queued and locks the head row, the next inserts e,
// moves the head and commits. Locking the head row serializes appends across
// connections and replicas: the next appender waits until this transaction
// commits or rolls back, then reads the head it left. The lock is taken last,
// after the transaction's other writes, so it is held for one round trip and
// never while waiting for another lock. A zero e.Time is set from the
// transaction's clock; what names the write in errors.
func (t *batchTx) commitAudited(ctx context.Context, e *selo.AuditEntry, what string) error {
	if e == nil {
		return check.ErrNoAudit
	}
	if err := check.AuditEntry(e); err != nil {
		return err
	}
	return t.commitAuditedEntries(ctx, what, func() []*selo.AuditEntry { return []*selo.AuditEntry{e} })
}

// commitAuditedEntries is commitAudited for the entries that entries returns
// once the queued statements have run (it may look at their results), in
// that order, each chained to the one before; none is fine. The entries must
// have passed check.AuditEntry.
func (t *batchTx) commitAuditedEntries(ctx context.Context, what string, entries func() []*selo.AuditEntry) error {
	var head selo.AuditEntry
	t.queryRow(func(row pgx.Row) error {
		if err := row.Scan(&head.Seq, &head.Hash); err != nil {
			return fmt.Errorf("lock audit head: %w", err)
		}
		return nil
	}, `SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE`)
	if err := t.flush(ctx); err != nil {
		return err
	}
	prev := &head
	if head.Seq == 0 {
		prev = nil
	}
	sealed := entries()
	for _, e := range sealed {
		if e.Time.IsZero() {
			e.Time = t.now
		}
		e.Seal(prev)
		prev = e
	}
	switch len(sealed) {
	case 0:
	case 1:
		e := sealed[0]
		t.exec(func(_ pgconn.CommandTag, err error) error {
			if err != nil {
				return fmt.Errorf("append audit entry %d: %w", e.Seq, err)
			}
			return nil
		}, appendAuditSQL, e.Seq, e.Time, e.Actor, e.Action, e.Object, e.Outcome, e.Details, e.PrevHash, e.Hash)
	default:
		t.exec(func(_ pgconn.CommandTag, err error) error {
			if err != nil {
				return fmt.Errorf("append audit entries %d to %d: %w", sealed[0].Seq, prev.Seq, err)
			}
			return nil
		}, appendAuditEntriesSQL, auditColumnArrays(sealed)...)
	}
	t.exec(func(tag pgconn.CommandTag, err error) error {
		if err != nil {
			return fmt.Errorf("%s: commit: %w", what, err)
		}
		// PostgreSQL answers COMMIT of a failed transaction with ROLLBACK.
		if tag.String() != "COMMIT" {
			return fmt.Errorf("%s: commit: %w", what, pgx.ErrTxCommitRollback)
		}
		t.committed = true
		return nil
	}, `COMMIT`)
	return t.flush(ctx)
}

// end returns the connection to the pool, first rolling back a transaction
// that did not commit. It uses a fresh context so that a cancelled request
// still returns its connection clean; a connection that cannot be rolled back
// is closed by the pool, which ends the transaction on the server.
func (t *batchTx) end() {
	pc := t.conn.Conn().PgConn()
	if !pc.IsClosed() && pc.TxStatus() != 'I' {
		_, _ = t.conn.Exec(context.Background(), `ROLLBACK`)
	}
	t.conn.Release()
}
