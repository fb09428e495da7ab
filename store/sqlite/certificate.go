package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/store/internal/check"
)

// certificateColumns is the column list every certificate query selects, in
// the order scanCertificate reads.
const certificateColumns = `serial, ca_id, profile, subject, not_before, not_after, der, status,
	key_id, reissued_from, superseded_by, lint_results, created_at`

// Queries for ListCertificates, one per combination of filters, so that each
// is a constant the planner can match to an index. Arguments: after serial,
// [ca_id], [status], limit (-1 for none).
const (
	listCertificatesSQL = `SELECT ` + certificateColumns + ` FROM certificates
		WHERE serial > ? ORDER BY serial LIMIT ?`
	listCertificatesByCASQL = `SELECT ` + certificateColumns + ` FROM certificates
		WHERE serial > ? AND ca_id = ? ORDER BY serial LIMIT ?`
	listCertificatesByStatusSQL = `SELECT ` + certificateColumns + ` FROM certificates
		WHERE serial > ? AND status = ? ORDER BY serial LIMIT ?`
	listCertificatesByCAAndStatusSQL = `SELECT ` + certificateColumns + ` FROM certificates
		WHERE serial > ? AND ca_id = ? AND status = ? ORDER BY serial LIMIT ?`
)

// CreateCertificate inserts cert and appends audit in one transaction;
// ECONFLICT when the serial exists, ENOTFOUND when its CA does not. A zero
// CreatedAt is set from the store's clock and an empty Status to valid; cert
// is updated to hold exactly what was stored.
func (db *DB) CreateCertificate(ctx context.Context, cert *selo.Certificate, audit *selo.AuditEntry) error {
	if err := check.Certificate(cert); err != nil {
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
	if err := createCertificate(ctx, tx, cert); err != nil {
		return err
	}
	if err := appendAudit(ctx, tx, audit); err != nil {
		return err
	}
	return tx.commit("create certificate")
}

// FindCertificate returns the certificate with this serial, or ENOTFOUND.
func (db *DB) FindCertificate(ctx context.Context, serial string) (*selo.Certificate, error) {
	return certificateBySerial(db.readRow(ctx, findCertificateSQL, serial), serial)
}

// ListCertificates returns the certificates that match filter, ordered by
// serial. AfterSerial and Limit page through them without OFFSET, so a page
// costs the same however deep it is.
func (db *DB) ListCertificates(ctx context.Context, filter selo.CertificateFilter) ([]*selo.Certificate, error) {
	if filter.Limit < 0 {
		return nil, selo.Errorf(selo.EINVALID, "negative limit %d", filter.Limit)
	}
	limit := int64(filter.Limit)
	if limit == 0 {
		limit = -1
	}
	var rows *sql.Rows
	var err error
	switch {
	case filter.CAID != "" && filter.Status != "":
		rows, err = db.read.QueryContext(ctx, listCertificatesByCAAndStatusSQL, filter.AfterSerial, filter.CAID, string(filter.Status), limit)
	case filter.CAID != "":
		rows, err = db.read.QueryContext(ctx, listCertificatesByCASQL, filter.AfterSerial, filter.CAID, limit)
	case filter.Status != "":
		rows, err = db.read.QueryContext(ctx, listCertificatesByStatusSQL, filter.AfterSerial, string(filter.Status), limit)
	default:
		rows, err = db.read.QueryContext(ctx, listCertificatesSQL, filter.AfterSerial, limit)
	}
	if err != nil {
		return nil, fmt.Errorf("list certificates: %w", err)
	}
	defer rows.Close()
	var certs []*selo.Certificate
	for rows.Next() {
		c, err := scanCertificate(rows)
		if err != nil {
			return nil, fmt.Errorf("list certificates: %w", err)
		}
		certs = append(certs, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list certificates: %w", err)
	}
	return certs, nil
}

// ListCertificatesByKey returns every certificate for the key with this
// SubjectPublicKeyInfo SHA-256, by serial.
func (db *DB) ListCertificatesByKey(ctx context.Context, keyHash string) ([]*selo.Certificate, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT `+certificateColumns+` FROM certificates
		WHERE spki_sha256 = ? ORDER BY serial`, keyHash)
	if err != nil {
		return nil, fmt.Errorf("list certificates by key: %w", err)
	}
	defer rows.Close()
	var certs []*selo.Certificate
	for rows.Next() {
		c, err := scanCertificate(rows)
		if err != nil {
			return nil, fmt.Errorf("list certificates by key: %w", err)
		}
		certs = append(certs, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list certificates by key: %w", err)
	}
	return certs, nil
}

// backfillKeyHashes sets spki_sha256 of the certificates stored before
// migration 005, a page at a time.
func (db *DB) backfillKeyHashes(ctx context.Context) error {
	for {
		rows, err := db.write.QueryContext(ctx, `SELECT serial, der FROM certificates WHERE spki_sha256 = '' LIMIT 500`)
		if err != nil {
			return fmt.Errorf("backfill key hashes: %w", err)
		}
		type row struct {
			serial string
			der    []byte
		}
		var page []row
		for rows.Next() {
			var r row
			if err := rows.Scan(&r.serial, &r.der); err != nil {
				rows.Close()
				return fmt.Errorf("backfill key hashes: %w", err)
			}
			page = append(page, r)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("backfill key hashes: %w", err)
		}
		if len(page) == 0 {
			return nil
		}
		for _, r := range page {
			if _, err := db.write.ExecContext(ctx, `UPDATE certificates SET spki_sha256 = ? WHERE serial = ?`, check.KeyHash(r.der), r.serial); err != nil {
				return fmt.Errorf("backfill key hashes: %w", err)
			}
		}
	}
}

// SupersedeCertificate stores replacement, marks oldSerial superseded by it
// and appends audit, all in one transaction. ENOTFOUND when oldSerial does
// not exist, ECONFLICT when it is not valid (already superseded or revoked)
// or when the replacement's serial exists. An empty replacement.ReissuedFrom
// is set to oldSerial; any other value is EINVALID.
func (db *DB) SupersedeCertificate(ctx context.Context, oldSerial string, replacement *selo.Certificate, audit *selo.AuditEntry) error {
	if err := check.Replacement(oldSerial, replacement); err != nil {
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
	// The immediate transaction holds the write lock, so the status read here
	// cannot change before the update below.
	old, err := findCertificateBySerial(ctx, tx, oldSerial)
	if err != nil {
		return err
	}
	if old.Status != selo.CertValid {
		return selo.Errorf(selo.ECONFLICT, "certificate %s is %s; only a valid certificate can be superseded", oldSerial, old.Status)
	}
	if err := createCertificate(ctx, tx, replacement); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE certificates SET status = ?, superseded_by = ? WHERE serial = ?`,
		string(selo.CertSuperseded), replacement.Serial, oldSerial); err != nil {
		return fmt.Errorf("mark certificate %s superseded: %w", oldSerial, err)
	}
	moved, err := moveCredentials(ctx, tx, oldSerial, replacement.Serial)
	if err != nil {
		return err
	}
	if err := appendAudit(ctx, tx, audit); err != nil {
		return err
	}
	for _, id := range moved {
		if err := appendAudit(ctx, tx, check.CredentialMoved(audit, id, oldSerial, replacement.Serial)); err != nil {
			return err
		}
	}
	return tx.commit("supersede certificate")
}

// moveCredentials points every credential certified by oldSerial at
// newSerial inside tx and returns their IDs, sorted.
func moveCredentials(ctx context.Context, tx *Tx, oldSerial, newSerial string) ([]string, error) {
	rows, err := tx.QueryContext(ctx, `UPDATE credentials SET certificate_serial = ? WHERE certificate_serial = ? RETURNING id`, newSerial, oldSerial)
	if err != nil {
		return nil, fmt.Errorf("move credentials of certificate %s: %w", oldSerial, err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("move credentials of certificate %s: %w", oldSerial, err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("move credentials of certificate %s: %w", oldSerial, err)
	}
	slices.Sort(ids)
	return ids, nil
}

// createCertificate inserts cert inside tx.
func createCertificate(ctx context.Context, tx *Tx, cert *selo.Certificate) error {
	if cert.CreatedAt.IsZero() {
		cert.CreatedAt = tx.now
	}
	cert.NotBefore = fromMicros(toMicros(cert.NotBefore))
	cert.NotAfter = fromMicros(toMicros(cert.NotAfter))
	cert.CreatedAt = fromMicros(toMicros(cert.CreatedAt))
	_, err := tx.ExecContext(ctx, `INSERT INTO certificates (`+certificateColumns+`, spki_sha256)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		cert.Serial, cert.CAID, cert.Profile, cert.Subject, toMicros(cert.NotBefore), toMicros(cert.NotAfter),
		cert.DER, string(cert.Status), cert.KeyID, cert.ReissuedFrom, cert.SupersededBy, cert.LintResults,
		toMicros(cert.CreatedAt), check.KeyHash(cert.DER))
	switch {
	case isUniqueViolation(err):
		return selo.Errorf(selo.ECONFLICT, "certificate serial %s already exists", cert.Serial)
	case isForeignKeyViolation(err):
		return selo.Errorf(selo.ENOTFOUND, "CA %q not found", cert.CAID)
	case err != nil:
		return fmt.Errorf("insert certificate %s: %w", cert.Serial, err)
	}
	return nil
}

// findCertificateBySerial returns the certificate with this serial, or ENOTFOUND.
func findCertificateBySerial(ctx context.Context, q querier, serial string) (*selo.Certificate, error) {
	return certificateBySerial(q.QueryRowContext(ctx, findCertificateSQL, serial), serial)
}

// findCertificateSQL reads one certificate by serial.
const findCertificateSQL = `SELECT ` + certificateColumns + ` FROM certificates WHERE serial = ?`

// certificateBySerial reads row, the answer to a query for the certificate
// with this serial: ENOTFOUND when there is none.
func certificateBySerial(row *sql.Row, serial string) (*selo.Certificate, error) {
	c, err := scanCertificate(row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, selo.Errorf(selo.ENOTFOUND, "certificate %s not found", serial)
	} else if err != nil {
		return nil, fmt.Errorf("find certificate %s: %w", serial, err)
	}
	return c, nil
}

// scanCertificate reads one row of certificateColumns.
func scanCertificate(s scanner) (*selo.Certificate, error) {
	var c selo.Certificate
	var status string
	var notBefore, notAfter, created int64
	if err := s.Scan(&c.Serial, &c.CAID, &c.Profile, &c.Subject, &notBefore, &notAfter, &c.DER, &status,
		&c.KeyID, &c.ReissuedFrom, &c.SupersededBy, &c.LintResults, &created); err != nil {
		return nil, err
	}
	c.Status = selo.CertificateStatus(status)
	c.NotBefore, c.NotAfter, c.CreatedAt = fromMicros(notBefore), fromMicros(notAfter), fromMicros(created)
	return &c, nil
}
