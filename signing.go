package selo

import (
	"context"
	"crypto/x509"
	"time"
)

// CredentialInfo is a credential with what a signing client needs to know
// about it: the certificate, its chain and the algorithms its key signs with.
type CredentialInfo struct {
	Credential  *Credential
	Certificate *x509.Certificate
	// Chain runs from the issuing CA up to the root.
	Chain []*x509.Certificate
	// KeyBits is the RSA modulus size or the curve size.
	KeyBits int
	// SignAlgorithms are the signAlgo OIDs this key supports.
	SignAlgorithms []string
	// MaxHashes is the most hashes one SAD covers.
	MaxHashes int
	// CertificateStatus is the certificate's status read from the store when
	// the info was asked for (CertificateValid, CertificateRevoked, ...);
	// "" where it was not read.
	CertificateStatus string
}

// AuthorizeRequest asks for a SAD that lets the credential sign exactly Hashes.
type AuthorizeRequest struct {
	AccountID, CredentialID string
	HashAlgorithmOID        string   // 2.16.840.1.101.3.4.2.1 / .2 / .3
	Hashes                  [][]byte // exact digests to be signed; len must equal NumSignatures
	NumSignatures           int
	OTP                     string // SMS code, TOTP code or authorizer code; "" for wallet approvals
	Description             string // shown to the holder in the wallet
}

// AuthorizeResult is a SAD, or a wallet approval still waiting for the holder.
type AuthorizeResult struct {
	// SAD is set when approved: bound to account, credential and exact hashes; single use.
	SAD       string
	ExpiresIn time.Duration
	// Pending is set for a wallet approval waiting for the holder; poll AuthorizeCheck.
	Pending *Approval
}

// SignHashRequest signs hashes with a credential under a SAD.
type SignHashRequest struct {
	AccountID, CredentialID, SAD string
	HashAlgorithmOID             string
	Hashes                       [][]byte
	SignAlgo                     string // OID
	SignAlgoParams               []byte // DER RSASSA-PSS-params for PSS
	// Integrator names the signing application as it named itself (the CSC
	// request's clientData, at most 64 characters); the holder's signature
	// history shows it. Informative only: nothing is decided on it.
	Integrator string
}

// SigningService is the remote-signing service as a signing protocol serves
// it: log in, list and describe credentials, approve exact hashes (a SAD)
// and sign them. *signing.Service implements it; the CSC API v2 handlers
// (csc/cscserver) translate CSC JSON to these calls and decide nothing
// about who may sign. Errors are Errors whose codes the protocol maps to
// its own error names.
type SigningService interface {
	// Login checks the holder's e-mail and password and opens a session
	// whose access token it returns.
	Login(ctx context.Context, email, password string) (token string, sess *Session, err error)
	// Authenticate returns the live session of an access token.
	Authenticate(ctx context.Context, token string) (*Session, error)
	// Logout ends the session of an access token.
	Logout(ctx context.Context, token string) error
	// ListCredentials returns the account's credentials.
	ListCredentials(ctx context.Context, accountID string) ([]*CredentialInfo, error)
	// CredentialInfo returns one of the account's credentials.
	CredentialInfo(ctx context.Context, accountID, credentialID string) (*CredentialInfo, error)
	// SendOTP texts the holder a code for the credential's next authorization.
	SendOTP(ctx context.Context, accountID, credentialID string) error
	// Authorize issues a SAD bound to the account, the credential and the
	// exact hashes, or a pending wallet approval.
	Authorize(ctx context.Context, req AuthorizeRequest) (*AuthorizeResult, error)
	// AuthorizeCheck tells whether the holder decided a pending approval.
	AuthorizeCheck(ctx context.Context, accountID, approvalID string) (*AuthorizeResult, error)
	// SignHash consumes the SAD and signs the hashes it was issued for.
	SignHash(ctx context.Context, req SignHashRequest) ([][]byte, error)
}
