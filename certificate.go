package selo

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"time"
)

// CertificateStatus is the life-cycle state of an issued certificate.
type CertificateStatus string

// Certificate statuses. A superseded certificate was re-issued under a new CA;
// it is not revoked.
const (
	CertValid      CertificateStatus = "valid"
	CertRevoked    CertificateStatus = "revoked"
	CertSuperseded CertificateStatus = "superseded"
)

// Certificate is an end-entity certificate Selo issued.
type Certificate struct {
	Serial       string // lower-case hex, no leading zeros beyond what big.Int.Text(16) gives
	CAID         string
	Profile      string
	Subject      string // RFC 4514 form, for display and search
	NotBefore    time.Time
	NotAfter     time.Time
	DER          []byte
	Status       CertificateStatus
	KeyID        string // key store ID when Selo holds the private key, else ""
	ReissuedFrom string // serial of the certificate this one replaces, if any
	SupersededBy string // serial of the certificate that replaced this one, if any
	LintResults  []byte // JSON: the zlint findings kept with the issuance record
	CreatedAt    time.Time
}

// CertificateFilter narrows ListCertificates. Zero values match everything.
type CertificateFilter struct {
	CAID        string
	Status      CertificateStatus
	AfterSerial string // keyset pagination: serials strictly greater than this
	Limit       int    // 0 means no limit
}

// CertificateStore persists issued certificates. Every write appends its audit
// entry in the same transaction, so there is never a certificate without its
// audit entry nor an audit entry for a certificate that does not exist.
type CertificateStore interface {
	// CreateCertificate inserts a certificate; ECONFLICT when the serial exists.
	CreateCertificate(ctx context.Context, cert *Certificate, audit *AuditEntry) error
	// FindCertificate returns the certificate with this serial, or ENOTFOUND.
	FindCertificate(ctx context.Context, serial string) (*Certificate, error)
	// ListCertificates returns certificates ordered by serial.
	ListCertificates(ctx context.Context, filter CertificateFilter) ([]*Certificate, error)
	// ListCertificatesByKey returns every certificate whose SubjectPublicKeyInfo
	// has this SHA-256 (lower-case hex, see KeyHash), of any CA and status,
	// ordered by serial.
	ListCertificatesByKey(ctx context.Context, keyHash string) ([]*Certificate, error)
	// SupersedeCertificate stores replacement (a re-issue of oldSerial) and marks
	// oldSerial superseded by it, atomically. ECONFLICT when oldSerial is already
	// superseded or not valid; ENOTFOUND when it does not exist. Every
	// credential certified by oldSerial is moved to the replacement in the
	// same transaction (a re-issue keeps the key), each with an audit entry
	// "credential.certificate.update" after audit, so that no credential is
	// ever left on a superseded certificate.
	SupersedeCertificate(ctx context.Context, oldSerial string, replacement *Certificate, audit *AuditEntry) error
}

// KeyHash returns the lower-case hex SHA-256 of the SubjectPublicKeyInfo of
// a DER certificate: what identifies the key of every certificate issued
// for it, whatever the CA.
func KeyHash(certDER []byte) (string, error) {
	c, err := x509.ParseCertificate(certDER)
	if err != nil {
		return "", Errorf(EINVALID, "certificate does not parse: %v", err)
	}
	sum := sha256.Sum256(c.RawSubjectPublicKeyInfo)
	return hex.EncodeToString(sum[:]), nil
}
