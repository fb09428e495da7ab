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

// ocspResponseColumns is the column list every OCSP response query selects.
const ocspResponseColumns = `serial, ca_id, status, this_update, next_update, der`

// The statements of the responder's path, prepared once (Open prepares the
// writer's; the read pool's are prepared on first use).
const (
	// findOCSPResponseSQL reads the stored response of a serial. Arguments:
	// serial.
	findOCSPResponseSQL = `SELECT ` + ocspResponseColumns + ` FROM ocsp_responses WHERE serial = ?`
	// certificateStatusSQL reads the CA and status of a certificate.
	// Arguments: serial.
	certificateStatusSQL = `SELECT ca_id, status FROM certificates WHERE serial = ?`
	// saveOCSPResponseSQL inserts or replaces the stored response of a
	// serial. Arguments: ocspResponseColumns.
	saveOCSPResponseSQL = `INSERT INTO ocsp_responses (` + ocspResponseColumns + `) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (serial) DO UPDATE SET ca_id = excluded.ca_id, status = excluded.status,
			this_update = excluded.this_update, next_update = excluded.next_update, der = excluded.der`
)

// listCertificatesNeedingOCSPSQL walks the CA's certificates in serial order
// on certificates_ca_id_serial and looks each one's response up by primary
// key. The certificate columns are certificateColumns, qualified. Arguments:
// ca_id, after serial, before, limit.
const listCertificatesNeedingOCSPSQL = `SELECT c.serial, c.ca_id, c.profile, c.subject, c.not_before,
	c.not_after, c.der, c.status, c.key_id, c.reissued_from, c.superseded_by, c.lint_results, c.created_at
	FROM certificates c LEFT JOIN ocsp_responses o ON o.serial = c.serial
	WHERE c.ca_id = ? AND c.serial > ? AND (o.serial IS NULL OR o.next_update < ?)
	ORDER BY c.serial LIMIT ?`

// SaveOCSPResponse inserts or replaces the stored response for resp.Serial.
// ENOTFOUND when the certificate does not exist, ECONFLICT when resp.Status
// disagrees with the certificate's status as it is now (the response was
// signed before a revocation or a hold release), EINVALID when resp names
// another CA than the certificate's. An empty CAID is filled in and times are
// truncated to microseconds in resp.
func (db *DB) SaveOCSPResponse(ctx context.Context, resp *selo.OCSPResponse) error {
	if err := check.OCSPResponse(resp); err != nil {
		return err
	}
	tx, err := db.beginTx(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	// The immediate transaction holds the write lock, so no revocation can
	// come between this read and the write below.
	var caID, status string
	err = tx.queryRow(ctx, certificateStatusSQL, resp.Serial).Scan(&caID, &status)
	if errors.Is(err, sql.ErrNoRows) {
		return selo.Errorf(selo.ENOTFOUND, "certificate %s not found", resp.Serial)
	} else if err != nil {
		return fmt.Errorf("find certificate %s: %w", resp.Serial, err)
	}
	if err := check.OCSPResponseOf(resp, caID, selo.CertificateStatus(status)); err != nil {
		return err
	}
	resp.ThisUpdate = fromMicros(toMicros(resp.ThisUpdate))
	resp.NextUpdate = fromMicros(toMicros(resp.NextUpdate))
	if _, err := tx.exec(ctx, saveOCSPResponseSQL, resp.Serial, resp.CAID, resp.Status, toMicros(resp.ThisUpdate), toMicros(resp.NextUpdate), resp.DER); err != nil {
		return fmt.Errorf("save OCSP response for %s: %w", resp.Serial, err)
	}
	return tx.commit("save OCSP response")
}

// FindOCSPResponse returns the stored response for serial, or ENOTFOUND.
func (db *DB) FindOCSPResponse(ctx context.Context, serial string) (*selo.OCSPResponse, error) {
	var resp selo.OCSPResponse
	var thisUpdate, nextUpdate int64
	err := db.readRow(ctx, findOCSPResponseSQL, serial).Scan(&resp.Serial, &resp.CAID, &resp.Status, &thisUpdate, &nextUpdate, &resp.DER)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, selo.Errorf(selo.ENOTFOUND, "no OCSP response stored for %s", serial)
	} else if err != nil {
		return nil, fmt.Errorf("find OCSP response for %s: %w", serial, err)
	}
	resp.ThisUpdate, resp.NextUpdate = fromMicros(thisUpdate), fromMicros(nextUpdate)
	return &resp, nil
}

