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
		p.ProposedAt, p.ExpiresAt = micro(p.ProposedAt), micro(p.ExpiresAt)
		p.Status = selo.ProposalPending
		_, err := tx.Exec(ctx, `INSERT INTO proposals (id, kind, params, reason, proposed_by, proposed_at, expires_at, status)
			VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending')`, p.ID, string(p.Kind), p.Params, p.Reason, p.ProposedBy,
			p.ProposedAt, p.ExpiresAt)
		return createError(err, "proposal", p.ID, "")
	})
}

const proposalColumns = `id, kind, params, reason, proposed_by, proposed_at, expires_at, status,
	decided_by, decided_at, comment, executed_by, executed_at, result`

func scanProposal(row pgx.Row) (*selo.Proposal, error) {
	var p selo.Proposal
	var kind, status string
	var decided, executed *time.Time
	if err := row.Scan(&p.ID, &kind, &p.Params, &p.Reason, &p.ProposedBy, &p.ProposedAt, &p.ExpiresAt, &status,
		&p.DecidedBy, &decided, &p.Comment, &p.ExecutedBy, &executed, &p.Result); err != nil {
		return nil, err
	}
	p.Kind, p.Status = selo.ProposalKind(kind), selo.ProposalStatus(status)
	p.ProposedAt, p.ExpiresAt = p.ProposedAt.UTC(), p.ExpiresAt.UTC()
	if decided != nil {
		p.DecidedAt = decided.UTC()
	}
	if executed != nil {
		p.ExecutedAt = executed.UTC()
	}
	return &p, nil
}

// findProposal reads a proposal as stored (no expiry applied); forUpdate
// locks its row until the transaction ends.
func findProposal(ctx context.Context, q querier, id string, forUpdate bool) (*selo.Proposal, error) {
	query := `SELECT ` + proposalColumns + ` FROM proposals WHERE id = $1`
	if forUpdate {
		query += ` FOR UPDATE`
	}
	p, err := scanProposal(q.QueryRow(ctx, query, id))
	if errors.Is(err, pgx.ErrNoRows) {
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
	p, err := findProposal(ctx, db.pool, id, false)
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
	args := []any{limit}
	switch status {
	case "":
		where = `TRUE`
	case selo.ProposalExpired:
		where = `status IN ('pending', 'approved') AND expires_at <= $2`
		args = append(args, micro(now))
	case selo.ProposalPending, selo.ProposalApproved:
		where = `status = $2 AND expires_at > $3`
		args = append(args, string(status), micro(now))
	case selo.ProposalRejected, selo.ProposalExecuting, selo.ProposalExecuted, selo.ProposalFailed:
		where = `status = $2`
		args = append(args, string(status))
	default:
		return nil, selo.Errorf(selo.EINVALID, "unknown proposal status %q", status)
	}
	rows, err := db.pool.Query(ctx, `SELECT `+proposalColumns+` FROM proposals WHERE `+where+`
		ORDER BY proposed_at DESC, id DESC LIMIT $1`, args...)
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
	now = micro(now)
	var out *selo.Proposal
	err := db.update(ctx, "decide proposal", audit, func(tx *Tx) error {
		p, err := findProposal(ctx, tx, id, true)
		if err != nil {
			return err
		}
		if err := check.Decidable(p, to, by, now); err != nil {
			return err
		}
		res, err := tx.Exec(ctx, `UPDATE proposals SET status = $1, decided_by = $2, decided_at = $3, comment = $4
			WHERE id = $5 AND status = 'pending' AND expires_at > $3 AND ($1 = 'rejected' OR proposed_by <> $2)`,
			string(to), by, now, comment, id)
		if err := wantOneRow(res, err, "pending proposal", id); err != nil {
			return err
		}
		out, err = findProposal(ctx, tx, id, false)
		return err
	})
	return out, err
}

// ClaimProposal moves an approved, unexpired proposal to executing, once.
func (db *DB) ClaimProposal(ctx context.Context, id, by string, now time.Time, audit *selo.AuditEntry) (*selo.Proposal, error) {
	now = micro(now)
	var out *selo.Proposal
	err := db.update(ctx, "claim proposal", audit, func(tx *Tx) error {
		p, err := findProposal(ctx, tx, id, true)
		if err != nil {
			return err
		}
		if err := check.Claimable(p, now); err != nil {
			return err
		}
		res, err := tx.Exec(ctx, `UPDATE proposals SET status = 'executing', executed_by = $1, executed_at = $2
			WHERE id = $3 AND status = 'approved' AND expires_at > $2`, by, now, id)
		if err := wantOneRow(res, err, "approved proposal", id); err != nil {
			return err
		}
		out, err = findProposal(ctx, tx, id, false)
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
		res, err := tx.Exec(ctx, `UPDATE proposals SET status = $1, result = $2 WHERE id = $3 AND status = 'executing'`,
			string(to), result, id)
		if err := wantOneRow(res, err, "proposal being executed", id); err != nil {
			return selo.Errorf(selo.ECONFLICT, "proposal %s is not being executed", id)
		}
		return nil
	})
}
