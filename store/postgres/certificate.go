package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/store/internal/check"
)

// certificateColumns is the column list every certificate query selects, in
// the order scanCertificate reads.
const certificateColumns = `serial, ca_id, profile, subject, not_before, not_after, der, status,
	key_id, reissued_from, superseded_by, lint_results, created_at`

// Queries for ListCertificates, one per combination of filters, so that each
// is a constant whose plan can use the matching index. Arguments: after
// serial, [ca_id], [status], limit (NULL for none).
const (
	listCertificatesSQL = `SELECT ` + certificateColumns + ` FROM certificates
		WHERE serial > $1 ORDER BY serial LIMIT $2`
	listCertificatesByCASQL = `SELECT ` + certificateColumns + ` FROM certificates
		WHERE serial > $1 AND ca_id = $2 ORDER BY serial LIMIT $3`
	listCertificatesByStatusSQL = `SELECT ` + certificateColumns + ` FROM certificates
		WHERE serial > $1 AND status = $2 ORDER BY serial LIMIT $3`
	listCertificatesByCAAndStatusSQL = `SELECT ` + certificateColumns + ` FROM certificates
		WHERE serial > $1 AND ca_id = $2 AND status = $3 ORDER BY serial LIMIT $4`
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
	if err := check.AuditEntry(audit); err != nil {
		return err
	}
	return db.createCertificateGrouped(ctx, cert, audit)
}

// createCertificateAlone is CreateCertificate in a transaction of its own.
func (db *DB) createCertificateAlone(ctx context.Context, cert *selo.Certificate, audit *selo.AuditEntry) error {
	tx, err := db.beginBatch(ctx)
	if err != nil {
		return err
	}
	defer tx.end()
	createCertificate(tx, cert)
	return tx.commitAudited(ctx, audit, "create certificate")
}

// FindCertificate returns the certificate with this serial, or ENOTFOUND.
func (db *DB) FindCertificate(ctx context.Context, serial string) (*selo.Certificate, error) {
	return findCertificateBySerial(ctx, db.pool, serial)
}

// ListCertificates returns the certificates that match filter, ordered by
// serial. AfterSerial and Limit page through them without OFFSET, so a page
// costs the same however deep it is.
func (db *DB) ListCertificates(ctx context.Context, filter selo.CertificateFilter) ([]*selo.Certificate, error) {
	if filter.Limit < 0 {
		return nil, selo.Errorf(selo.EINVALID, "negative limit %d", filter.Limit)
	}
	var limit *int64 // LIMIT NULL is no limit
	if filter.Limit > 0 {
		n := int64(filter.Limit)
		limit = &n
	}
	var rows pgx.Rows
	var err error
	switch {
	case filter.CAID != "" && filter.Status != "":
		rows, err = db.pool.Query(ctx, listCertificatesByCAAndStatusSQL, filter.AfterSerial, filter.CAID, string(filter.Status), limit)
	case filter.CAID != "":
		rows, err = db.pool.Query(ctx, listCertificatesByCASQL, filter.AfterSerial, filter.CAID, limit)
	case filter.Status != "":
		rows, err = db.pool.Query(ctx, listCertificatesByStatusSQL, filter.AfterSerial, string(filter.Status), limit)
	default:
		rows, err = db.pool.Query(ctx, listCertificatesSQL, filter.AfterSerial, limit)
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
	tx, err := db.beginBatch(ctx)
	if err != nil {
		return err
	}
	defer tx.end()
	// FOR UPDATE: a second supersession of the same certificate waits here
	// and then sees it superseded. BEGIN and this read are one round trip.
	var old *selo.Certificate
	tx.queryRow(func(row pgx.Row) error {
		old, err = certificateBySerial(row, oldSerial)
		return err
	}, findCertificateForUpdateSQL, oldSerial)
	if err := tx.flush(ctx); err != nil {
		return err
	}
	if old.Status != selo.CertValid {
		return selo.Errorf(selo.ECONFLICT, "certificate %s is %s; only a valid certificate can be superseded", oldSerial, old.Status)
	}
	createCertificate(tx, replacement)
	tx.exec(func(_ pgconn.CommandTag, err error) error {
		if err != nil {
			return fmt.Errorf("mark certificate %s superseded: %w", oldSerial, err)
		}
		return nil
	}, `UPDATE certificates SET status = $1, superseded_by = $2 WHERE serial = $3`,
		string(selo.CertSuperseded), replacement.Serial, oldSerial)
	// The credentials certified by the old certificate sign with the new one
	// from this commit on: never a credential left on a superseded certificate.
	var moved []string
	tx.query(func(rows pgx.Rows, err error) error {
		if err != nil {
			return fmt.Errorf("move credentials of certificate %s: %w", oldSerial, err)
		}
		moved, err = pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return fmt.Errorf("move credentials of certificate %s: %w", oldSerial, err)
		}
		return nil
	}, `UPDATE credentials SET certificate_serial = $1 WHERE certificate_serial = $2 RETURNING id`, replacement.Serial, oldSerial)
	if err := check.AuditEntry(audit); err != nil {
		return err
	}
	return tx.commitAuditedEntries(ctx, "supersede certificate", func() []*selo.AuditEntry {
		slices.Sort(moved)
		entries := []*selo.AuditEntry{audit}
		for _, id := range moved {
			entries = append(entries, check.CredentialMoved(audit, id, oldSerial, replacement.Serial))
		}
		return entries
	})
}

