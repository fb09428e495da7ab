package selo

import (
	"context"
	"time"
)

// OTPSettings are the parameters of a TOTP secret (RFC 6238).
type OTPSettings struct {
	Algorithm string // "SHA1", "SHA256" or "SHA512"
	Digits    int
	Period    int // seconds
}

// Authenticator is a holder's TOTP app. Its secret is stored sealed
// (SecretBox, associated data "authenticator/<ID>"); LastStep is the time step
// of the last accepted code, so no code is accepted twice.
type Authenticator struct {
	ID           string
	AccountID    string
	Name         string
	SealedSecret []byte
	Settings     OTPSettings
	LastStep     int64 // -1 before the first accepted code
	Confirmed    bool  // a first code proved the enrolment
	// FailedApprovals counts wrong authenticator codes of the account since
	// the last good one or lockout: a wrong code is a guess at every secret.
	FailedApprovals int
	// LockedUntil refuses every code of this secret before this time.
	LockedUntil time.Time
	// Lockouts counts lockouts so far: each cooling-off lasts longer (capped).
	Lockouts  int
	CreatedAt time.Time
}

// Wallet is a holder's device registered for push approvals: its P-256
// public key verifies the device's signed decisions.
type Wallet struct {
	ID        string
	AccountID string
	Name      string
	PublicKey []byte // PKIX DER
	Disabled  bool
	CreatedAt time.Time
}

// WalletEnrollment is a pending wallet registration: the secret travels in
// the enrolment QR code; it is stored sealed and used once.
type WalletEnrollment struct {
	ID           string
	AccountID    string
	SealedSecret []byte // SecretBox, associated data "wallet-enrollment/<ID>"
	ExpiresAt    time.Time
	Used         bool
	CreatedAt    time.Time
}

// Authorizer lets an integrator (an ERP, an e-invoicing platform) approve
// signatures with one e-seal credential by TOTP-style codes generated from a
// secret it was shown once. It approves only while enabled and inside an
// Authorization.
type Authorizer struct {
	ID           string
	CredentialID string
	AccountID    string
	Name         string
	SealedSecret []byte // SecretBox, associated data "authorizer/<ID>"
	Settings     OTPSettings
	LastStep     int64
	Enabled      bool
	Confirmed    bool // the holder confirmed the registration with an SMS code
	CreatedAt    time.Time
}

// Authorization is one 60-day period in which an authorizer may approve.
type Authorization struct {
	ID           string
	AuthorizerID string
	NotBefore    time.Time
	NotAfter     time.Time
	CreatedAt    time.Time
}

// ApprovalStatus is the state of a signature approval.
type ApprovalStatus string

// Approval statuses. Only pending approvals change; the others are final.
const (
	ApprovalPending  ApprovalStatus = "pending"
	ApprovalApproved ApprovalStatus = "approved"
	ApprovalDenied   ApprovalStatus = "denied"
	ApprovalExpired  ApprovalStatus = "expired"
	ApprovalDead     ApprovalStatus = "dead" // too many wrong codes
	ApprovalConsumed ApprovalStatus = "consumed"
)

// Approval is a request for the holder's consent: an SMS code sent, a wallet
// push waiting, an authorizer registration or renewal waiting for its SMS
// code. It is single use and short lived.
type Approval struct {
	ID           string
	AccountID    string
	CredentialID string
	Purpose      string // "signature", "authorizer.register", "authorizer.renew", "wallet"...
	Type         ApprovalType
	// Hashes being approved (wallet pushes show them); nil when the approval
	// precedes the hashes (an SMS code asked for with sendOTP).
	HashAlgorithmOID string
	Hashes           [][]byte
	Description      string
	CodeHash         []byte // HMAC of the code sent (SMS), nil otherwise
	WalletID         string // the wallet that answered, if any
	Subject          string // what the approval is about, e.g. an authorizer ID
	Failures         int
	Status           ApprovalStatus
	CreatedAt        time.Time
	ExpiresAt        time.Time
	DecidedAt        time.Time
}

// SignatureActivation is a SAD (signature activation data): proof of a fresh
// approval, bound to one account, one credential and the exact hashes it may
// sign, single use and short lived. Only a hash of the SAD is stored.
type SignatureActivation struct {
	SADHash          string // hex SHA-256 of the SAD token
	AccountID        string
	CredentialID     string
	HashAlgorithmOID string
	Hashes           [][]byte
	// AuthorizerID is the authorizer whose code approved the SAD ("" for
	// other approvals): disabling that authorizer ends the SAD.
	AuthorizerID string
	CreatedAt    time.Time
	ExpiresAt    time.Time
	UsedAt       time.Time // zero while unused
}

