package selo

import (
	"context"
	"strconv"
	"strings"
	"time"
)

// RevocationReason is an RFC 5280 CRLReason code (section 5.3.1).
type RevocationReason int

// The RFC 5280 reason codes. 7 is not used.
const (
	ReasonUnspecified          RevocationReason = 0
	ReasonKeyCompromise        RevocationReason = 1
	ReasonCACompromise         RevocationReason = 2
	ReasonAffiliationChanged   RevocationReason = 3
	ReasonSuperseded           RevocationReason = 4
	ReasonCessationOfOperation RevocationReason = 5
	ReasonCertificateHold      RevocationReason = 6
	ReasonRemoveFromCRL        RevocationReason = 8
	ReasonPrivilegeWithdrawn   RevocationReason = 9
	ReasonAACompromise         RevocationReason = 10
)

var reasonNames = map[RevocationReason]string{
	ReasonUnspecified:          "unspecified",
	ReasonKeyCompromise:        "keyCompromise",
	ReasonCACompromise:         "cACompromise",
	ReasonAffiliationChanged:   "affiliationChanged",
	ReasonSuperseded:           "superseded",
	ReasonCessationOfOperation: "cessationOfOperation",
	ReasonCertificateHold:      "certificateHold",
	ReasonRemoveFromCRL:        "removeFromCRL",
	ReasonPrivilegeWithdrawn:   "privilegeWithdrawn",
	ReasonAACompromise:         "aACompromise",
}

// String returns the RFC 5280 name, e.g. "keyCompromise".
func (r RevocationReason) String() string {
	if n, ok := reasonNames[r]; ok {
		return n
	}
	return "reason(" + strconv.Itoa(int(r)) + ")"
}

// Valid reports whether r is a reason a revocation may carry. removeFromCRL
// only appears in delta CRLs, so it is not a reason to revoke with.
func (r RevocationReason) Valid() bool {
	_, ok := reasonNames[r]
	return ok && r != ReasonRemoveFromCRL
}

// ParseRevocationReason reads an RFC 5280 reason name, case-insensitively
// ("keyCompromise", "keycompromise", "key-compromise" and "key_compromise" all
// work). The empty string means unspecified.
func ParseRevocationReason(s string) (RevocationReason, error) {
	norm := strings.ToLower(strings.NewReplacer("-", "", "_", "", " ", "").Replace(s))
	if norm == "" {
		return ReasonUnspecified, nil
	}
	for r, n := range reasonNames {
		if strings.ToLower(n) == norm && r.Valid() {
			return r, nil
		}
	}
	return 0, Errorf(EINVALID, "unknown revocation reason %q; use one of unspecified, keyCompromise, cACompromise, affiliationChanged, superseded, cessationOfOperation, certificateHold, privilegeWithdrawn, aACompromise", s)
}

// Revocation is the record that a certificate is revoked. There is at most one
// per certificate; releasing a certificateHold deletes it.
type Revocation struct {
	Serial         string // the certificate's serial, as in Certificate.Serial
	CAID           string // the issuing CA, copied from the certificate
	Reason         RevocationReason
	RevokedAt      time.Time // set by the store's clock when zero
	InvalidityDate time.Time // zero when not given
	Actor          string    // who revoked, as in AuditEntry.Actor
}

// CRL is a certificate revocation list as published.
type CRL struct {
	CAID       string
	Number     int64 // the cRLNumber extension; strictly increasing per CA
	ThisUpdate time.Time
	NextUpdate time.Time
	Entries    int64  // how many revoked certificates it lists
	DER        []byte // the signed CRL
	CreatedAt  time.Time
}

// CRLState is what decides whether a CA needs a new CRL: the latest published
// one, the last number reserved, and the newest revocation it lists or must list.
type CRLState struct {
	// Published is the number of the latest stored CRL (0: none), with its
	// ThisUpdate and NextUpdate.
	Published              int64
	ThisUpdate, NextUpdate time.Time
	// Reserved is the last number NextCRLNumber handed out (0: none). Higher
	// than Published means a publication began and did not finish (a crash).
	Reserved int64
	// LatestRevocation is the RevokedAt of the CA's newest revocation,
	// including those of the CA certificates it issued (zero: none).
	LatestRevocation time.Time
}

// OCSPResponse is a pre-signed OCSP response for one certificate, as served by
// the responder for requests without a nonce.
type OCSPResponse struct {
	Serial     string
	CAID       string
	Status     string // "good" or "revoked"
	ThisUpdate time.Time
	NextUpdate time.Time
	DER        []byte
}

// OCSPSigner is a CA's delegated OCSP signing certificate (id-kp-OCSPSigning,
// id-pkix-ocsp-nocheck) whose key lives in the key store.
type OCSPSigner struct {
	CAID      string
	KeyID     string
	CertDER   []byte
	NotAfter  time.Time
	CreatedAt time.Time
}