// createCertificate queues the insert of cert in tx; the flush that sends it
// returns ECONFLICT when the serial exists, ENOTFOUND when its CA does not.
func createCertificate(tx *batchTx, cert *selo.Certificate) {
	prepareCertificate(tx, cert)
	serial, caID := cert.Serial, cert.CAID
	tx.exec(func(_ pgconn.CommandTag, err error) error {
		switch {
		case isUniqueViolation(err):
			return selo.Errorf(selo.ECONFLICT, "certificate serial %s already exists", serial)
		case isForeignKeyViolation(err):
			return selo.Errorf(selo.ENOTFOUND, "CA %q not found", caID)
		case err != nil:
			return fmt.Errorf("insert certificate %s: %w", serial, err)
		}
		return nil
	}, insertCertificateSQL, certificateArgs(cert)...)
}

// insertCertificateSQL inserts a certificate; certificateArgs are its
// arguments.
const insertCertificateSQL = `INSERT INTO certificates (` + certificateColumns + `, spki_sha256)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`

func certificateArgs(cert *selo.Certificate) []any {
	return []any{cert.Serial, cert.CAID, cert.Profile, cert.Subject, cert.NotBefore, cert.NotAfter,
		cert.DER, string(cert.Status), cert.KeyID, cert.ReissuedFrom, cert.SupersededBy, cert.LintResults, cert.CreatedAt,
		check.KeyHash(cert.DER)}
}

// insertCertificatesSQL inserts several certificates, one array per column
// (certificateColumnArrays), skips those whose serial is taken and returns
// the serials inserted.
const insertCertificatesSQL = `INSERT INTO certificates (` + certificateColumns + `, spki_sha256)
	SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::timestamptz[],
		$7::bytea[], $8::text[], $9::text[], $10::text[], $11::text[], $12::bytea[], $13::timestamptz[], $14::text[])
	ON CONFLICT (serial) DO NOTHING
	RETURNING serial`

// certificateColumnArrays returns the arguments of insertCertificatesSQL.
func certificateColumnArrays(certs []*selo.Certificate) []any {
	n := len(certs)
	serial, caID, profile, subject := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	notBefore, notAfter, createdAt := make([]time.Time, n), make([]time.Time, n), make([]time.Time, n)
	der, lint := make([][]byte, n), make([][]byte, n)
	status, keyID, reissuedFrom, supersededBy := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	keyHash := make([]string, n)
	for i, c := range certs {
		keyHash[i] = check.KeyHash(c.DER)
		serial[i], caID[i], profile[i], subject[i] = c.Serial, c.CAID, c.Profile, c.Subject
		notBefore[i], notAfter[i], createdAt[i] = c.NotBefore, c.NotAfter, c.CreatedAt
		der[i], lint[i] = c.DER, c.LintResults
		status[i], keyID[i], reissuedFrom[i], supersededBy[i] = string(c.Status), c.KeyID, c.ReissuedFrom, c.SupersededBy
	}
	return []any{serial, caID, profile, subject, notBefore, notAfter, der, status, keyID, reissuedFrom, supersededBy, lint, createdAt, keyHash}
}

