package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/store/internal/check"
	"github.com/selo-qtsp/selo/store/internal/hashlist"
)

// Column lists, in the order the matching scan function reads.
const (
	authenticatorColumns = `id, account_id, name, sealed_secret, otp_algorithm, otp_digits, otp_period,
		last_step, confirmed, created_at, failed_approvals, locked_until, lockouts`
	walletColumns     = `id, account_id, name, public_key, disabled, created_at`
	authorizerColumns = `id, credential_id, account_id, name, sealed_secret, otp_algorithm, otp_digits, otp_period,
		last_step, enabled, confirmed, created_at`
	approvalColumns = `id, account_id, credential_id, purpose, type, hash_algorithm_oid, hashes, description,
		code_hash, wallet_id, subject, failures, status, created_at, expires_at, decided_at`
	signatureActivationColumns = `sad_hash, account_id, credential_id, hash_algorithm_oid, hashes,
		created_at, expires_at, used_at, authorizer_id`
)

// CreateAuthenticator inserts a and appends audit in one transaction;
// ECONFLICT when the ID exists, ENOTFOUND when the account does not. A zero
// CreatedAt is set from the store's clock.
func (db *DB) CreateAuthenticator(ctx context.Context, a *selo.Authenticator, audit *selo.AuditEntry) error {
	if err := check.Authenticator(a); err != nil {
		return err
	}
	return db.create(ctx, "authenticator", a.ID, audit, func(tx *Tx) error {
		if a.CreatedAt.IsZero() {
			a.CreatedAt = tx.now
		}
		a.CreatedAt, a.LockedUntil = stored(a.CreatedAt), stored(a.LockedUntil)
		_, err := tx.ExecContext(ctx, `INSERT INTO authenticators (`+authenticatorColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			a.ID, a.AccountID, a.Name, a.SealedSecret, a.Settings.Algorithm, a.Settings.Digits, a.Settings.Period,
			a.LastStep, a.Confirmed, toMicros(a.CreatedAt), a.FailedApprovals, nullMicros(a.LockedUntil), a.Lockouts)
		return createError(err, "authenticator", a.ID, "account "+a.AccountID)
	})
}

// FindAuthenticator returns the authenticator with this ID, or ENOTFOUND.
func (db *DB) FindAuthenticator(ctx context.Context, id string) (*selo.Authenticator, error) {
	a, err := scanAuthenticator(db.read.QueryRowContext(ctx, `SELECT `+authenticatorColumns+` FROM authenticators WHERE id = ?`, id))
	return a, notFound(err, "authenticator", id)
}

// ListAuthenticators returns an account's authenticators, oldest first.
func (db *DB) ListAuthenticators(ctx context.Context, accountID string) ([]*selo.Authenticator, error) {
	return list(ctx, db.read, "authenticators", scanAuthenticator, `SELECT `+authenticatorColumns+` FROM authenticators
		WHERE account_id = ? ORDER BY created_at, id`, accountID)
}

// AdvanceAuthenticatorStep sets LastStep = step only if step > LastStep, and
// marks the authenticator confirmed when confirm is set (never unconfirms);
// false when a code of that step or later was already used: a replay.
// ENOTFOUND when the authenticator does not exist.
func (db *DB) AdvanceAuthenticatorStep(ctx context.Context, id string, step int64, confirm bool) (bool, error) {
	res, err := db.write.ExecContext(ctx, `UPDATE authenticators SET last_step = ?, confirmed = (confirmed OR ?)
		WHERE id = ? AND last_step < ?`, step, confirm, id, step)
	return db.advanced(ctx, res, err, "authenticators", "authenticator", id)
}

