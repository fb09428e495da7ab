package postgres

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
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
	tx, err := db.beginBatch(ctx)
	if err != nil {
		return nil, false, err
	}
	defer tx.end()
	// FOR UPDATE: revocations, hold releases and supersessions of one
	// certificate take turns here, so each sees the status the last one left.
	// BEGIN and this read are one round trip.
	var cert *selo.Certificate
	tx.queryRow(func(row pgx.Row) error {
		cert, err = certificateBySerial(row, rev.Serial)
		return err
	}, findCertificateForUpdateSQL, rev.Serial)
	if err := tx.flush(ctx); err != nil {
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
	// revocation stays and later ones are told about it. One statement
	// inserts the revocation and, only when it did, deletes the stored OCSP
	// response and marks the certificate revoked; it goes in the round trip
	// that locks the audit head, and when it inserted nothing errRevoked
	// stops the transaction before the audit entry.
	serial := rev.Serial
	tx.exec(func(tag pgconn.CommandTag, err error) error {
		if err != nil {
			return fmt.Errorf("revoke certificate %s: %w", serial, err)
		}
		if tag.RowsAffected() == 0 {
			return errRevoked
		}
		return nil
	}, `WITH revocation AS (
			INSERT INTO revocations (`+revocationColumns+`) VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT (serial) DO NOTHING RETURNING serial),
		response AS (DELETE FROM ocsp_responses WHERE serial IN (SELECT serial FROM revocation))
		UPDATE certificates SET status = $7 WHERE serial IN (SELECT serial FROM revocation)`,
		rev.Serial, rev.CAID, int16(rev.Reason), rev.RevokedAt, invalidity, rev.Actor, string(selo.CertRevoked))
	err = tx.commitAudited(ctx, audit, "revoke certificate")
	if errors.Is(err, errRevoked) {
		var first *selo.Revocation
		tx.queryRow(func(row pgx.Row) error {
			first, err = revocationOf(row, serial)
			return err
		}, findRevocationSQL, serial)
		if err := tx.flush(ctx); err != nil {
			return nil, false, err
		}
		return first, false, nil
	} else if err != nil {
		return nil, false, err
	}
	return rev, true, nil
}

// RevokeCertificates records each revocation of revs whose certificate has
// none yet, marks the certificate revoked, deletes its stored OCSP response
// and appends its audit entry, all in one transaction. The certificates are
// locked in serial order, as RevokeCertificate locks one, so two of these
// cannot deadlock.
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
	order := make([]int, len(revs))
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(a, b int) bool { return revs[order[a]].Serial < revs[order[b]].Serial })
	tx, err := db.beginTx(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.rollback()
	certs := make([]*selo.Certificate, len(revs))
	for _, i := range order {
		if certs[i], err = certificateBySerial(tx.QueryRow(ctx, findCertificateForUpdateSQL, revs[i].Serial), revs[i].Serial); err != nil {
			return nil, err
		}
	}
	created := make([]bool, len(revs))
	for i, rev := range revs {
		if err := check.RevocationOf(rev, certs[i], audits[i]); err != nil {
			return nil, err
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
		tag, err := tx.Exec(ctx, `WITH revocation AS (
				INSERT INTO revocations (`+revocationColumns+`) VALUES ($1, $2, $3, $4, $5, $6)
				ON CONFLICT (serial) DO NOTHING RETURNING serial),
			response AS (DELETE FROM ocsp_responses WHERE serial IN (SELECT serial FROM revocation))
			UPDATE certificates SET status = $7 WHERE serial IN (SELECT serial FROM revocation)`,
			rev.Serial, rev.CAID, int16(rev.Reason), rev.RevokedAt, invalidity, rev.Actor, string(selo.CertRevoked))
		if err != nil {
			return nil, fmt.Errorf("revoke certificate %s: %w", rev.Serial, err)
		}
		if tag.RowsAffected() == 0 {
			continue
		}
		if err := appendAudit(ctx, tx, audits[i]); err != nil {
			return nil, err
		}
		created[i] = true
	}
	if err := tx.commit(ctx, "revoke certificates"); err != nil {
		return nil, err
	}
	return created, nil
}

// errRevoked stops RevokeCertificate's transaction when the certificate
// already has a revocation.
var errRevoked = errors.New("certificate already has a revocation")

// ReleaseHold deletes the certificateHold revocation of serial, gives the
// certificate back the status it had (superseded when it has a SupersededBy,
// else valid), deletes its stored OCSP response and appends audit, in one
// transaction. ENOTFOUND when the certificate has no revocation, EFORBIDDEN
// when its reason is not certificateHold: every other reason is final.
func (db *DB) ReleaseHold(ctx context.Context, serial string, audit *selo.AuditEntry) error {
	if audit == nil {
		return check.ErrNoAudit
	}
	tx, err := db.beginBatch(ctx)
	if err != nil {
		return err
	}
	defer tx.end()
	// Lock the certificate first, as RevokeCertificate does, so the two
	// cannot deadlock and the revocation read next cannot change. BEGIN and
	// the two reads are one round trip.
	tx.exec(func(tag pgconn.CommandTag, err error) error {
		if err != nil {
			return fmt.Errorf("find certificate %s: %w", serial, err)
		}
		if tag.RowsAffected() == 0 {
			return selo.Errorf(selo.ENOTFOUND, "certificate %s has no revocation", serial)
		}
		return nil
	}, `SELECT 1 FROM certificates WHERE serial = $1 FOR UPDATE`, serial)
	var rev *selo.Revocation
	tx.queryRow(func(row pgx.Row) error {
		rev, err = revocationOf(row, serial)
		return err
	}, findRevocationSQL, serial)
	if err := tx.flush(ctx); err != nil {
		return err
	}
	if rev.Reason != selo.ReasonCertificateHold {
		return selo.Errorf(selo.EFORBIDDEN, "certificate %s is revoked for %s, which is final: only a certificateHold can be released", serial, rev.Reason)
	}
	tx.exec(func(_ pgconn.CommandTag, err error) error {
		if err != nil {
			return fmt.Errorf("release hold of %s: %w", serial, err)
		}
		return nil
	}, `
		WITH revocation AS (DELETE FROM revocations WHERE serial = $1),
			response AS (DELETE FROM ocsp_responses WHERE serial = $1)
		UPDATE certificates SET status = CASE WHEN superseded_by = '' THEN $2 ELSE $3 END WHERE serial = $1`,
		serial, string(selo.CertValid), string(selo.CertSuperseded))
	return tx.commitAudited(ctx, audit, "release hold")
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

// findRevocationSQL reads the revocation of a certificate. Argument: serial.
const findRevocationSQL = `SELECT ` + revocationColumns + ` FROM revocations WHERE serial = $1`

// findRevocation returns the revocation of serial, or ENOTFOUND.
func findRevocation(ctx context.Context, q querier, serial string) (*selo.Revocation, error) {
	return revocationOf(q.QueryRow(ctx, findRevocationSQL, serial), serial)
}

// revocationOf reads row, the answer to findRevocationSQL for serial:
// ENOTFOUND when there is none.
func revocationOf(row pgx.Row, serial string) (*selo.Revocation, error) {
	rev, err := scanRevocation(row)
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
