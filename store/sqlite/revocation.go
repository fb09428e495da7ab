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

// revocationColumns is the column list every revocation query selects, in
// the order scanRevocation reads.
const revocationColumns = `serial, ca_id, reason, revoked_at, invalidity_date, actor`

// forEachRevocationSQL reads a CA's revocations in serial order from
// revocations_ca_id_serial alone, which covers these columns. It leaves out
// ca_id, which the caller knows. Argument: ca_id.
const forEachRevocationSQL = `SELECT serial, reason, revoked_at, invalidity_date, actor FROM revocations
	WHERE ca_id = ? ORDER BY serial`

// RevokeCertificate records rev, marks its certificate revoked, deletes the
// certificate's stored OCSP response and appends audit, all in one
// transaction, and returns rev and true. When the certificate already has a
// revocation it returns that one and false, and writes nothing. ENOTFOUND
// when the certificate does not exist. rev is updated to hold exactly what
// was stored: its CAID and Actor filled in when empty, a zero RevokedAt set
// from the store's clock and times truncated to microseconds.
func (db *DB) RevokeCertificate(ctx context.Context, rev *selo.Revocation, audit *selo.AuditEntry) (*selo.Revocation, bool, error) {
	if err := check.Revocation(rev); err != nil {
		return nil, false, err
	}
	if audit == nil {
		return nil, false, check.ErrNoAudit
	}
	tx, err := db.beginTx(ctx)
	if err != nil {
		return nil, false, err
	}
	defer tx.Rollback()
	cert, err := findCertificateBySerial(ctx, tx, rev.Serial)
	if err != nil {
		return nil, false, err
	}
	if err := check.RevocationOf(rev, cert, audit); err != nil {
		return nil, false, err
	}
	if rev.RevokedAt.IsZero() {
		rev.RevokedAt = tx.now
	}
	rev.RevokedAt = fromMicros(toMicros(rev.RevokedAt))
	var invalidity sql.NullInt64
	if !rev.InvalidityDate.IsZero() {
		rev.InvalidityDate = fromMicros(toMicros(rev.InvalidityDate))
		invalidity = sql.NullInt64{Int64: toMicros(rev.InvalidityDate), Valid: true}
	}
	// The primary key decides, not the status read above (a certificate may
	// have been stored as revoked without a revocation): the first
	// revocation stays and later ones are told about it.
	res, err := tx.ExecContext(ctx, `INSERT INTO revocations (`+revocationColumns+`) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (serial) DO NOTHING`,
		rev.Serial, rev.CAID, int64(rev.Reason), toMicros(rev.RevokedAt), invalidity, rev.Actor)
	if err != nil {
		return nil, false, fmt.Errorf("insert revocation of %s: %w", rev.Serial, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return nil, false, fmt.Errorf("insert revocation of %s: %w", rev.Serial, err)
	} else if n == 0 {
		first, err := findRevocation(ctx, tx, rev.Serial)
		if err != nil {
			return nil, false, err
		}
		return first, false, nil
	}
	if _, err := tx.ExecContext(ctx, `UPDATE certificates SET status = ? WHERE serial = ?`,
		string(selo.CertRevoked), rev.Serial); err != nil {
		return nil, false, fmt.Errorf("mark certificate %s revoked: %w", rev.Serial, err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM ocsp_responses WHERE serial = ?`, rev.Serial); err != nil {
		return nil, false, fmt.Errorf("delete OCSP response of %s: %w", rev.Serial, err)
	}
	if err := appendAudit(ctx, tx, audit); err != nil {
		return nil, false, err
	}
	if err := tx.commit("revoke certificate"); err != nil {
		return nil, false, err
	}
	return rev, true, nil
}

// RevokeCertificates records each revocation of revs whose certificate has
// none yet, marks the certificate revoked, deletes its stored OCSP response
// and appends its audit entry, all in one transaction.
func (db *DB) RevokeCertificates(ctx context.Context, revs []*selo.Revocation, audits []*selo.AuditEntry) ([]bool, error) {
	if len(revs) != len(audits) {
		return nil, selo.Errorf(selo.EINVALID, "%d revocations and %d audit entries", len(revs), len(audits))
	}
	for i, rev := range revs {
		if err := check.Revocation(rev); err != nil {
			return nil, err
		}
		if audits[i] == nil {
			return nil, check.ErrNoAudit
		}
	}
	tx, err := db.beginTx(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	created := make([]bool, len(revs))
	for i, rev := range revs {
		cert, err := findCertificateBySerial(ctx, tx, rev.Serial)
		if err != nil {
			return nil, err
		}
		if err := check.RevocationOf(rev, cert, audits[i]); err != nil {
			return nil, err
		}
		if rev.RevokedAt.IsZero() {
			rev.RevokedAt = tx.now
		}
		rev.RevokedAt = fromMicros(toMicros(rev.RevokedAt))
		var invalidity sql.NullInt64
		if !rev.InvalidityDate.IsZero() {
			rev.InvalidityDate = fromMicros(toMicros(rev.InvalidityDate))
			invalidity = sql.NullInt64{Int64: toMicros(rev.InvalidityDate), Valid: true}
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO revocations (`+revocationColumns+`) VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (serial) DO NOTHING`,
			rev.Serial, rev.CAID, int64(rev.Reason), toMicros(rev.RevokedAt), invalidity, rev.Actor)
		if err != nil {
			return nil, fmt.Errorf("insert revocation of %s: %w", rev.Serial, err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return nil, fmt.Errorf("insert revocation of %s: %w", rev.Serial, err)
		} else if n == 0 {
			continue
		}
		if _, err := tx.ExecContext(ctx, `UPDATE certificates SET status = ? WHERE serial = ?`,
			string(selo.CertRevoked), rev.Serial); err != nil {
			return nil, fmt.Errorf("mark certificate %s revoked: %w", rev.Serial, err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM ocsp_responses WHERE serial = ?`, rev.Serial); err != nil {
			return nil, fmt.Errorf("delete OCSP response of %s: %w", rev.Serial, err)
		}
		if err := appendAudit(ctx, tx, audits[i]); err != nil {
			return nil, err
		}
		created[i] = true
	}
	if err := tx.commit("revoke certificates"); err != nil {
		return nil, err
	}
	return created, nil
}

// ReleaseHold deletes the certificateHold revocation of serial, gives the
// certificate back the status it had (superseded when it has a SupersededBy,
// else valid), deletes its stored OCSP response and appends audit, in one
// transaction. ENOTFOUND when the certificate has no revocation, EFORBIDDEN
// when its reason is not certificateHold: every other reason is final.
func (db *DB) ReleaseHold(ctx context.Context, serial string, audit *selo.AuditEntry) error {
	if audit == nil {
		return check.ErrNoAudit
	}
	tx, err := db.beginTx(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	rev, err := findRevocation(ctx, tx, serial)
	if err != nil {
		return err
	}
	if rev.Reason != selo.ReasonCertificateHold {
		return selo.Errorf(selo.EFORBIDDEN, "certificate %s is revoked for %s, which is final: only a certificateHold can be released", serial, rev.Reason)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM revocations WHERE serial = ?`, serial); err != nil {
		return fmt.Errorf("delete revocation of %s: %w", serial, err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE certificates
		SET status = CASE WHEN superseded_by = '' THEN ? ELSE ? END WHERE serial = ?`,
		string(selo.CertValid), string(selo.CertSuperseded), serial); err != nil {
		return fmt.Errorf("restore status of certificate %s: %w", serial, err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM ocsp_responses WHERE serial = ?`, serial); err != nil {
		return fmt.Errorf("delete OCSP response of %s: %w", serial, err)
	}
	if err := appendAudit(ctx, tx, audit); err != nil {
		return err
	}
	return tx.commit("release hold")
}

// FindRevocation returns the revocation of the certificate with this serial,
// or ENOTFOUND.
func (db *DB) FindRevocation(ctx context.Context, serial string) (*selo.Revocation, error) {
	return revocationBySerial(db.readRow(ctx, findRevocationSQL, serial), serial)
}

// findRevocationSQL reads the revocation of a serial. Arguments: serial.
const findRevocationSQL = `SELECT ` + revocationColumns + ` FROM revocations WHERE serial = ?`

// ForEachRevocation calls fn with each revocation of the CA, in serial order,
// reusing one Revocation whose every field it sets for each row. The walk is
// one SELECT on one read connection, and so one read transaction: WAL keeps
// the snapshot it started with until the rows are closed, so revocations
// committed while fn runs are not seen. The driver steps the statement a row
// at a time, so memory does not grow with the number of revocations.
func (db *DB) ForEachRevocation(ctx context.Context, caID string, fn func(rev *selo.Revocation) error) error {
	rows, err := db.read.QueryContext(ctx, forEachRevocationSQL, caID)
	if err != nil {
		return fmt.Errorf("list revocations of ca %s: %w", caID, err)
	}
	defer rows.Close()
	rev := selo.Revocation{CAID: caID}
	var reason, revokedAt int64
	var invalidity sql.NullInt64
	for rows.Next() {
		if err := rows.Scan(&rev.Serial, &reason, &revokedAt, &invalidity, &rev.Actor); err != nil {
			return fmt.Errorf("list revocations of ca %s: %w", caID, err)
		}
		rev.CAID, rev.Reason, rev.RevokedAt, rev.InvalidityDate = caID, selo.RevocationReason(reason), fromMicros(revokedAt), time.Time{}
		if invalidity.Valid {
			rev.InvalidityDate = fromMicros(invalidity.Int64)
		}
		if err := fn(&rev); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("list revocations of ca %s: %w", caID, err)
	}
	return nil
}

// findRevocation returns the revocation of serial, or ENOTFOUND.
func findRevocation(ctx context.Context, q querier, serial string) (*selo.Revocation, error) {
	return revocationBySerial(q.QueryRowContext(ctx, findRevocationSQL, serial), serial)
}

// revocationBySerial scans the row of findRevocationSQL for serial.
func revocationBySerial(row *sql.Row, serial string) (*selo.Revocation, error) {
	rev, err := scanRevocation(row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, selo.Errorf(selo.ENOTFOUND, "certificate %s has no revocation", serial)
	} else if err != nil {
		return nil, fmt.Errorf("find revocation of %s: %w", serial, err)
	}
	return rev, nil
}

// scanRevocation reads one row of revocationColumns.
func scanRevocation(s scanner) (*selo.Revocation, error) {
	var rev selo.Revocation
	var reason, revokedAt int64
	var invalidity sql.NullInt64
	if err := s.Scan(&rev.Serial, &rev.CAID, &reason, &revokedAt, &invalidity, &rev.Actor); err != nil {
		return nil, err
	}
	rev.Reason, rev.RevokedAt = selo.RevocationReason(reason), fromMicros(revokedAt)
	if invalidity.Valid {
		rev.InvalidityDate = fromMicros(invalidity.Int64)
	}
	return &rev, nil
}