// DeleteAuthenticator removes an authenticator with its audit entry;
// ENOTFOUND when absent.
func (db *DB) DeleteAuthenticator(ctx context.Context, id string, audit *selo.AuditEntry) error {
	return db.update(ctx, "delete authenticator", audit, func(tx *Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM authenticators WHERE id = ?`, id)
		return wantOneRow(res, err, "authenticator", id)
	})
}

// CreateWalletEnrollment inserts e and appends audit in one transaction;
// ECONFLICT when the ID exists, ENOTFOUND when the account does not. Used is
// stored as given (false for a new enrolment); a zero CreatedAt is set from
// the store's clock.
func (db *DB) CreateWalletEnrollment(ctx context.Context, e *selo.WalletEnrollment, audit *selo.AuditEntry) error {
	if err := check.WalletEnrollment(e); err != nil {
		return err
	}
	return db.create(ctx, "wallet enrolment", e.ID, audit, func(tx *Tx) error {
		if e.CreatedAt.IsZero() {
			e.CreatedAt = tx.now
		}
		e.CreatedAt, e.ExpiresAt = stored(e.CreatedAt), stored(e.ExpiresAt)
		_, err := tx.ExecContext(ctx, `INSERT INTO wallet_enrollments (id, account_id, sealed_secret, expires_at, used, created_at)
			VALUES (?, ?, ?, ?, ?, ?)`, e.ID, e.AccountID, e.SealedSecret, toMicros(e.ExpiresAt), e.Used, toMicros(e.CreatedAt))
		return createError(err, "wallet enrolment", e.ID, "account "+e.AccountID)
	})
}

// FindWalletEnrollment returns the enrolment with this ID, or ENOTFOUND.
func (db *DB) FindWalletEnrollment(ctx context.Context, id string) (*selo.WalletEnrollment, error) {
	var e selo.WalletEnrollment
	var expires, created int64
	err := db.read.QueryRowContext(ctx, `SELECT id, account_id, sealed_secret, expires_at, used, created_at
		FROM wallet_enrollments WHERE id = ?`, id).Scan(&e.ID, &e.AccountID, &e.SealedSecret, &expires, &e.Used, &created)
	if err != nil {
		return nil, notFound(fmt.Errorf("read wallet enrolment: %w", err), "wallet enrolment", id)
	}
	e.ExpiresAt, e.CreatedAt = fromMicros(expires), fromMicros(created)
	return &e, nil
}

// CompleteWalletEnrollment marks the enrolment used and stores the wallet,
// with its audit entry, atomically; ECONFLICT when the enrolment was already
// used (or the wallet ID exists), ENOTFOUND when the enrolment does not
// exist. An empty w.AccountID is set to the enrolment's; another account is
// EINVALID. The caller checks ExpiresAt: the store does not read the time.
func (db *DB) CompleteWalletEnrollment(ctx context.Context, enrollmentID string, w *selo.Wallet, audit *selo.AuditEntry) error {
	if err := check.Wallet(w); err != nil {
		return err
	}
	return db.update(ctx, "complete wallet enrolment", audit, func(tx *Tx) error {
		var accountID string
		var used bool
		err := tx.QueryRowContext(ctx, `SELECT account_id, used FROM wallet_enrollments WHERE id = ?`, enrollmentID).Scan(&accountID, &used)
		if errors.Is(err, sql.ErrNoRows) {
			return selo.Errorf(selo.ENOTFOUND, "wallet enrolment %s not found", enrollmentID)
		} else if err != nil {
			return fmt.Errorf("read wallet enrolment %s: %w", enrollmentID, err)
		}
		if used {
			return selo.Errorf(selo.ECONFLICT, "wallet enrolment %s was already used", enrollmentID)
		}
		if w.AccountID == "" {
			w.AccountID = accountID
		}
		if w.AccountID != accountID {
			return selo.Errorf(selo.EINVALID, "wallet %s belongs to another account than enrolment %s", w.ID, enrollmentID)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE wallet_enrollments SET used = 1 WHERE id = ?`, enrollmentID); err != nil {
			return fmt.Errorf("use wallet enrolment %s: %w", enrollmentID, err)
		}
		if w.CreatedAt.IsZero() {
			w.CreatedAt = tx.now
		}
		w.CreatedAt = stored(w.CreatedAt)
		_, err = tx.ExecContext(ctx, `INSERT INTO wallets (id, account_id, enrollment_id, name, public_key, disabled, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, w.ID, w.AccountID, enrollmentID, w.Name, w.PublicKey, w.Disabled, toMicros(w.CreatedAt))
		return createError(err, "wallet", w.ID, "enrolment "+enrollmentID)
	})
}

// FindWallet returns the wallet with this ID, or ENOTFOUND.
func (db *DB) FindWallet(ctx context.Context, id string) (*selo.Wallet, error) {
	w, err := scanWallet(db.read.QueryRowContext(ctx, `SELECT `+walletColumns+` FROM wallets WHERE id = ?`, id))
	return w, notFound(err, "wallet", id)
}

// ListWallets returns an account's wallets, oldest first.
func (db *DB) ListWallets(ctx context.Context, accountID string) ([]*selo.Wallet, error) {
	return list(ctx, db.read, "wallets", scanWallet, `SELECT `+walletColumns+` FROM wallets
		WHERE account_id = ? ORDER BY created_at, id`, accountID)
}

// DeleteWallet removes a wallet with its audit entry; ENOTFOUND when absent.
// Approvals it answered keep its ID.
func (db *DB) DeleteWallet(ctx context.Context, id string, audit *selo.AuditEntry) error {
	return db.update(ctx, "delete wallet", audit, func(tx *Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM wallets WHERE id = ?`, id)
		return wantOneRow(res, err, "wallet", id)
	})
}

