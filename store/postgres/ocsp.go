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

// ocspResponseColumns is the column list every OCSP response query selects.
const ocspResponseColumns = `serial, ca_id, status, this_update, next_update, der`

// listCertificatesNeedingOCSPSQL walks the CA's certificates in serial order
// on certificates_ca_id_serial and looks each one's response up by primary
// key. The certificate columns are certificateColumns, qualified. Arguments:
// ca_id, after serial, before, limit.
const listCertificatesNeedingOCSPSQL = `SELECT c.serial, c.ca_id, c.profile, c.subject, c.not_before,
	c.not_after, c.der, c.status, c.key_id, c.reissued_from, c.superseded_by, c.lint_results, c.created_at
	FROM certificates c LEFT JOIN ocsp_responses o ON o.serial = c.serial
	WHERE c.ca_id = $1 AND c.serial > $2 AND (o.serial IS NULL OR o.next_update < $3)
	ORDER BY c.serial LIMIT $4`

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
	defer tx.rollback()
	// FOR SHARE: a revocation or hold release of this certificate (FOR
	// UPDATE) waits until this response is stored, and then deletes it; one
	// that came first has committed before this read returns, which sees it.
	var caID, status string
	err = tx.QueryRow(ctx, `SELECT ca_id, status FROM certificates WHERE serial = $1 FOR SHARE`, resp.Serial).Scan(&caID, &status)
	if errors.Is(err, pgx.ErrNoRows) {
		return selo.Errorf(selo.ENOTFOUND, "certificate %s not found", resp.Serial)
	} else if err != nil {
		return fmt.Errorf("find certificate %s: %w", resp.Serial, err)
	}
	if err := check.OCSPResponseOf(resp, caID, selo.CertificateStatus(status)); err != nil {
		return err
	}
	resp.ThisUpdate, resp.NextUpdate = micro(resp.ThisUpdate), micro(resp.NextUpdate)
	if _, err := tx.Exec(ctx, `INSERT INTO ocsp_responses (`+ocspResponseColumns+`) VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (serial) DO UPDATE SET ca_id = excluded.ca_id, status = excluded.status,
			this_update = excluded.this_update, next_update = excluded.next_update, der = excluded.der`,
		resp.Serial, resp.CAID, resp.Status, resp.ThisUpdate, resp.NextUpdate, resp.DER); err != nil {
		return fmt.Errorf("save OCSP response for %s: %w", resp.Serial, err)
	}
	return tx.commit(ctx, "save OCSP response")
}

// FindOCSPResponse returns the stored response for serial, or ENOTFOUND.
func (db *DB) FindOCSPResponse(ctx context.Context, serial string) (*selo.OCSPResponse, error) {
	var resp selo.OCSPResponse
	err := db.pool.QueryRow(ctx, `SELECT `+ocspResponseColumns+` FROM ocsp_responses WHERE serial = $1`, serial).
		Scan(&resp.Serial, &resp.CAID, &resp.Status, &resp.ThisUpdate, &resp.NextUpdate, &resp.DER)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, selo.Errorf(selo.ENOTFOUND, "no OCSP response stored for %s", serial)
	} else if err != nil {
		return nil, fmt.Errorf("find OCSP response for %s: %w", serial, err)
	}
	resp.ThisUpdate, resp.NextUpdate = resp.ThisUpdate.UTC(), resp.NextUpdate.UTC()
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
	rows, err := db.pool.Query(ctx, listCertificatesNeedingOCSPSQL, caID, afterSerial, before, int64(limit))
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
	tx, err := db.beginBatch(ctx)
	if err != nil {
		return err
	}
	defer tx.end()
	if signer.CreatedAt.IsZero() {
		signer.CreatedAt = tx.now
	}
	signer.NotAfter, signer.CreatedAt = micro(signer.NotAfter), micro(signer.CreatedAt)
	caID := signer.CAID
	tx.exec(func(_ pgconn.CommandTag, err error) error {
		if isForeignKeyViolation(err) {
			return selo.Errorf(selo.ENOTFOUND, "CA %q not found", caID)
		} else if err != nil {
			return fmt.Errorf("save OCSP signer of ca %s: %w", caID, err)
		}
		return nil
	}, `INSERT INTO ocsp_signers (ca_id, key_id, cert_der, not_after, created_at)
		VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (ca_id) DO UPDATE SET key_id = excluded.key_id, cert_der = excluded.cert_der,
			not_after = excluded.not_after, created_at = excluded.created_at`,
		signer.CAID, signer.KeyID, signer.CertDER, signer.NotAfter, signer.CreatedAt)
	return tx.commitAudited(ctx, audit, "save OCSP signer")
}

