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
)

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
}