// CreateAuthorizer inserts a and appends audit in one transaction. The
// credential must exist and belong to a.AccountID (set from the credential
// when empty), else ENOTFOUND, and be an e-seal (profile qualified-seal),
// else EINVALID; ECONFLICT when the ID, or the name on this credential,
// exists. A zero CreatedAt is set from the store's clock.
func (db *DB) CreateAuthorizer(ctx context.Context, a *selo.Authorizer, audit *selo.AuditEntry) error {
	if err := check.Authorizer(a); err != nil {
		return err
	}
	return db.create(ctx, "authorizer", a.ID, audit, func(tx *Tx) error {
		var accountID, profile string
		err := tx.QueryRowContext(ctx, `SELECT account_id, profile FROM credentials WHERE id = ?`, a.CredentialID).Scan(&accountID, &profile)
		if errors.Is(err, sql.ErrNoRows) || (err == nil && a.AccountID != "" && a.AccountID != accountID) {
			return selo.Errorf(selo.ENOTFOUND, "credential %s not found", a.CredentialID)
		} else if err != nil {
			return fmt.Errorf("read credential %s: %w", a.CredentialID, err)
		}
		if profile != "qualified-seal" {
			return selo.Errorf(selo.EINVALID, "credential %s is not an e-seal: authorizers approve only e-seal credentials", a.CredentialID)
		}
		a.AccountID = accountID
		if a.CreatedAt.IsZero() {
			a.CreatedAt = tx.now
		}
		a.CreatedAt = stored(a.CreatedAt)
		_, err = tx.ExecContext(ctx, `INSERT INTO authorizers (`+authorizerColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			a.ID, a.CredentialID, a.AccountID, a.Name, a.SealedSecret, a.Settings.Algorithm, a.Settings.Digits, a.Settings.Period,
			a.LastStep, a.Enabled, a.Confirmed, toMicros(a.CreatedAt))
		if isUniqueViolation(err) {
			return selo.Errorf(selo.ECONFLICT, "an authorizer with ID %s or named %q on credential %s already exists", a.ID, a.Name, a.CredentialID)
		}
		return createError(err, "authorizer", a.ID, "credential "+a.CredentialID)
	})
}

// FindAuthorizer returns the authorizer with this ID, or ENOTFOUND.
func (db *DB) FindAuthorizer(ctx context.Context, id string) (*selo.Authorizer, error) {
	a, err := scanAuthorizer(db.read.QueryRowContext(ctx, `SELECT `+authorizerColumns+` FROM authorizers WHERE id = ?`, id))
	return a, notFound(err, "authorizer", id)
}

// ListAuthorizers returns a credential's authorizers, oldest first.
func (db *DB) ListAuthorizers(ctx context.Context, credentialID string) ([]*selo.Authorizer, error) {
	return list(ctx, db.read, "authorizers", scanAuthorizer, `SELECT `+authorizerColumns+` FROM authorizers
		WHERE credential_id = ? ORDER BY created_at, id`, credentialID)
}