// prepareCertificate sets cert's creation time from tx's clock when it is
// zero and rounds its times to what PostgreSQL stores.
func prepareCertificate(tx *batchTx, cert *selo.Certificate) {
	if cert.CreatedAt.IsZero() {
		cert.CreatedAt = tx.now
	}
	cert.NotBefore, cert.NotAfter, cert.CreatedAt = micro(cert.NotBefore), micro(cert.NotAfter), micro(cert.CreatedAt)
}

// Queries for one certificate by serial. Argument: serial.
const (
	findCertificateSQL          = `SELECT ` + certificateColumns + ` FROM certificates WHERE serial = $1`
	findCertificateForUpdateSQL = findCertificateSQL + ` FOR UPDATE`
)

// findCertificateBySerial returns the certificate with this serial, or
// ENOTFOUND.
func findCertificateBySerial(ctx context.Context, q querier, serial string) (*selo.Certificate, error) {
	return certificateBySerial(q.QueryRow(ctx, findCertificateSQL, serial), serial)
}

// certificateBySerial reads row, the answer to a query for the certificate
// with this serial: ENOTFOUND when there is none.
func certificateBySerial(row pgx.Row, serial string) (*selo.Certificate, error) {
	c, err := scanCertificate(row)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, selo.Errorf(selo.ENOTFOUND, "certificate %s not found", serial)
	} else if err != nil {
		return nil, fmt.Errorf("find certificate %s: %w", serial, err)
	}
	return c, nil
}

// scanCertificate reads one row of certificateColumns.
func scanCertificate(row pgx.Row) (*selo.Certificate, error) {
	var c selo.Certificate
	var status string
	if err := row.Scan(&c.Serial, &c.CAID, &c.Profile, &c.Subject, &c.NotBefore, &c.NotAfter, &c.DER, &status,
		&c.KeyID, &c.ReissuedFrom, &c.SupersededBy, &c.LintResults, &c.CreatedAt); err != nil {
		return nil, err
	}
	c.Status = selo.CertificateStatus(status)
	c.NotBefore, c.NotAfter, c.CreatedAt = c.NotBefore.UTC(), c.NotAfter.UTC(), c.CreatedAt.UTC()
	return &c, nil
}

// ListCertificatesByKey returns every certificate for the key with this
// SubjectPublicKeyInfo SHA-256, by serial.
func (db *DB) ListCertificatesByKey(ctx context.Context, keyHash string) ([]*selo.Certificate, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+certificateColumns+` FROM certificates
		WHERE spki_sha256 = $1 ORDER BY serial`, keyHash)
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
		rows, err := db.pool.Query(ctx, `SELECT serial, der FROM certificates WHERE spki_sha256 = '' LIMIT 500`)
		if err != nil {
			return fmt.Errorf("backfill key hashes: %w", err)
		}
		var serials, hashes []string
		for rows.Next() {
			var serial string
			var der []byte
			if err := rows.Scan(&serial, &der); err != nil {
				rows.Close()
				return fmt.Errorf("backfill key hashes: %w", err)
			}
			serials, hashes = append(serials, serial), append(hashes, check.KeyHash(der))
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("backfill key hashes: %w", err)
		}
		if len(serials) == 0 {
			return nil
		}
		if _, err := db.pool.Exec(ctx, `UPDATE certificates c SET spki_sha256 = u.h
			FROM unnest($1::text[], $2::text[]) AS u(s, h) WHERE c.serial = u.s`, serials, hashes); err != nil {
			return fmt.Errorf("backfill key hashes: %w", err)
		}
	}
}
