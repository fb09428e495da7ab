package selo

import (
	"context"
	"time"
)

// APIKey lets an operator's program call the operator API. Only a SHA-256
// hash of the key is stored; the key itself is shown once when created.
type APIKey struct {
	ID        string
	Name      string
	Hash      string // hex SHA-256 of the secret
	CreatedAt time.Time
	Disabled  bool
	// Roles are what the key may do (see Role). Keys made before roles
	// existed were given admin and officer by migration 011.
	Roles []Role
}

// APIKeyStore persists operator API keys.
type APIKeyStore interface {
	// CreateAPIKey inserts a key; ECONFLICT when the ID or name exists.
	CreateAPIKey(ctx context.Context, key *APIKey, audit *AuditEntry) error
	// FindAPIKeyByHash returns the enabled key with this hash, or ENOTFOUND.
	FindAPIKeyByHash(ctx context.Context, hash string) (*APIKey, error)
}

// Store is everything Selo persists. sqlite and postgres implement it and
// store/storetest holds the one suite both must pass.
type Store interface {
	CAStore
	CertificateStore
	AuditStore
	APIKeyStore
	RevocationStore
	OrderStore
	AccountStore
	CredentialStore
	ApprovalStore
	RateStore
	RevocationCodeStore
	OperatorStore
	ProposalStore
	WebSessionStore
	AuditHistoryStore
	HolderOrderStore
	CredentialApprovalStore
	// Close releases the database.
	Close() error
}