// ConfirmAuthorizer marks it confirmed and enabled and stores its first
// authorization (whose AuthorizerID is set to id when empty), with the audit
// entry, atomically; ENOTFOUND when it does not exist, ECONFLICT when it was
// already confirmed.
func (db *DB) ConfirmAuthorizer(ctx context.Context, id string, first *selo.Authorization, audit *selo.AuditEntry) error {
	if first != nil && first.AuthorizerID == "" {
		first.AuthorizerID = id
	}
	if err := check.Authorization(first); err != nil {
		return err
	}
	if first.AuthorizerID != id {
		return selo.Errorf(selo.EINVALID, "authorization %s is for authorizer %s, not %s", first.ID, first.AuthorizerID, id)
	}
	return db.update(ctx, "confirm authorizer", audit, func(tx *Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE authorizers SET confirmed = 1, enabled = 1 WHERE id = ? AND confirmed = 0`, id)
		if err := wantOneRow(res, err, "authorizer", id); err != nil {
			if selo.ErrorCode(err) == selo.ENOTFOUND && exists(ctx, tx, `SELECT 1 FROM authorizers WHERE id = ?`, id) {
				return selo.Errorf(selo.ECONFLICT, "authorizer %s is already confirmed", id)
			}
			return err
		}
		return insertAuthorization(ctx, tx, first)
	})
}

// SetAuthorizerEnabled enables or disables an authorizer, with its audit
// entry; ENOTFOUND when it does not exist, ECONFLICT when enabling one not
// yet confirmed.
func (db *DB) SetAuthorizerEnabled(ctx context.Context, id string, enabled bool, now time.Time, audit *selo.AuditEntry) error {
	return db.update(ctx, "set authorizer enabled", audit, func(tx *Tx) error {
		var confirmed bool
		err := tx.QueryRowContext(ctx, `SELECT confirmed FROM authorizers WHERE id = ?`, id).Scan(&confirmed)
		if errors.Is(err, sql.ErrNoRows) {
			return selo.Errorf(selo.ENOTFOUND, "authorizer %s not found", id)
		} else if err != nil {
			return fmt.Errorf("read authorizer %s: %w", id, err)
		}
		if enabled && !confirmed {
			return selo.Errorf(selo.ECONFLICT, "authorizer %s is not confirmed yet", id)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE authorizers SET enabled = ? WHERE id = ?`, enabled, id); err != nil {
			return fmt.Errorf("set authorizer %s enabled: %w", id, err)
		}
		if !enabled {
			if _, err := tx.ExecContext(ctx, `UPDATE signature_activations SET used_at = ? WHERE authorizer_id = ? AND used_at IS NULL`,
				toMicros(now), id); err != nil {
				return fmt.Errorf("end SADs of authorizer %s: %w", id, err)
			}
		}
		return nil
	})
}

// AdvanceAuthorizerStep is AdvanceAuthenticatorStep for authorizer codes.
func (db *DB) AdvanceAuthorizerStep(ctx context.Context, id string, step int64) (bool, error) {
	res, err := db.write.ExecContext(ctx, `UPDATE authorizers SET last_step = ? WHERE id = ? AND last_step < ?`, step, id, step)
	return db.advanced(ctx, res, err, "authorizers", "authorizer", id)
}

// CreateAuthorization inserts a and appends audit in one transaction;
// ECONFLICT when the ID exists, ENOTFOUND when the authorizer does not. A
// zero CreatedAt is set from the store's clock.
func (db *DB) CreateAuthorization(ctx context.Context, a *selo.Authorization, audit *selo.AuditEntry) error {
	if err := check.Authorization(a); err != nil {
		return err
	}
	return db.create(ctx, "authorization", a.ID, audit, func(tx *Tx) error {
		return insertAuthorization(ctx, tx, a)
	})
}

// insertAuthorization inserts a inside tx.
func insertAuthorization(ctx context.Context, tx *Tx, a *selo.Authorization) error {
	if a.CreatedAt.IsZero() {
		a.CreatedAt = tx.now
	}
	a.CreatedAt, a.NotBefore, a.NotAfter = stored(a.CreatedAt), stored(a.NotBefore), stored(a.NotAfter)
	_, err := tx.ExecContext(ctx, `INSERT INTO authorizations (id, authorizer_id, not_before, not_after, created_at)
		VALUES (?, ?, ?, ?, ?)`, a.ID, a.AuthorizerID, toMicros(a.NotBefore), toMicros(a.NotAfter), toMicros(a.CreatedAt))
	return createError(err, "authorization", a.ID, "authorizer "+a.AuthorizerID)
}