// FindOCSPSigner returns the CA's current OCSP signer, or ENOTFOUND.
func (db *DB) FindOCSPSigner(ctx context.Context, caID string) (*selo.OCSPSigner, error) {
	var s selo.OCSPSigner
	err := db.pool.QueryRow(ctx, `SELECT ca_id, key_id, cert_der, not_after, created_at
		FROM ocsp_signers WHERE ca_id = $1`, caID).Scan(&s.CAID, &s.KeyID, &s.CertDER, &s.NotAfter, &s.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, selo.Errorf(selo.ENOTFOUND, "CA %q has no OCSP signer", caID)
	} else if err != nil {
		return nil, fmt.Errorf("find OCSP signer of ca %s: %w", caID, err)
	}
	s.NotAfter, s.CreatedAt = s.NotAfter.UTC(), s.CreatedAt.UTC()
	return &s, nil
}

// statusChangeOverlap is how far before the previous poll StatusChanges
// reads again: a sequence does not follow commit order, and a row written
// at changed_at may commit later, so every status-changing transaction
// must be shorter than this (they are a few statements each).
const statusChangeOverlap = time.Minute

// statusChangeHorizon is how old a cursor may be: older, and the changes
// since may have been pruned, so the answer is incomplete.
const statusChangeHorizon = time.Hour

// StatusChanges returns the serials of the status changes written since
// the cursor (the database's clock_timestamp() in microseconds at the
// previous call) less statusChangeOverlap, and the database's clock now as
// the next cursor, read before the rows.
func (db *DB) StatusChanges(ctx context.Context, cursor int64, limit int) ([]string, int64, bool, error) {
	if limit <= 0 || cursor < 0 {
		return nil, 0, false, selo.Errorf(selo.EINVALID, "status changes: need a positive limit and a cursor the store returned")
	}
	var now time.Time
	if err := db.pool.QueryRow(ctx, `SELECT clock_timestamp()`).Scan(&now); err != nil {
		return nil, 0, false, fmt.Errorf("status changes: %w", err)
	}
	next := now.UnixMicro()
	if cursor == 0 {
		return nil, next, true, nil
	}
	prev := time.UnixMicro(cursor)
	if prev.After(now) || now.Sub(prev) > statusChangeHorizon {
		return nil, next, false, nil
	}
	rows, err := db.pool.Query(ctx, `SELECT serial FROM status_changes WHERE changed_at > $1 ORDER BY changed_at LIMIT $2`,
		prev.Add(-statusChangeOverlap), limit)
	if err != nil {
		return nil, 0, false, fmt.Errorf("status changes: %w", err)
	}
	serials, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, 0, false, fmt.Errorf("status changes: %w", err)
	}
	return serials, next, len(serials) < limit, nil
}

// PruneStatusChanges deletes the status changes recorded more than keep ago.
func (db *DB) PruneStatusChanges(ctx context.Context, keep time.Duration) (int64, error) {
	if keep <= 0 {
		return 0, selo.Errorf(selo.EINVALID, "status changes: keep must be positive")
	}
	tag, err := db.pool.Exec(ctx, `DELETE FROM status_changes WHERE changed_at < clock_timestamp() - $1::interval`, keep)
	if err != nil {
		return 0, fmt.Errorf("prune status changes: %w", err)
	}
	return tag.RowsAffected(), nil
}
