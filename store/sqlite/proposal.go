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

// CreateProposal inserts a pending proposal with its audit entry; ECONFLICT
// when the ID exists. A zero ProposedAt is set from the store's clock.
func (db *DB) CreateProposal(ctx context.Context, p *selo.Proposal, audit *selo.AuditEntry) error {
	if err := check.Proposal(p); err != nil {
		return err
	}
	return db.update(ctx, "create proposal", audit, func(tx *Tx) error {
		if p.ProposedAt.IsZero() {
			p.ProposedAt = tx.now
		}
		p.ProposedAt, p.ExpiresAt = fromMicros(toMicros(p.ProposedAt)), fromMicros(toMicros(p.ExpiresAt))
		p.Status = selo.ProposalPending
		_, err := tx.ExecContext(ctx, `INSERT INTO proposals (id, kind, params, reason, proposed_by, proposed_at, expires_at, status)
			VALUES (?, ?, ?, ?, ?, ?, ?, 'pending')`, p.ID, string(p.Kind), p.Params, p.Reason, p.ProposedBy,
			toMicros(p.ProposedAt), toMicros(p.ExpiresAt))
		return createError(err, "proposal", p.ID, "")
	})
}

const proposalColumns = `id, kind, params, reason, proposed_by, proposed_at, expires_at, status,
	decided_by, decided_at, comment, executed_by, executed_at, result`

func scanProposal(row interface{ Scan(...any) error }) (*selo.Proposal, error) {
	var p selo.Proposal
	var kind, status string
	var proposed, expires int64
	var decided, executed sql.NullInt64
	if err := row.Scan(&p.ID, &kind, &p.Params, &p.Reason, &p.ProposedBy, &proposed, &expires, &status,
		&p.DecidedBy, &decided, &p.Comment, &p.ExecutedBy, &executed, &p.Result); err != nil {
		return nil, err
	}
	p.Kind, p.Status = selo.ProposalKind(kind), selo.ProposalStatus(status)
	p.ProposedAt, p.ExpiresAt = fromMicros(proposed), fromMicros(expires)
	if decided.Valid {
		p.DecidedAt = fromMicros(decided.Int64)
	}
	if executed.Valid {
		p.ExecutedAt = fromMicros(executed.Int64)
	}
	return &p, nil
}