// ListAuthorizations returns an authorizer's authorizations, newest (last
// created) first.
func (db *DB) ListAuthorizations(ctx context.Context, authorizerID string) ([]*selo.Authorization, error) {
	return list(ctx, db.read, "authorizations", func(row rowScanner) (*selo.Authorization, error) {
		var a selo.Authorization
		var nb, na, created int64
		if err := row.Scan(&a.ID, &a.AuthorizerID, &nb, &na, &created); err != nil {
			return nil, err
		}
		a.NotBefore, a.NotAfter, a.CreatedAt = fromMicros(nb), fromMicros(na), fromMicros(created)
		return &a, nil
	}, `SELECT id, authorizer_id, not_before, not_after, created_at FROM authorizations
		WHERE authorizer_id = ? ORDER BY created_at DESC, not_after DESC, id DESC`, authorizerID)
}

// CreateApproval inserts a and appends audit in one transaction; ECONFLICT
// when the ID exists, ENOTFOUND when the account, or the credential in this
// account, does not. An empty Status is set to pending and a zero CreatedAt
// from the store's clock.
func (db *DB) CreateApproval(ctx context.Context, a *selo.Approval, audit *selo.AuditEntry) error {
	if err := check.Approval(a); err != nil {
		return err
	}
	return db.create(ctx, "approval", a.ID, audit, func(tx *Tx) error {
		if a.CreatedAt.IsZero() {
			a.CreatedAt = tx.now
		}
		a.CreatedAt, a.ExpiresAt, a.DecidedAt = stored(a.CreatedAt), stored(a.ExpiresAt), stored(a.DecidedAt)
		_, err := tx.ExecContext(ctx, `INSERT INTO approvals (`+approvalColumns+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			a.ID, a.AccountID, nullString(a.CredentialID), a.Purpose, string(a.Type), a.HashAlgorithmOID, hashlist.Encode(a.Hashes),
			a.Description, a.CodeHash, a.WalletID, a.Subject, a.Failures, string(a.Status),
			toMicros(a.CreatedAt), toMicros(a.ExpiresAt), nullMicros(a.DecidedAt))
		return createError(err, "approval", a.ID, "account "+a.AccountID+" or its credential "+a.CredentialID)
	})
}

// FindApproval returns the approval with this ID, or ENOTFOUND.
func (db *DB) FindApproval(ctx context.Context, id string) (*selo.Approval, error) {
	a, err := scanApproval(db.read.QueryRowContext(ctx, `SELECT `+approvalColumns+` FROM approvals WHERE id = ?`, id))
	return a, notFound(err, "approval", id)
}

// ListApprovals returns an account's approvals with this status, newest first.
func (db *DB) ListApprovals(ctx context.Context, accountID string, status selo.ApprovalStatus) ([]*selo.Approval, error) {
	return list(ctx, db.read, "approvals", scanApproval, `SELECT `+approvalColumns+` FROM approvals
		WHERE account_id = ? AND status = ? ORDER BY created_at DESC, id DESC`, accountID, string(status))
}

// DecideApproval moves a pending approval to status (approved, denied,
// expired, dead) or an approved one to consumed, setting DecidedAt (the
// store's clock when zero) and, when walletID is not empty, WalletID; with
// the audit entry, atomically. ECONFLICT when it is no longer pending (for
// consumed: no longer approved), and when approving or consuming it at or
// after its ExpiresAt. ENOTFOUND when it does not exist.
func (db *DB) DecideApproval(ctx context.Context, id string, status selo.ApprovalStatus, walletID string, decidedAt time.Time, audit *selo.AuditEntry) error {
	if err := check.Decision(status); err != nil {
		return err
	}
	return db.update(ctx, "decide approval", audit, func(tx *Tx) error {
		if decidedAt.IsZero() {
			decidedAt = tx.now
		}
		from := selo.ApprovalPending
		if status == selo.ApprovalConsumed {
			from = selo.ApprovalApproved
		}
		mustBeLive := status == selo.ApprovalApproved || status == selo.ApprovalConsumed
		res, err := tx.ExecContext(ctx, `UPDATE approvals SET status = ?, decided_at = ?,
			wallet_id = CASE WHEN ? = '' THEN wallet_id ELSE ? END
			WHERE id = ? AND status = ? AND (NOT ? OR expires_at > ?)`,
			string(status), toMicros(decidedAt), walletID, walletID, id, string(from), mustBeLive, toMicros(decidedAt))
		if err := wantOneRow(res, err, "approval", id); err != nil {
			if selo.ErrorCode(err) == selo.ENOTFOUND && exists(ctx, tx, `SELECT 1 FROM approvals WHERE id = ?`, id) {
				return selo.Errorf(selo.ECONFLICT, "approval %s is no longer %s or has expired", id, from)
			}
			return err
		}
		return nil
	})
}

