package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/store/internal/check"
)

// revocationColumns is the column list every revocation query selects, in
// the order scanRevocation reads.
const revocationColumns = `serial, ca_id, reason, revoked_at, invalidity_date, actor`

// forEachRevocationSQL reads a CA's revocations in serial order from
// revocations_ca_id_serial, which includes these columns so that a vacuumed
// table answers from the index alone. It leaves out ca_id, which the caller
// knows. Argument: ca_id.
const forEachRevocationSQL = `SELECT serial, reason, revoked_at, invalidity_date, actor FROM revocations
	WHERE ca_id = $1 ORDER BY serial`

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
	defer tx.rollback()
	// FOR UPDATE: revocations, hold releases and supersessions of one
	// certificate take turns here, so each sees the status the last one left.
	cert, err := findCertificateBySerial(ctx, tx, rev.Serial, true)
	if err != nil {
		return nil, false, err
	}
	if err := check.RevocationOf(rev, cert, audit); err != nil {
		return nil, false, err
	}
	if rev.RevokedAt.IsZero() {
		rev.RevokedAt = tx.now
	}
	rev.RevokedAt = micro(rev.RevokedAt)
	var invalidity *time.Time
	if !rev.InvalidityDate.IsZero() {
		rev.InvalidityDate = micro(rev.InvalidityDate)
		invalidity = &rev.InvalidityDate
	}
	// The primary key decides, not the status read above (a certificate may
	// have been stored as revoked without a revocation): the first
	// revocation stays and later ones are told about it.
	tag, err := tx.Exec(ctx, `INSERT INTO revocations (`+revocationColumns+`) VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (serial) DO NOTHING`,
		rev.Serial, rev.CAID, int16(rev.Reason), rev.RevokedAt, invalidity, rev.Actor)
	if err != nil {
		return nil, false, fmt.Errorf("insert revocation of %s: %w", rev.Serial, err)
	}
	if tag.RowsAffected() == 0 {
		first, err := findRevocation(ctx, tx, rev.Serial)
		if err != nil {
			return nil, false, err
		}
		return first, false, nil
	}
	if _, err := tx.Exec(ctx, `
		WITH response AS (DELETE FROM ocsp_responses WHERE serial = $1)
		UPDATE certificates SET status = $2 WHERE serial = $1`, rev.Serial, string(selo.CertRevoked)); err != nil {
		return nil, false, fmt.Errorf("mark certificate %s revoked: %w", rev.Serial, err)
	}
	if err := appendAudit(ctx, tx, audit); err != nil {
		return nil, false, err
	}
	if err := tx.commit(ctx, "revoke certificate"); err != nil {
		return nil, false, err
	}
	return rev, true, nil
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
	defer tx.rollback()
	// Lock the certificate first, as RevokeCertificate does, so the two
	// cannot deadlock and the revocation read next cannot change.
	if _, err := findCertificateBySerial(ctx, tx, serial, true); selo.ErrorCode(err) == selo.ENOTFOUND {
		return selo.Errorf(selo.ENOTFOUND, "certificate %s has no revocation", serial)
	} else if err != nil {
		return err
	}
	rev, err := findRevocation(ctx, tx, serial)
	if err != nil {
		return err
	}
	if rev.Reason != selo.ReasonCertificateHold {
		return selo.Errorf(selo.EFORBIDDEN, "certificate %s is revoked for %s, which is final: only a certificateHold can be released", serial, rev.Reason)
	}
	if _, err := tx.Exec(ctx, `
		WITH revocation AS (DELETE FROM revocations WHERE serial = $1),
			response AS (DELETE FROM ocsp_responses WHERE serial = $1)
		UPDATE certificates SET status = CASE WHEN superseded_by = '' THEN $2 ELSE $3 END WHERE serial = $1`,
		serial, string(selo.CertValid), string(selo.CertSuperseded)); err != nil {
		return fmt.Errorf("release hold of %s: %w", serial, err)
	}
	if err := appendAudit(ctx, tx, audit); err != nil {
		return err
	}
	return tx.commit(ctx, "release hold")
}

// FindRevocation returns the revocation of the certificate with this serial,
// or ENOTFOUND.
func (db *DB) FindRevocation(ctx context.Context, serial string) (*selo.Revocation, error) {
	return findRevocation(ctx, db.pool, serial)
}

// ForEachRevocation calls fn with each revocation of the CA, in serial order,
// reusing one Revocation whose every field it sets for each row. The walk is
// one SELECT, which PostgreSQL runs on one snapshot, so revocations committed
// while fn runs are not seen. pgx reads the result from the connection as fn
// asks for rows and the server waits while the socket is full, so memory does
// not grow with the number of revocations. The walk holds one connection of
// the pool until it ends.
func (db *DB) ForEachRevocation(ctx context.Context, caID string, fn func(rev *selo.Revocation) error) error {
	// Closing rows reads the rest of the result; when fn stops the walk early,
	// cancelling makes pgx drop the connection instead of reading on.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	rows, err := db.pool.Query(ctx, forEachRevocationSQL, caID)
	if err != nil {
		return fmt.Errorf("list revocations of ca %s: %w", caID, err)
	}
	defer rows.Close()
	var rev selo.Revocation
	var reason int16
	var invalidity pgtype.Timestamptz
	for rows.Next() {
		if err := rows.Scan(&rev.Serial, &reason, &rev.RevokedAt, &invalidity, &rev.Actor); err != nil {
			return fmt.Errorf("list revocations of ca %s: %w", caID, err)
		}
		rev.CAID, rev.Reason, rev.RevokedAt, rev.InvalidityDate = caID, selo.RevocationReason(reason), rev.RevokedAt.UTC(), time.Time{}
		if invalidity.Valid {
			rev.InvalidityDate = invalidity.Time.UTC()
		}
		if err := fn(&rev); err != nil {
			cancel()
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
	rev, err := scanRevocation(q.QueryRow(ctx, `SELECT `+revocationColumns+` FROM revocations WHERE serial = $1`, serial))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, selo.Errorf(selo.ENOTFOUND, "certificate %s has no revocation", serial)
	} else if err != nil {
		return nil, fmt.Errorf("find revocation of %s: %w", serial, err)
	}
	return rev, nil
}

// scanRevocation reads one row of revocationColumns.
func scanRevocation(row pgx.Row) (*selo.Revocation, error) {
	var rev selo.Revocation
	var reason int16
	var invalidity pgtype.Timestamptz
	if err := row.Scan(&rev.Serial, &rev.CAID, &reason, &rev.RevokedAt, &invalidity, &rev.Actor); err != nil {
		return nil, err
	}
	rev.Reason, rev.RevokedAt = selo.RevocationReason(reason), rev.RevokedAt.UTC()
	if invalidity.Valid {
		rev.InvalidityDate = invalidity.Time.UTC()
	}
	return &rev, nil
}
