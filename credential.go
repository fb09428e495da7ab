package selo

import (
	"context"
	"time"
)

// ApprovalType is how the holder approves signatures with a credential.
type ApprovalType string

// Approval types. ApprovalAuthorizer is allowed only on credentials whose
// certificate is an e-seal (profile qualified-seal).
const (
	ApprovalSMS           ApprovalType = "sms"
	ApprovalAuthenticator ApprovalType = "authenticator"
	ApprovalWallet        ApprovalType = "wallet"
	ApprovalAuthorizer    ApprovalType = "authorizer"
)

// Valid reports whether t is one of the approval types.
func (t ApprovalType) Valid() bool {
	switch t {
	case ApprovalSMS, ApprovalAuthenticator, ApprovalWallet, ApprovalAuthorizer:
		return true
	}
	return false
}

// CredentialStatus is whether a credential may sign.
type CredentialStatus string

// Credential statuses.
const (
	CredentialActive   CredentialStatus = "active"
	CredentialDisabled CredentialStatus = "disabled"
)

// Credential is a remote-signing key: generated in Selo's key store (it never
// leaves it), certified under a profile, owned by one account, approved by one
// approval type.
type Credential struct {
	ID                string
	AccountID         string
	KeyID             string // key store ID of the private key
	KeyAlgorithm      KeyAlgorithm
	CertificateSerial string // the current certificate; "" until issued
	Profile           string
	ApprovalType      ApprovalType
	Mobile            string // E.164, where SMS codes go (defaults to the account's)
	Description       string
	Status            CredentialStatus
	// FailedApprovals counts wrong codes since the last good approval or lockout.
	FailedApprovals int
	// LockedUntil refuses every approval before this time.
	LockedUntil time.Time
	// Lockouts counts lockouts so far: each cooling-off lasts longer (capped).
	Lockouts  int
	CreatedAt time.Time
}

// ApprovalFailure is what CredentialStore.RecordApprovalFailure reports.
type ApprovalFailure struct {
	FailedApprovals int
	LockedUntil     time.Time // zero when this failure did not lock the credential
	Lockouts        int
}

// CredentialStore persists credentials.
type CredentialStore interface {
	// CreateCredential inserts a credential; ECONFLICT when the ID exists.
	CreateCredential(ctx context.Context, c *Credential, audit *AuditEntry) error
	// FindCredential returns the credential with this ID, or ENOTFOUND.
	FindCredential(ctx context.Context, id string) (*Credential, error)
	// ListCredentials returns the credentials of one account, oldest first.
	ListCredentials(ctx context.Context, accountID string) ([]*Credential, error)
	// UpdateCredentialCertificate sets the credential's certificate serial.
	UpdateCredentialCertificate(ctx context.Context, id, serial string, audit *AuditEntry) error
	// SetCredentialStatus enables or disables a credential. Disabling also
	// marks the credential's unused SADs used and its pending or approved
	// approvals dead, in the same transaction.
	SetCredentialStatus(ctx context.Context, id string, status CredentialStatus, audit *AuditEntry) error
	// RecordApprovalFailure counts a wrong code atomically. When the count
	// reaches maxFailures it resets the count, increments Lockouts and sets
	// LockedUntil = now + lockFor(Lockouts). The audit entry goes in the same
	// transaction.
	RecordApprovalFailure(ctx context.Context, credentialID string, now time.Time, maxFailures int,
		lockFor func(lockouts int) time.Duration, audit *AuditEntry) (*ApprovalFailure, error)
	// ResetApprovalFailures clears FailedApprovals after a good approval.
	ResetApprovalFailures(ctx context.Context, credentialID string) error
}

// OrderCredential is the cloud credential a registration order made: the key
// generated in Selo's key store and certified through the order, for the
// holder whose e-mail and mobile the order verified.
type OrderCredential struct {
	// ID is the credential's ID; the order's ID, so that a retried issuance
	// finds the credential it already made.
	ID                string
	OrderNumber       string
	Email             string // the order's (verified) e-mail: the account's login
	Name              string
	Mobile            string // E.164, where SMS codes and authorizer confirmations go
	KeyID             string
	KeyAlgorithm      KeyAlgorithm
	CertificateSerial string
	Profile           string
	Approval          ApprovalType // chosen in the order
}

// AttachedCredential says where an OrderCredential landed.
type AttachedCredential struct {
	CredentialID string
	AccountID    string
	// AccountCreated is set when the order opened the account (first use).
	AccountCreated bool
	// PasswordSet is false while the account has no password yet: the
	// holder sets it once through the order (selo lift).
	PasswordSet bool
}