// RecordApprovalCodeFailure increments Failures of a pending approval and
// returns the new count; at maxFailures it also marks it dead (DecidedAt from
// the store's clock). ENOTFOUND when it does not exist, ECONFLICT when it is
// no longer pending.
func (db *DB) RecordApprovalCodeFailure(ctx context.Context, id string, maxFailures int) (int, error) {
	if maxFailures <= 0 {
		return 0, selo.Errorf(selo.EINVALID, "a positive failure limit is needed")
	}
	var failures int
	err := db.write.QueryRowContext(ctx, `UPDATE approvals SET failures = failures + 1,
		status = CASE WHEN failures + 1 >= ? THEN 'dead' ELSE status END,
		decided_at = CASE WHEN failures + 1 >= ? THEN ? ELSE decided_at END
		WHERE id = ? AND status = 'pending' RETURNING failures`,
		maxFailures, maxFailures, toMicros(db.clock.Now()), id).Scan(&failures)
	if errors.Is(err, sql.ErrNoRows) {
		if exists(ctx, db.write, `SELECT 1 FROM approvals WHERE id = ?`, id) {
			return 0, selo.Errorf(selo.ECONFLICT, "approval %s is no longer pending", id)
		}
		return 0, selo.Errorf(selo.ENOTFOUND, "approval %s not found", id)
	} else if err != nil {
		return 0, fmt.Errorf("count code failure of approval %s: %w", id, err)
	}
	return failures, nil
}