// ApprovalStore persists what approves signatures.
type ApprovalStore interface {
	CreateAuthenticator(ctx context.Context, a *Authenticator, audit *AuditEntry) error
	FindAuthenticator(ctx context.Context, id string) (*Authenticator, error)
	ListAuthenticators(ctx context.Context, accountID string) ([]*Authenticator, error)
	// AdvanceAuthenticatorStep sets LastStep = step only if step > LastStep
	// (atomic compare-and-set); false when a code of that step or later was
	// already used: a replay.
	AdvanceAuthenticatorStep(ctx context.Context, id string, step int64, confirm bool) (bool, error)
	DeleteAuthenticator(ctx context.Context, id string, audit *AuditEntry) error
	// RecordAuthenticatorFailure counts a wrong authenticator code against
	// every confirmed authenticator of the account, atomically; each that
	// reaches maxFailures is reset, its Lockouts incremented and LockedUntil
	// set to now + lockFor(Lockouts). It reports the most advanced count
	// (LockedUntil set when this failure locked one). The audit entry goes in
	// the same transaction.
	RecordAuthenticatorFailure(ctx context.Context, accountID string, now time.Time, maxFailures int,
		lockFor func(lockouts int) time.Duration, audit *AuditEntry) (*ApprovalFailure, error)
	// ResetAuthenticatorFailures clears FailedApprovals of the account's
	// authenticators after a good code.
	ResetAuthenticatorFailures(ctx context.Context, accountID string) error

	CreateWalletEnrollment(ctx context.Context, e *WalletEnrollment, audit *AuditEntry) error
	FindWalletEnrollment(ctx context.Context, id string) (*WalletEnrollment, error)
	// CompleteWalletEnrollment marks the enrolment used and stores the wallet,
	// atomically; ECONFLICT when the enrolment was already used.
	CompleteWalletEnrollment(ctx context.Context, enrollmentID string, w *Wallet, audit *AuditEntry) error
	FindWallet(ctx context.Context, id string) (*Wallet, error)
	ListWallets(ctx context.Context, accountID string) ([]*Wallet, error)
	DeleteWallet(ctx context.Context, id string, audit *AuditEntry) error

	CreateAuthorizer(ctx context.Context, a *Authorizer, audit *AuditEntry) error
	FindAuthorizer(ctx context.Context, id string) (*Authorizer, error)
	ListAuthorizers(ctx context.Context, credentialID string) ([]*Authorizer, error)
	// ConfirmAuthorizer marks it confirmed and enabled and stores its first
	// authorization, atomically.
	ConfirmAuthorizer(ctx context.Context, id string, first *Authorization, audit *AuditEntry) error
	// SetAuthorizerEnabled enables or disables an authorizer; disabling also
	// marks the unused SADs its codes approved used at now, in the same
	// transaction.
	SetAuthorizerEnabled(ctx context.Context, id string, enabled bool, now time.Time, audit *AuditEntry) error
	// AdvanceAuthorizerStep is AdvanceAuthenticatorStep for authorizer codes.
	AdvanceAuthorizerStep(ctx context.Context, id string, step int64) (bool, error)
	CreateAuthorization(ctx context.Context, a *Authorization, audit *AuditEntry) error
	// ListAuthorizations returns an authorizer's authorizations, newest first.
	ListAuthorizations(ctx context.Context, authorizerID string) ([]*Authorization, error)

	CreateApproval(ctx context.Context, a *Approval, audit *AuditEntry) error
	FindApproval(ctx context.Context, id string) (*Approval, error)
	// ListApprovals returns an account's approvals with this status, newest first.
	ListApprovals(ctx context.Context, accountID string, status ApprovalStatus) ([]*Approval, error)
	// DecideApproval moves a pending approval to status (approved, denied,
	// expired, dead, consumed) with walletID and decidedAt; ECONFLICT when it
	// is no longer pending (or, for consumed, no longer approved).
	DecideApproval(ctx context.Context, id string, status ApprovalStatus, walletID string, decidedAt time.Time, audit *AuditEntry) error
	// RecordApprovalCodeFailure increments Failures of a pending approval and
	// returns the new count; at maxFailures it also marks it dead.
	RecordApprovalCodeFailure(ctx context.Context, id string, maxFailures int) (int, error)

	CreateSignatureActivation(ctx context.Context, s *SignatureActivation, audit *AuditEntry) error
	// ConsumeSignatureActivation marks the SAD used at now and returns it;
	// ENOTFOUND when it does not exist, has expired or was already used (one
	// answer for all three, so a caller learns nothing).
	ConsumeSignatureActivation(ctx context.Context, sadHash string, now time.Time) (*SignatureActivation, error)
	// UseSignatureActivation consumes the SAD as ConsumeSignatureActivation
	// does and, in the same transaction, reads the SAD's credential, that
	// credential's certificate and the certificate's issuing CA as stored now
	// (each nil when absent) and calls decide with the four. The audit entry
	// decide returns (required) is appended before the transaction commits;
	// decide's error is returned after it, and the SAD stays used either way.
	// ENOTFOUND, without calling decide or writing anything, as for
	// ConsumeSignatureActivation. decide runs inside the transaction: it must
	// be quick and must not call the store (SQLite's one writer connection is
	// held).
	UseSignatureActivation(ctx context.Context, sadHash string, now time.Time, decide SignatureDecision) error
}

// SignatureDecision judges a consumed SAD against its credential, the
// credential's certificate and the certificate's issuing CA as read in the
// consuming transaction; see UseSignatureActivation.
type SignatureDecision func(act *SignatureActivation, cred *Credential, cert *Certificate, ca *CA) (*AuditEntry, error)
