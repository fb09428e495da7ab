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

// credentialColumns is the column list every credential query selects, in
// the order scanCredential reads.
const credentialColumns = `id, account_id, key_id, key_algorithm, certificate_serial, profile, approval_type,
	mobile, description, status, failed_approvals, locked_until, lockouts, created_at`

// findCredentialSQL reads one credential by ID.
const findCredentialSQL = `SELECT ` + credentialColumns + ` FROM credentials WHERE id = ?`

// CreateCredential inserts c and appends audit in one transaction; ECONFLICT
// when the ID exists, ENOTFOUND when its account (or its certificate, when
// given) does not. An empty Mobile is set to the account's, an empty Status
// to active and a zero CreatedAt from the store's clock.
func (db *DB) CreateCredential(ctx context.Context, c *selo.Credential, audit *selo.AuditEntry) error {
	if err := check.Credential(c); err != nil {
		return err
	}
	if audit == nil {
		return check.ErrNoAudit
	}
	tx, err := db.beginTx(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var mobile string
	err = tx.QueryRowContext(ctx, `SELECT mobile FROM accounts WHERE id = ?`, c.AccountID).Scan(&mobile)
	if errors.Is(err, sql.ErrNoRows) {
		return selo.Errorf(selo.ENOTFOUND, "account %s not found", c.AccountID)
	} else if err != nil {
		return fmt.Errorf("read account %s: %w", c.AccountID, err)
	}
	if c.Mobile == "" {
		c.Mobile = mobile
	}
	if c.CreatedAt.IsZero() {
		c.CreatedAt = tx.now
	}
	c.CreatedAt, c.LockedUntil = stored(c.CreatedAt), stored(c.LockedUntil)
	_, err = tx.ExecContext(ctx, `INSERT INTO credentials (`+credentialColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		c.ID, c.AccountID, c.KeyID, string(c.KeyAlgorithm), nullString(c.CertificateSerial), c.Profile, string(c.ApprovalType),
		c.Mobile, c.Description, string(c.Status), c.FailedApprovals, nullMicros(c.LockedUntil), c.Lockouts, toMicros(c.CreatedAt))
	if isUniqueViolation(err) {
		return selo.Errorf(selo.ECONFLICT, "credential %s already exists", c.ID)
	} else if isForeignKeyViolation(err) {
		return selo.Errorf(selo.ENOTFOUND, "certificate %s not found", c.CertificateSerial)
	} else if err != nil {
		return fmt.Errorf("insert credential %s: %w", c.ID, err)
	}
	if err := appendAudit(ctx, tx, audit); err != nil {
		return err
	}
	return tx.commit("create credential")
}

// FindCredential returns the credential with this ID, or ENOTFOUND.
func (db *DB) FindCredential(ctx context.Context, id string) (*selo.Credential, error) {
	c, err := scanCredential(db.readRow(ctx, findCredentialSQL, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, selo.Errorf(selo.ENOTFOUND, "credential %s not found", id)
	}
	return c, err
}

// ListCredentials returns the credentials of one account, oldest first.
func (db *DB) ListCredentials(ctx context.Context, accountID string) ([]*selo.Credential, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT `+credentialColumns+` FROM credentials
		WHERE account_id = ? ORDER BY created_at, id`, accountID)
	if err != nil {
		return nil, fmt.Errorf("list credentials: %w", err)
	}
	defer rows.Close()
	var list []*selo.Credential
	for rows.Next() {
		c, err := scanCredential(rows)
		if err != nil {
			return nil, err
		}
		list = append(list, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list credentials: %w", err)
	}
	return list, nil
}

// UpdateCredentialCertificate sets the credential's certificate serial, with
// its audit entry; ENOTFOUND when the credential or the certificate does not
// exist.
func (db *DB) UpdateCredentialCertificate(ctx context.Context, id, serial string, audit *selo.AuditEntry) error {
	if !check.Serial(serial) {
		return selo.Errorf(selo.EINVALID, "serial %q is not lower-case hex", serial)
	}
	if audit == nil {
		return check.ErrNoAudit
	}
	tx, err := db.beginTx(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `UPDATE credentials SET certificate_serial = ? WHERE id = ?`, serial, id)
	if isForeignKeyViolation(err) {
		return selo.Errorf(selo.ENOTFOUND, "certificate %s not found", serial)
	}
	if err := wantOneRow(res, err, "credential", id); err != nil {
		return err
	}
	if err := appendAudit(ctx, tx, audit); err != nil {
		return err
	}
	return tx.commit("update credential certificate")
}

// SetCredentialStatus enables or disables a credential, with its audit entry;
// ENOTFOUND when it does not exist.
func (db *DB) SetCredentialStatus(ctx context.Context, id string, status selo.CredentialStatus, audit *selo.AuditEntry) error {
	if err := check.CredentialStatus(status); err != nil {
		return err
	}
	if audit == nil {
		return check.ErrNoAudit
	}
	tx, err := db.beginTx(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `UPDATE credentials SET status = ? WHERE id = ?`, string(status), id)
	if err := wantOneRow(res, err, "credential", id); err != nil {
		return err
	}
	if status == selo.CredentialDisabled {
		if err := endApprovals(ctx, tx, "credential_id", id, tx.now); err != nil {
			return err
		}
	}
	if err := appendAudit(ctx, tx, audit); err != nil {
		return err
	}
	return tx.commit("set credential status")
}

// RecordApprovalFailure counts a wrong code. The writer's immediate
// transaction makes the read-increment-lock sequence atomic.
func (db *DB) RecordApprovalFailure(ctx context.Context, credentialID string, now time.Time, maxFailures int,
	lockFor func(lockouts int) time.Duration, audit *selo.AuditEntry) (*selo.ApprovalFailure, error) {
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
	defer tx.Rollback()
	var f selo.ApprovalFailure
	err = tx.QueryRowContext(ctx, `UPDATE credentials SET failed_approvals = failed_approvals + 1 WHERE id = ?
		RETURNING failed_approvals, lockouts`, credentialID).Scan(&f.FailedApprovals, &f.Lockouts)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, selo.Errorf(selo.ENOTFOUND, "credential %s not found", credentialID)
	} else if err != nil {
		return nil, fmt.Errorf("count approval failure of %s: %w", credentialID, err)
	}
	if f.FailedApprovals >= maxFailures {
		f.FailedApprovals = 0
		f.Lockouts++
		f.LockedUntil = stored(now.Add(lockFor(f.Lockouts)))
		if _, err := tx.ExecContext(ctx, `UPDATE credentials SET failed_approvals = 0, lockouts = ?, locked_until = ? WHERE id = ?`,
			f.Lockouts, toMicros(f.LockedUntil), credentialID); err != nil {
			return nil, fmt.Errorf("lock credential %s: %w", credentialID, err)
		}
	}
	if err := appendAudit(ctx, tx, audit); err != nil {
		return nil, err
	}
	if err := tx.commit("record approval failure"); err != nil {
		return nil, err
	}
	return &f, nil
}

// ResetApprovalFailures clears FailedApprovals after a good approval;
// ENOTFOUND when the credential does not exist.
func (db *DB) ResetApprovalFailures(ctx context.Context, credentialID string) error {
	res, err := db.write.ExecContext(ctx, `UPDATE credentials SET failed_approvals = 0 WHERE id = ?`, credentialID)
	return wantOneRow(res, err, "credential", credentialID)
}

// rowScanner is a *sql.Row or *sql.Rows.
type rowScanner interface{ Scan(dest ...any) error }

// scanCredential reads one row of credentialColumns; it returns
// sql.ErrNoRows as is.
func scanCredential(row rowScanner) (*selo.Credential, error) {
	var c selo.Credential
	var serial sql.NullString
	var locked sql.NullInt64
	var created int64
	err := row.Scan(&c.ID, &c.AccountID, &c.KeyID, &c.KeyAlgorithm, &serial, &c.Profile, &c.ApprovalType,
		&c.Mobile, &c.Description, &c.Status, &c.FailedApprovals, &locked, &c.Lockouts, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, err
	} else if err != nil {
		return nil, fmt.Errorf("read credential: %w", err)
	}
	c.CertificateSerial = serial.String
	c.LockedUntil, c.CreatedAt = fromNullMicros(locked), fromMicros(created)
	return &c, nil
}

// nullString encodes a string that may be unset: NULL for "".
func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}