// CreateSignatureActivation inserts s and appends audit in one transaction;
// ECONFLICT when the SAD hash exists, ENOTFOUND when the credential does not
// exist in s.AccountID. A zero CreatedAt is set from the store's clock.
func (db *DB) CreateSignatureActivation(ctx context.Context, s *selo.SignatureActivation, audit *selo.AuditEntry) error {
	if err := check.SignatureActivation(s); err != nil {
		return err
	}
	return db.create(ctx, "signature activation", "", audit, func(tx *Tx) error {
		if s.CreatedAt.IsZero() {
			s.CreatedAt = tx.now
		}
		s.CreatedAt, s.ExpiresAt = stored(s.CreatedAt), stored(s.ExpiresAt)
		_, err := tx.ExecContext(ctx, `INSERT INTO signature_activations (`+signatureActivationColumns+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, NULL, ?)`, s.SADHash, s.AccountID, s.CredentialID, s.HashAlgorithmOID,
			hashlist.Encode(s.Hashes), toMicros(s.CreatedAt), toMicros(s.ExpiresAt), s.AuthorizerID)
		// The messages name no SAD hash: it is derived from a secret.
		return createError(err, "signature activation", "", "credential "+s.CredentialID+" of account "+s.AccountID)
	})
}

// ConsumeSignatureActivation marks the SAD used at now and returns it, in
// one statement, so of two callers racing for it exactly one gets it;
// ENOTFOUND when it does not exist, has expired or was already used.
func (db *DB) ConsumeSignatureActivation(ctx context.Context, sadHash string, now time.Time) (*selo.SignatureActivation, error) {
	s, err := scanSignatureActivation(db.write.QueryRowContext(ctx, consumeSignatureActivationSQL,
		toMicros(now), sadHash, toMicros(now)))
	return s, notFound(err, "signature activation", "")
}

// consumeSignatureActivationSQL marks a live SAD used and returns it.
// Arguments: now, SAD hash, now.
const consumeSignatureActivationSQL = `UPDATE signature_activations SET used_at = ?
	WHERE sad_hash = ? AND used_at IS NULL AND expires_at > ? RETURNING ` + signatureActivationColumns

// UseSignatureActivation consumes the SAD, reads its credential, the
// credential's certificate and that certificate's CA, lets decide judge
// them and appends decide's audit entry, all in one write transaction on
// statements prepared once: one commit per signature batch. The UPDATE
// runs under the writer's immediate transaction, so of two callers racing
// for a SAD exactly one gets it.
func (db *DB) UseSignatureActivation(ctx context.Context, sadHash string, now time.Time, decide selo.SignatureDecision) error {
	tx, err := db.beginTx(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	// The statements run under a context that is never canceled: for one
	// that can be, the SQLite driver starts a goroutine per statement to
	// interrupt it, which costs more than these statements themselves, and
	// this transaction is short and must not be cut between consuming the
	// SAD and auditing it anyway. Waiting for the writer (BeginTx) still
	// ends with ctx.
	ctx = context.WithoutCancel(ctx)
	act, err := scanSignatureActivation(tx.queryRow(ctx, consumeSignatureActivationSQL, toMicros(now), sadHash, toMicros(now)))
	if err != nil {
		return notFound(err, "signature activation", "")
	}
	cred, err := scanCredential(tx.queryRow(ctx, findCredentialSQL, act.CredentialID))
	if errors.Is(err, sql.ErrNoRows) {
		cred = nil
	} else if err != nil {
		return fmt.Errorf("use signature activation: %w", err)
	}
	var cert *selo.Certificate
	if cred != nil && cred.CertificateSerial != "" {
		cert, err = certificateBySerial(tx.queryRow(ctx, findCertificateSQL, cred.CertificateSerial), cred.CertificateSerial)
		if selo.ErrorCode(err) == selo.ENOTFOUND {
			cert = nil
		} else if err != nil {
			return err
		}
	}
	var ca *selo.CA
	if cert != nil {
		ca, err = caByID(tx.queryRow(ctx, findCASQL, cert.CAID), cert.CAID)
		if selo.ErrorCode(err) == selo.ENOTFOUND {
			ca = nil
		} else if err != nil {
			return err
		}
	}
	audit, verdict := decide(act, cred, cert, ca)
	if audit == nil {
		return check.ErrNoAudit
	}
	if err := appendAudit(ctx, tx, audit); err != nil {
		return err
	}
	if err := tx.commit("use signature activation"); err != nil {
		return err
	}
	return verdict
}

// create runs insert and appends audit in one write transaction. what and id
// name the row in errors.
func (db *DB) create(ctx context.Context, what, id string, audit *selo.AuditEntry, insert func(tx *Tx) error) error {
	return db.update(ctx, "create "+what, audit, insert)
}

// update runs change and appends audit in one write transaction.
func (db *DB) update(ctx context.Context, what string, audit *selo.AuditEntry, change func(tx *Tx) error) error {
	if audit == nil {
		return check.ErrNoAudit
	}
	tx, err := db.beginTx(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := change(tx); err != nil {
		return err
	}
	if err := appendAudit(ctx, tx, audit); err != nil {
		return err
	}
	return tx.commit(what)
}

// createError maps the error of an INSERT: ECONFLICT for a duplicate key,
// ENOTFOUND naming parent for a missing referenced row.
func createError(err error, what, id, parent string) error {
	switch {
	case err == nil:
		return nil
	case isUniqueViolation(err):
		if id == "" {
			return selo.Errorf(selo.ECONFLICT, "this %s already exists", what)
		}
		return selo.Errorf(selo.ECONFLICT, "%s %s already exists", what, id)
	case isForeignKeyViolation(err):
		return selo.Errorf(selo.ENOTFOUND, "%s not found", parent)
	}
	return fmt.Errorf("insert %s %s: %w", what, id, err)
}

// advanced reports the outcome of a compare-and-set on last_step: true when
// it moved, false when the row exists but the step was not later, ENOTFOUND
// when there is no such row.
func (db *DB) advanced(ctx context.Context, res sql.Result, err error, table, what, id string) (bool, error) {
	if err := wantOneRow(res, err, what, id); err != nil {
		if selo.ErrorCode(err) == selo.ENOTFOUND && exists(ctx, db.write, `SELECT 1 FROM `+table+` WHERE id = ?`, id) {
			return false, nil
		}
		return false, err
	}
	return true, nil
}

// exists reports whether query finds a row. An error reads as no row: the
// callers only choose between two error codes with it.
func exists(ctx context.Context, q querier, query string, args ...any) bool {
	var one int
	return q.QueryRowContext(ctx, query, args...).Scan(&one) == nil
}

// notFound turns sql.ErrNoRows into ENOTFOUND naming what and id (id may be
// "" when it must not be shown).
func notFound(err error, what, id string) error {
	if errors.Is(err, sql.ErrNoRows) {
		if id == "" {
			return selo.Errorf(selo.ENOTFOUND, "%s not found", what)
		}
		return selo.Errorf(selo.ENOTFOUND, "%s %s not found", what, id)
	}
	return err
}

// list runs a query and scans every row with scan.
func list[T any](ctx context.Context, q querier, what string, scan func(rowScanner) (*T, error), query string, args ...any) ([]*T, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", what, err)
	}
	defer rows.Close()
	var out []*T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", what, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list %s: %w", what, err)
	}
	return out, nil
}

// scanAuthenticator reads one row of authenticatorColumns.
func scanAuthenticator(row rowScanner) (*selo.Authenticator, error) {
	var a selo.Authenticator
	var created int64
	var locked sql.NullInt64
	if err := row.Scan(&a.ID, &a.AccountID, &a.Name, &a.SealedSecret, &a.Settings.Algorithm, &a.Settings.Digits,
		&a.Settings.Period, &a.LastStep, &a.Confirmed, &created, &a.FailedApprovals, &locked, &a.Lockouts); err != nil {
		return nil, err
	}
	a.CreatedAt, a.LockedUntil = fromMicros(created), fromNullMicros(locked)
	return &a, nil
}

// scanWallet reads one row of walletColumns.
func scanWallet(row rowScanner) (*selo.Wallet, error) {
	var w selo.Wallet
	var created int64
	if err := row.Scan(&w.ID, &w.AccountID, &w.Name, &w.PublicKey, &w.Disabled, &created); err != nil {
		return nil, err
	}
	w.CreatedAt = fromMicros(created)
	return &w, nil
}

// scanAuthorizer reads one row of authorizerColumns.
func scanAuthorizer(row rowScanner) (*selo.Authorizer, error) {
	var a selo.Authorizer
	var created int64
	if err := row.Scan(&a.ID, &a.CredentialID, &a.AccountID, &a.Name, &a.SealedSecret, &a.Settings.Algorithm,
		&a.Settings.Digits, &a.Settings.Period, &a.LastStep, &a.Enabled, &a.Confirmed, &created); err != nil {
		return nil, err
	}
	a.CreatedAt = fromMicros(created)
	return &a, nil
}

// scanApproval reads one row of approvalColumns.
func scanApproval(row rowScanner) (*selo.Approval, error) {
	var a selo.Approval
	var credential sql.NullString
	var hashes []byte
	var created, expires int64
	var decided sql.NullInt64
	if err := row.Scan(&a.ID, &a.AccountID, &credential, &a.Purpose, &a.Type, &a.HashAlgorithmOID, &hashes, &a.Description,
		&a.CodeHash, &a.WalletID, &a.Subject, &a.Failures, &a.Status, &created, &expires, &decided); err != nil {
		return nil, err
	}
	var err error
	if a.Hashes, err = hashlist.Decode(hashes); err != nil {
		return nil, fmt.Errorf("approval %s: %w", a.ID, err)
	}
	a.CredentialID = credential.String
	a.CreatedAt, a.ExpiresAt, a.DecidedAt = fromMicros(created), fromMicros(expires), fromNullMicros(decided)
	return &a, nil
}

// scanSignatureActivation reads one row of signatureActivationColumns.
func scanSignatureActivation(row rowScanner) (*selo.SignatureActivation, error) {
	var s selo.SignatureActivation
	var hashes []byte
	var created, expires int64
	var used sql.NullInt64
	if err := row.Scan(&s.SADHash, &s.AccountID, &s.CredentialID, &s.HashAlgorithmOID, &hashes, &created, &expires, &used, &s.AuthorizerID); err != nil {
		return nil, err
	}
	var err error
	if s.Hashes, err = hashlist.Decode(hashes); err != nil {
		return nil, fmt.Errorf("signature activation: %w", err)
	}
	s.CreatedAt, s.ExpiresAt, s.UsedAt = fromMicros(created), fromMicros(expires), fromNullMicros(used)
	return &s, nil
}