// RevocationStore keeps revocations, CRLs and OCSP responses.
type RevocationStore interface {
	// RevokeCertificate records rev and appends audit in one transaction, sets
	// the certificate's status to revoked and deletes its stored OCSP response
	// (so no stale "good" answer outlives the revocation). It returns the
	// revocation in force and whether this call created it. If the certificate
	// is already revoked, it returns the first revocation, false and a nil error
	// and appends nothing. ENOTFOUND if the certificate does not exist,
	// EINVALID if rev's reason is not Valid or its CAID names another CA than
	// the certificate's. An empty CAID is filled in from the certificate and an
	// empty Actor from audit.
	RevokeCertificate(ctx context.Context, rev *Revocation, audit *AuditEntry) (*Revocation, bool, error)
	// ReleaseHold deletes a certificateHold revocation, restores the status the
	// certificate had (valid, or superseded when it has a SupersededBy), deletes
	// its stored OCSP response and appends audit, in one transaction. ENOTFOUND
	// if there is no revocation, EFORBIDDEN if its reason is not certificateHold.
	ReleaseHold(ctx context.Context, serial string, audit *AuditEntry) error
	// FindRevocation returns the revocation of a certificate or ENOTFOUND.
	FindRevocation(ctx context.Context, serial string) (*Revocation, error)
	// ForEachRevocation calls fn for every revocation of the CA, in serial
	// order, in one consistent read, streaming rows (never loading them all).
	// fn must not keep rev after it returns: the store may reuse it. An error
	// from fn stops the walk and is returned. A CA without revocations, or an
	// unknown one, makes no call.
	ForEachRevocation(ctx context.Context, caID string, fn func(rev *Revocation) error) error

	// NextCRLNumber atomically increments and returns the CA's CRL number
	// (1 for the first call). The increment is durable before it returns, so a
	// number is never handed out twice, even across a crash. ENOTFOUND if the
	// CA does not exist.
	NextCRLNumber(ctx context.Context, caID string) (int64, error)
	// SaveCRL stores crl as the CA's latest if its number is higher than the
	// stored one; an older or equal number is ignored (nil error). ENOTFOUND if
	// the CA does not exist.
	SaveCRL(ctx context.Context, crl *CRL) error
	// LatestCRL returns the CA's newest CRL or ENOTFOUND.
	LatestCRL(ctx context.Context, caID string) (*CRL, error)
	// CRLInfo is LatestCRL without the DER, for cheap freshness checks.
	CRLInfo(ctx context.Context, caID string) (*CRL, error)

	// RevokeCertificates is RevokeCertificate for several certificates in one
	// transaction: each rev whose certificate has no revocation yet is
	// recorded with its audit entry (audits[i] goes with revs[i]); the others
	// are left as they are and their audit entries dropped. created[i] says
	// whether revs[i] was recorded. ENOTFOUND when a certificate does not
	// exist (and nothing is written).
	RevokeCertificates(ctx context.Context, revs []*Revocation, audits []*AuditEntry) (created []bool, err error)
	// CRLState says whether the CA's CRL is behind what the database holds.
	CRLState(ctx context.Context, caID string) (*CRLState, error)

	// SaveOCSPResponse inserts or replaces the stored response for resp.Serial.
	// ENOTFOUND if the certificate does not exist; ECONFLICT if resp.Status
	// disagrees with the certificate ("revoked" exactly when it is revoked), so
	// that a response signed before a revocation or a hold release, and saved
	// after it, cannot bring back the answer that change deleted.
	SaveOCSPResponse(ctx context.Context, resp *OCSPResponse) error
	// FindOCSPResponse returns the stored response for a serial or ENOTFOUND.
	FindOCSPResponse(ctx context.Context, serial string) (*OCSPResponse, error)
	// StatusChanges returns the serials whose status changed (a certificate
	// revoked, its hold released, superseded; a CA certificate revoked) in
	// changes committed since cursor, and the cursor for the next call. A
	// cursor of 0 starts now: no serials, only the cursor. A serial may be
	// reported more than once. complete is false when changes may have been
	// missed (the cursor is older than what the store keeps, or there were
	// more than limit, or the cursor is not one this store returned): the
	// caller must then treat every serial as changed. EINVALID for a limit
	// that is not positive or a negative cursor.
	StatusChanges(ctx context.Context, cursor int64, limit int) (serials []string, next int64, complete bool, err error)
	// PruneStatusChanges deletes the status changes recorded more than keep
	// ago, by the database's clock, and returns how many.
	PruneStatusChanges(ctx context.Context, keep time.Duration) (int64, error)
	// ListCertificatesNeedingOCSP returns up to limit certificates of the CA
	// (any status) whose stored response is missing or has a NextUpdate before
	// the given time, ordered by serial after afterSerial (keyset paging).
	// EINVALID unless limit is positive.
	ListCertificatesNeedingOCSP(ctx context.Context, caID string, before time.Time, afterSerial string, limit int) ([]*Certificate, error)

	// SaveOCSPSigner stores the CA's current delegated OCSP signer, replacing
	// the previous one, and appends audit, in one transaction. ENOTFOUND if the
	// CA does not exist.
	SaveOCSPSigner(ctx context.Context, signer *OCSPSigner, audit *AuditEntry) error
	// FindOCSPSigner returns the CA's current OCSP signer or ENOTFOUND.
	FindOCSPSigner(ctx context.Context, caID string) (*OCSPSigner, error)
}
