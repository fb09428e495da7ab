package selo

import (
	"context"
	"time"
)

// Account is a holder's login for remote signing and the portal: an e-mail
// address and a password. Only an argon2id hash of the password is stored.
type Account struct {
	ID           string
	Email        string // unique, compared lower-cased
	Name         string
	Mobile       string // E.164; where SMS approvals and authorizer confirmations go
	PasswordHash string // argon2id in PHC string form; never returned by any API
	// FailedLogins counts wrong passwords since the last good login or lockout.
	FailedLogins int
	// LockedUntil refuses every login before this time, even with the right password.
	LockedUntil time.Time
	// Lockouts counts lockouts so far: each one lasts longer (capped).
	Lockouts  int
	Disabled  bool
	CreatedAt time.Time
}

// Session is a logged-in holder: the bearer token the CSC API calls an access
// token. Only a SHA-256 hash of the token is stored.
type Session struct {
	TokenHash string // hex SHA-256 of the bearer token
	AccountID string
	// Scope is what the token may reach: SessionAccount (the holder API and
	// the CSC API) or SessionCSC (the CSC API only). "" is stored as SessionCSC.
	Scope     SessionScope
	CreatedAt time.Time
	ExpiresAt time.Time
}

// SessionScope is what a bearer token may reach.
type SessionScope string

// Session scopes. A CSC access token (an integrator's, from CSC auth/login)
// is refused on the holder account API, where approval factors are managed.
const (
	SessionAccount SessionScope = "account"
	SessionCSC     SessionScope = "csc"
)

// LoginAttempt is what AccountStore.RecordLoginFailure reports after counting a failure.
type LoginAttempt struct {
	FailedLogins int
	LockedUntil  time.Time // zero when this failure did not lock the account
	Lockouts     int
}

// AccountStore persists accounts and sessions.
type AccountStore interface {
	// CreateAccount inserts an account; ECONFLICT when the ID or e-mail exists.
	CreateAccount(ctx context.Context, a *Account, audit *AuditEntry) error
	// FindAccount returns the account with this ID, or ENOTFOUND.
	FindAccount(ctx context.Context, id string) (*Account, error)
	// FindAccountByEmail returns the account with this e-mail (any case), or ENOTFOUND.
	FindAccountByEmail(ctx context.Context, email string) (*Account, error)
	// RecordLoginFailure counts a wrong password atomically. When the count
	// reaches maxFailures it resets the count, increments Lockouts and sets
	// LockedUntil = now + lockFor(Lockouts). The audit entry goes in the same
	// transaction.
	RecordLoginFailure(ctx context.Context, accountID string, now time.Time, maxFailures int,
		lockFor func(lockouts int) time.Duration, audit *AuditEntry) (*LoginAttempt, error)
	// CreateSession resets FailedLogins of the session's account and stores the
	// session, with its audit entry, atomically.
	CreateSession(ctx context.Context, s *Session, audit *AuditEntry) error
	// FindSession returns the session with this token hash, or ENOTFOUND
	// (also when it has expired at now).
	FindSession(ctx context.Context, tokenHash string, now time.Time) (*Session, error)
	// DeleteSession removes a session (logout, CSC auth/revoke); ENOTFOUND when absent.
	DeleteSession(ctx context.Context, tokenHash string, audit *AuditEntry) error
	// UpdateAccountPassword replaces the password hash (and may re-enable it).
	UpdateAccountPassword(ctx context.Context, accountID, passwordHash string, audit *AuditEntry) error
	// SetAccountDisabled disables or enables an account, atomically with its
	// audit entry. Disabling also deletes every session of the account, marks
	// its unused SADs used at now and its pending or approved approvals dead,
	// so nothing issued before goes on working. ENOTFOUND when absent.
	SetAccountDisabled(ctx context.Context, accountID string, disabled bool, now time.Time, audit *AuditEntry) error
}
