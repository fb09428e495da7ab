package selo

import (
	"context"
	"time"
)

// CAStatus says whether a CA still issues.
type CAStatus string

// CA statuses.
const (
	CAActive  CAStatus = "active"
	CARetired CAStatus = "retired"
	// CARevoked is a CA whose own certificate its parent revoked: it issues
	// nothing and what it issued must not be used to sign. The store reports
	// it when a CARevocation exists; SetCAStatus cannot set it.
	CARevoked CAStatus = "revoked"
)

// CARevocation is the record that a CA's certificate is revoked by its
// parent. The parent's CRL (an ARL for a root) lists Serial.
type CARevocation struct {
	CAID           string // the revoked CA
	ParentID       string // the CA that issued its certificate
	Serial         string // the CA certificate's serial, lower-case hex as Certificate.Serial
	Reason         RevocationReason
	RevokedAt      time.Time // set by the store's clock when zero
	InvalidityDate time.Time // zero when not given
	Actor          string
}

// CA is an issuer: a key in the key store, its certificate and its place in a
// hierarchy. A retired CA issues nothing new but still answers for what it issued.
type CA struct {
	ID           string       // short slug used in URLs and key IDs, e.g. "qualified-ecc-v1"
	Name         string       // subject common name
	ParentID     string       // "" for a root
	KeyID        string       // key store ID
	KeyAlgorithm KeyAlgorithm //
	CertDER      []byte       // the CA's own certificate
	Status       CAStatus
	CreatedAt    time.Time
}

// IsRoot reports whether the CA is self-signed.
func (c *CA) IsRoot() bool { return c.ParentID == "" }

// CAStore persists CAs. Every change is written together with its audit entry,
// in one transaction.
type CAStore interface {
	// CreateCA inserts a CA; ECONFLICT when the ID exists.
	CreateCA(ctx context.Context, ca *CA, audit *AuditEntry) error
	// FindCA returns the CA with this ID, or ENOTFOUND.
	FindCA(ctx context.Context, id string) (*CA, error)
	// ListCAs returns every CA ordered by creation time, then ID.
	ListCAs(ctx context.Context) ([]*CA, error)
	// SetCAStatus changes a CA's status; ENOTFOUND when it does not exist.
	SetCAStatus(ctx context.Context, id string, status CAStatus, audit *AuditEntry) error
	// RevokeCA records rev and appends audit in one transaction; from then on
	// FindCA and ListCAs report the CA as CARevoked. A CA already revoked keeps
	// its first revocation, which is returned with false and nothing written.
	// ENOTFOUND when the CA does not exist, EINVALID when it is a root (no
	// parent can revoke it), its reason is not Valid or ParentID names another
	// CA than the CA's parent (an empty ParentID is filled in).
	RevokeCA(ctx context.Context, rev *CARevocation, audit *AuditEntry) (*CARevocation, bool, error)
	// FindCARevocation returns the revocation of a CA's certificate or ENOTFOUND.
	FindCARevocation(ctx context.Context, caID string) (*CARevocation, error)
	// ListCARevocations returns the revocations of the CA certificates that
	// parentID issued, ordered by serial.
	ListCARevocations(ctx context.Context, parentID string) ([]*CARevocation, error)
}
