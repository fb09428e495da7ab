package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/store/internal/check"
)

// accountColumns is the column list every account query selects, in the
// order scanAccount reads.
const accountColumns = `id, email, name, mobile, password_hash, failed_logins, locked_until, lockouts, disabled, created_at`

// CreateAccount inserts a and appends audit in one transaction; ECONFLICT
// when the ID or the e-mail (compared lower-cased) exists. A zero CreatedAt
// is set from the store's clock.
func (db *DB) CreateAccount(ctx context.Context, a *selo.Account, audit *selo.AuditEntry) error {
	if err := check.Account(a); err != nil {
		return err
	}
	if audit == nil {
		return check.ErrNoAudit
	}
	tx, err := db.beginTx(ctx)
	if err != nil {
		return err
	}
	defer tx.rollback()
	if a.CreatedAt.IsZero() {
		a.CreatedAt = tx.now
	}
	a.CreatedAt = micro(a.CreatedAt)
	a.LockedUntil = micro0(a.LockedUntil)
	_, err = tx.Exec(ctx, `INSERT INTO accounts (id, email, email_key, name, mobile, password_hash,
		failed_logins, locked_until, lockouts, disabled, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		a.ID, a.Email, check.EmailKey(a.Email), a.Name, a.Mobile, a.PasswordHash,
		a.FailedLogins, nullTime(a.LockedUntil), a.Lockouts, a.Disabled, a.CreatedAt)
	if isUniqueViolation(err) {
		return selo.Errorf(selo.ECONFLICT, "an account with this ID or e-mail address already exists")
	} else if err != nil {
		return fmt.Errorf("insert account %s: %w", a.ID, err)
	}
	if err := appendAudit(ctx, tx, audit); err != nil {
		return err
	}
	return tx.commit(ctx, "create account")
}

// FindAccount returns the account with this ID, or ENOTFOUND.
func (db *DB) FindAccount(ctx context.Context, id string) (*selo.Account, error) {
	return scanAccount(db.pool.QueryRow(ctx, `SELECT `+accountColumns+` FROM accounts WHERE id = $1`, id))
}

// FindAccountByEmail returns the account with this e-mail (any case), or
// ENOTFOUND.
func (db *DB) FindAccountByEmail(ctx context.Context, email string) (*selo.Account, error) {
	return scanAccount(db.pool.QueryRow(ctx, `SELECT `+accountColumns+` FROM accounts WHERE email_key = $1`, check.EmailKey(email)))
}

// RecordLoginFailure counts a wrong password. The UPDATE that counts it
// locks the row until commit, so concurrent failures count one after another
// and exactly one of them reaches the limit.
func (db *DB) RecordLoginFailure(ctx context.Context, accountID string, now time.Time, maxFailures int,
	lockFor func(lockouts int) time.Duration, audit *selo.AuditEntry) (*selo.LoginAttempt, error) {
	if err := check.Lockout(maxFailures, lockFor); err != nil {
		return nil, err
	}
	if audit == nil {
		return nil, check.ErrNoAudit
	}
	tx, err := db.beginTx(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.rollback()
	var at selo.LoginAttempt
	err = tx.QueryRow(ctx, `UPDATE accounts SET failed_logins = failed_logins + 1 WHERE id = $1
		RETURNING failed_logins, lockouts`, accountID).Scan(&at.FailedLogins, &at.Lockouts)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, selo.Errorf(selo.ENOTFOUND, "account %s not found", accountID)
	} else if err != nil {
		return nil, fmt.Errorf("count login failure of %s: %w", accountID, err)
	}
	if at.FailedLogins >= maxFailures {
		at.FailedLogins = 0
		at.Lockouts++
		at.LockedUntil = micro0(now.Add(lockFor(at.Lockouts)))
		if _, err := tx.Exec(ctx, `UPDATE accounts SET failed_logins = 0, lockouts = $1, locked_until = $2 WHERE id = $3`,
			at.Lockouts, at.LockedUntil, accountID); err != nil {
			return nil, fmt.Errorf("lock account %s: %w", accountID, err)
		}
	}
	if err := appendAudit(ctx, tx, audit); err != nil {
		return nil, err
	}
	if err := tx.commit(ctx, "record login failure"); err != nil {
		return nil, err
	}
	return &at, nil
}

// CreateSession resets FailedLogins of the session's account and stores the
// session, with its audit entry, atomically; ENOTFOUND when the account does
// not exist, ECONFLICT when the token hash does. A zero CreatedAt is set from
// the store's clock.
func (db *DB) CreateSession(ctx context.Context, s *selo.Session, audit *selo.AuditEntry) error {
	if err := check.Session(s); err != nil {
		return err
	}
	if audit == nil {
		return check.ErrNoAudit
	}
	tx, err := db.beginTx(ctx)
	if err != nil {
		return err
	}
	defer tx.rollback()
	if s.CreatedAt.IsZero() {
		s.CreatedAt = tx.now
	}
	s.CreatedAt, s.ExpiresAt = micro0(s.CreatedAt), micro0(s.ExpiresAt)
	res, err := tx.Exec(ctx, `UPDATE accounts SET failed_logins = 0 WHERE id = $1`, s.AccountID)
	if err := wantOneRow(res, err, "account", s.AccountID); err != nil {
		return err
	}
	if s.Scope == "" {
		s.Scope = selo.SessionCSC
	}
	_, err = tx.Exec(ctx, `INSERT INTO sessions (token_hash, account_id, scope, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)`,
		s.TokenHash, s.AccountID, string(s.Scope), s.CreatedAt, s.ExpiresAt)
	if isUniqueViolation(err) {
		// The message names no hash: it is derived from a secret.
		return selo.Errorf(selo.ECONFLICT, "a session with this token already exists")
	} else if err != nil {
		return fmt.Errorf("insert session: %w", err)
	}
	if err := appendAudit(ctx, tx, audit); err != nil {
		return err
	}
	return tx.commit(ctx, "create session")
}

// FindSession returns the session with this token hash, or ENOTFOUND (also
// when it has expired at now).
func (db *DB) FindSession(ctx context.Context, tokenHash string, now time.Time) (*selo.Session, error) {
	s := selo.Session{TokenHash: tokenHash}
	err := db.pool.QueryRow(ctx, `SELECT account_id, scope, created_at, expires_at FROM sessions
		WHERE token_hash = $1 AND expires_at > $2`, tokenHash, now).Scan(&s.AccountID, &s.Scope, &s.CreatedAt, &s.ExpiresAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, selo.Errorf(selo.ENOTFOUND, "session not found")
	} else if err != nil {
		return nil, fmt.Errorf("find session: %w", err)
	}
	s.CreatedAt, s.ExpiresAt = s.CreatedAt.UTC(), s.ExpiresAt.UTC()
	return &s, nil
}

// DeleteSession removes a session with its audit entry; ENOTFOUND when absent.
func (db *DB) DeleteSession(ctx context.Context, tokenHash string, audit *selo.AuditEntry) error {
	if audit == nil {
		return check.ErrNoAudit
	}
	tx, err := db.beginTx(ctx)
	if err != nil {
		return err
	}
	defer tx.rollback()
	res, err := tx.Exec(ctx, `DELETE FROM sessions WHERE token_hash = $1`, tokenHash)
	if err := wantOneRow(res, err, "session", ""); err != nil {
		return err
	}
	if err := appendAudit(ctx, tx, audit); err != nil {
		return err
	}
	return tx.commit(ctx, "delete session")
}

// UpdateAccountPassword replaces the password hash, clears FailedLogins and
// re-enables a disabled account (an account made without a password is
// enabled when its holder sets one); a running lockout stays. ENOTFOUND when
// the account does not exist.
func (db *DB) UpdateAccountPassword(ctx context.Context, accountID, passwordHash string, audit *selo.AuditEntry) error {
	if passwordHash == "" {
		return selo.Errorf(selo.EINVALID, "no password hash given")
	}
	if audit == nil {
		return check.ErrNoAudit
	}
	tx, err := db.beginTx(ctx)
	if err != nil {
		return err
	}
	defer tx.rollback()
	res, err := tx.Exec(ctx, `UPDATE accounts SET password_hash = $1, failed_logins = 0, disabled = false WHERE id = $2`,
		passwordHash, accountID)
	if err := wantOneRow(res, err, "account", accountID); err != nil {
		return err
	}
	if err := appendAudit(ctx, tx, audit); err != nil {
		return err
	}
	return tx.commit(ctx, "update account password")
}

// scanAccount reads one row of accountColumns.
func scanAccount(row pgx.Row) (*selo.Account, error) {
	var a selo.Account
	var locked *time.Time
	err := row.Scan(&a.ID, &a.Email, &a.Name, &a.Mobile, &a.PasswordHash, &a.FailedLogins, &locked, &a.Lockouts, &a.Disabled, &a.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, selo.Errorf(selo.ENOTFOUND, "account not found")
	} else if err != nil {
		return nil, fmt.Errorf("read account: %w", err)
	}
	a.LockedUntil, a.CreatedAt = fromNullTime(locked), a.CreatedAt.UTC()
	return &a, nil
}

// micro0 is micro that keeps the zero time zero.
func micro0(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return micro(t)
}

// wantOneRow turns the result of an UPDATE or DELETE of one row by its key
// into ENOTFOUND when no row matched. id may be "" when it must not be shown
// (it is derived from a secret).
func wantOneRow(res pgconn.CommandTag, err error, what, id string) error {
	if err != nil {
		return fmt.Errorf("write %s %s: %w", what, id, err)
	}
	if res.RowsAffected() == 0 {
		if id == "" {
			return selo.Errorf(selo.ENOTFOUND, "%s not found", what)
		}
		return selo.Errorf(selo.ENOTFOUND, "%s %s not found", what, id)
	}
	return nil
}
