package sqlite

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/store/internal/check"
)

// SetAccountDisabled disables or enables an account with its audit entry.
// Disabling deletes the account's sessions, marks its unused SADs used at
// now and its pending or approved approvals dead, in the same transaction.
// ENOTFOUND when the account does not exist.
func (db *DB) SetAccountDisabled(ctx context.Context, accountID string, disabled bool, now time.Time, audit *selo.AuditEntry) error {
	return db.update(ctx, "set account disabled", audit, func(tx *Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE accounts SET disabled = ? WHERE id = ?`, disabled, accountID)
		if err := wantOneRow(res, err, "account", accountID); err != nil {
			return err
		}
		if !disabled {
			return nil
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE account_id = ?`, accountID); err != nil {
			return fmt.Errorf("end sessions of account %s: %w", accountID, err)
		}
		return endApprovals(ctx, tx, "account_id", accountID, now)
	})
}

// endApprovals marks the unused SADs of an account or credential (column
// names which) used at now and its pending or approved approvals dead.
func endApprovals(ctx context.Context, tx *Tx, column, id string, now time.Time) error {
	if column != "account_id" && column != "credential_id" {
		return fmt.Errorf("end approvals by %q", column)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE signature_activations SET used_at = ? WHERE `+column+` = ? AND used_at IS NULL`,
		toMicros(now), id); err != nil {
		return fmt.Errorf("end SADs of %s: %w", id, err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE approvals SET status = 'dead', decided_at = ? WHERE `+column+` = ?
		AND status IN ('pending', 'approved')`, toMicros(now), id); err != nil {
		return fmt.Errorf("end approvals of %s: %w", id, err)
	}
	return nil
}

// RecordAuthenticatorFailure counts a wrong authenticator code against every
// confirmed authenticator of the account. The writer's immediate transaction
// makes the read-increment-lock sequence atomic.
func (db *DB) RecordAuthenticatorFailure(ctx context.Context, accountID string, now time.Time, maxFailures int,
	lockFor func(lockouts int) time.Duration, audit *selo.AuditEntry) (*selo.ApprovalFailure, error) {
	if err := check.Lockout(maxFailures, lockFor); err != nil {
		return nil, err
	}
	var worst selo.ApprovalFailure
	err := db.update(ctx, "record authenticator failure", audit, func(tx *Tx) error {
		rows, err := tx.QueryContext(ctx, `UPDATE authenticators SET failed_approvals = failed_approvals + 1
			WHERE account_id = ? AND confirmed = 1 RETURNING id, failed_approvals, lockouts`, accountID)
		if err != nil {
			return fmt.Errorf("count authenticator failure of %s: %w", accountID, err)
		}
		type counted struct {
			id               string
			failed, lockouts int
		}
		var all []counted
		for rows.Next() {
			var c counted
			if err := rows.Scan(&c.id, &c.failed, &c.lockouts); err != nil {
				rows.Close()
				return fmt.Errorf("count authenticator failure of %s: %w", accountID, err)
			}
			all = append(all, c)
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return fmt.Errorf("count authenticator failure of %s: %w", accountID, err)
		}
		for _, c := range all {
			f := selo.ApprovalFailure{FailedApprovals: c.failed, Lockouts: c.lockouts}
			if c.failed >= maxFailures {
				f.FailedApprovals = 0
				f.Lockouts++
				f.LockedUntil = stored(now.Add(lockFor(f.Lockouts)))
				if _, err := tx.ExecContext(ctx, `UPDATE authenticators SET failed_approvals = 0, lockouts = ?, locked_until = ? WHERE id = ?`,
					f.Lockouts, toMicros(f.LockedUntil), c.id); err != nil {
					return fmt.Errorf("lock authenticator %s: %w", c.id, err)
				}
			}
			if f.LockedUntil.After(worst.LockedUntil) || (worst.LockedUntil.IsZero() && f.FailedApprovals > worst.FailedApprovals) {
				worst = f
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &worst, nil
}

// ResetAuthenticatorFailures clears FailedApprovals of the account's authenticators.
func (db *DB) ResetAuthenticatorFailures(ctx context.Context, accountID string) error {
	if _, err := db.write.ExecContext(ctx, `UPDATE authenticators SET failed_approvals = 0 WHERE account_id = ?`, accountID); err != nil {
		return fmt.Errorf("reset authenticator failures of %s: %w", accountID, err)
	}
	return nil
}