// findProposal reads a proposal as stored (no expiry applied).
func findProposal(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, id string) (*selo.Proposal, error) {
	p, err := scanProposal(q.QueryRowContext(ctx, `SELECT `+proposalColumns+` FROM proposals WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, selo.Errorf(selo.ENOTFOUND, "proposal %s not found", id)
	} else if err != nil {
		return nil, fmt.Errorf("find proposal %s: %w", id, err)
	}
	return p, nil
}

func showExpiry(p *selo.Proposal, now time.Time) *selo.Proposal {
	if p.Expired(now) {
		p.Status = selo.ProposalExpired
	}
	return p
}

// FindProposal returns the proposal, marked expired when it expired unused
// at now, or ENOTFOUND.
func (db *DB) FindProposal(ctx context.Context, id string, now time.Time) (*selo.Proposal, error) {
	p, err := findProposal(ctx, db.read, id)
	if err != nil {
		return nil, err
	}
	return showExpiry(p, now), nil
}

// ListProposals returns up to limit proposals, newest first, filtered by
// status ("" for all).
func (db *DB) ListProposals(ctx context.Context, status selo.ProposalStatus, now time.Time, limit int) ([]*selo.Proposal, error) {
	if limit <= 0 {
		return nil, selo.Errorf(selo.EINVALID, "limit must be positive")
	}
	var where string
	args := []any{}
	switch status {
	case "":
		where = `1 = 1`
	case selo.ProposalExpired:
		where = `status IN ('pending', 'approved') AND expires_at <= ?`
		args = append(args, toMicros(now))
	case selo.ProposalPending, selo.ProposalApproved:
		where = `status = ? AND expires_at > ?`
		args = append(args, string(status), toMicros(now))
	case selo.ProposalRejected, selo.ProposalExecuting, selo.ProposalExecuted, selo.ProposalFailed:
		where = `status = ?`
		args = append(args, string(status))
	default:
		return nil, selo.Errorf(selo.EINVALID, "unknown proposal status %q", status)
	}
	args = append(args, limit)
	rows, err := db.read.QueryContext(ctx, `SELECT `+proposalColumns+` FROM proposals WHERE `+where+`
		ORDER BY proposed_at DESC, id DESC LIMIT ?`, args...)
	if err != nil {
		return nil, fmt.Errorf("list proposals: %w", err)
	}
	defer rows.Close()
	var out []*selo.Proposal
	for rows.Next() {
		p, err := scanProposal(rows)
		if err != nil {
			return nil, fmt.Errorf("list proposals: %w", err)
		}
		out = append(out, showExpiry(p, now))
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list proposals: %w", err)
	}
	return out, nil
}

// DecideProposal approves or rejects a pending, unexpired proposal.
func (db *DB) DecideProposal(ctx context.Context, id string, to selo.ProposalStatus, by, comment string, now time.Time, audit *selo.AuditEntry) (*selo.Proposal, error) {
	if to != selo.ProposalApproved && to != selo.ProposalRejected {
		return nil, selo.Errorf(selo.EINVALID, "a proposal is decided approved or rejected, not %q", to)
	}
	if by == "" {
		return nil, selo.Errorf(selo.EINVALID, "a decision needs the deciding actor")
	}
	var out *selo.Proposal
	err := db.update(ctx, "decide proposal", audit, func(tx *Tx) error {
		p, err := findProposal(ctx, tx, id)
		if err != nil {
			return err
		}
		if err := check.Decidable(p, to, by, now); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `UPDATE proposals SET status = ?, decided_by = ?, decided_at = ?, comment = ?
			WHERE id = ? AND status = 'pending' AND expires_at > ? AND (? = 'rejected' OR proposed_by <> ?)`,
			string(to), by, toMicros(now), comment, id, toMicros(now), string(to), by)
		if err := wantOneRow(res, err, "pending proposal", id); err != nil {
			return err
		}
		out, err = findProposal(ctx, tx, id)
		return err
	})
	return out, err
}

// ClaimProposal moves an approved, unexpired proposal to executing, once.
func (db *DB) ClaimProposal(ctx context.Context, id, by string, now time.Time, audit *selo.AuditEntry) (*selo.Proposal, error) {
	var out *selo.Proposal
	err := db.update(ctx, "claim proposal", audit, func(tx *Tx) error {
		p, err := findProposal(ctx, tx, id)
		if err != nil {
			return err
		}
		if err := check.Claimable(p, now); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `UPDATE proposals SET status = 'executing', executed_by = ?, executed_at = ?
			WHERE id = ? AND status = 'approved' AND expires_at > ?`, by, toMicros(now), id, toMicros(now))
		if err := wantOneRow(res, err, "approved proposal", id); err != nil {
			return err
		}
		out, err = findProposal(ctx, tx, id)
		return err
	})
	return out, err
}

// FinishProposal records the end of a claimed execution.
func (db *DB) FinishProposal(ctx context.Context, id string, to selo.ProposalStatus, result string, audit *selo.AuditEntry) error {
	if to != selo.ProposalExecuted && to != selo.ProposalFailed {
		return selo.Errorf(selo.EINVALID, "an execution ends executed or failed, not %q", to)
	}
	return db.update(ctx, "finish proposal", audit, func(tx *Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE proposals SET status = ?, result = ? WHERE id = ? AND status = 'executing'`,
			string(to), result, id)
		if err := wantOneRow(res, err, "proposal being executed", id); err != nil {
			return selo.Errorf(selo.ECONFLICT, "proposal %s is not being executed", id)
		}
		return nil
	})
}