// ListCertificatesNeedingOCSP returns up to limit certificates of the CA, of
// any status, with serials after afterSerial, whose stored response is
// missing or has a NextUpdate before the given time, ordered by serial.
// EINVALID unless limit is positive.
func (db *DB) ListCertificatesNeedingOCSP(ctx context.Context, caID string, before time.Time, afterSerial string, limit int) ([]*selo.Certificate, error) {
	if err := check.Limit(limit); err != nil {
		return nil, err
	}
	rows, err := db.read.QueryContext(ctx, listCertificatesNeedingOCSPSQL, caID, afterSerial, toMicros(before), limit)
	if err != nil {
		return nil, fmt.Errorf("list certificates needing OCSP: %w", err)
	}
	defer rows.Close()
	var certs []*selo.Certificate
	for rows.Next() {
		c, err := scanCertificate(rows)
		if err != nil {
			return nil, fmt.Errorf("list certificates needing OCSP: %w", err)
		}
		certs = append(certs, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list certificates needing OCSP: %w", err)
	}
	return certs, nil
}

// SaveOCSPSigner stores signer as its CA's current OCSP signer, replacing the
// previous one, and appends audit, in one transaction. ENOTFOUND when the CA
// does not exist. A zero CreatedAt is set from the store's clock and times
// are truncated to microseconds in signer.
func (db *DB) SaveOCSPSigner(ctx context.Context, signer *selo.OCSPSigner, audit *selo.AuditEntry) error {
	if err := check.OCSPSigner(signer); err != nil {
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
	if signer.CreatedAt.IsZero() {
		signer.CreatedAt = tx.now
	}
	signer.NotAfter = fromMicros(toMicros(signer.NotAfter))
	signer.CreatedAt = fromMicros(toMicros(signer.CreatedAt))
	_, err = tx.ExecContext(ctx, `INSERT INTO ocsp_signers (ca_id, key_id, cert_der, not_after, created_at)
		VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (ca_id) DO UPDATE SET key_id = excluded.key_id, cert_der = excluded.cert_der,
			not_after = excluded.not_after, created_at = excluded.created_at`,
		signer.CAID, signer.KeyID, signer.CertDER, toMicros(signer.NotAfter), toMicros(signer.CreatedAt))
	if isForeignKeyViolation(err) {
		return selo.Errorf(selo.ENOTFOUND, "CA %q not found", signer.CAID)
	} else if err != nil {
		return fmt.Errorf("save OCSP signer of ca %s: %w", signer.CAID, err)
	}
	if err := appendAudit(ctx, tx, audit); err != nil {
		return err
	}
	return tx.commit("save OCSP signer")
}

// FindOCSPSigner returns the CA's current OCSP signer, or ENOTFOUND.
func (db *DB) FindOCSPSigner(ctx context.Context, caID string) (*selo.OCSPSigner, error) {
	var s selo.OCSPSigner
	var notAfter, created int64
	err := db.read.QueryRowContext(ctx, `SELECT ca_id, key_id, cert_der, not_after, created_at
		FROM ocsp_signers WHERE ca_id = ?`, caID).Scan(&s.CAID, &s.KeyID, &s.CertDER, &notAfter, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, selo.Errorf(selo.ENOTFOUND, "CA %q has no OCSP signer", caID)
	} else if err != nil {
		return nil, fmt.Errorf("find OCSP signer of ca %s: %w", caID, err)
	}
	s.NotAfter, s.CreatedAt = fromMicros(notAfter), fromMicros(created)
	return &s, nil
}

// StatusChanges returns the serials of the status changes from cursor on
// (the seq of the next change the caller has not seen; SQLite's one writer
// commits them in seq order, and AUTOINCREMENT never reuses one), read in
// one snapshot with the highest seq ever given, whose successor is the next
// cursor. complete is false when a change after cursor was pruned or more
// than limit came since.
func (db *DB) StatusChanges(ctx context.Context, cursor int64, limit int) ([]string, int64, bool, error) {
	if limit <= 0 || cursor < 0 {
		return nil, 0, false, selo.Errorf(selo.EINVALID, "status changes: need a positive limit and a cursor the store returned")
	}
	tx, err := db.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, 0, false, fmt.Errorf("status changes: %w", err)
	}
	defer tx.Rollback()
	var last int64
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'status_changes'), 0)`).Scan(&last); err != nil {
		return nil, 0, false, fmt.Errorf("status changes: %w", err)
	}
	next := last + 1
	switch {
	case cursor == 0 || cursor == next:
		return nil, next, true, nil
	case cursor > next:
		// Not a cursor of this database (a restored copy, say): start over.
		return nil, next, false, nil
	}
	rows, err := tx.QueryContext(ctx, `SELECT seq, serial FROM status_changes WHERE seq >= ? ORDER BY seq LIMIT ?`, cursor, limit)
	if err != nil {
		return nil, 0, false, fmt.Errorf("status changes: %w", err)
	}
	defer rows.Close()
	var serials []string
	want, complete := cursor, true
	for rows.Next() {
		var seq int64
		var serial string
		if err := rows.Scan(&seq, &serial); err != nil {
			return nil, 0, false, fmt.Errorf("status changes: %w", err)
		}
		if seq != want {
			complete = false // pruned before this caller read them
		}
		want = seq + 1
		serials = append(serials, serial)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, false, fmt.Errorf("status changes: %w", err)
	}
	if want != next {
		complete = false // pruned, or more than limit
	}
	return serials, next, complete, nil
}

// PruneStatusChanges deletes the status changes recorded more than keep ago.
func (db *DB) PruneStatusChanges(ctx context.Context, keep time.Duration) (int64, error) {
	if keep <= 0 {
		return 0, selo.Errorf(selo.EINVALID, "status changes: keep must be positive")
	}
	res, err := db.write.ExecContext(ctx, `DELETE FROM status_changes WHERE changed_at < CAST(unixepoch('subsec') * 1000000 AS INTEGER) - ?`, keep.Microseconds())
	if err != nil {
		return 0, fmt.Errorf("prune status changes: %w", err)
	}
	return res.RowsAffected()
}
