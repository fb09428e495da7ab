// Package signing is Selo's remote-signing service: holders' accounts and
// sessions, cloud credentials whose keys never leave the key store, the
// approvals that let a signature happen (SMS, authenticator, wallet,
// authorizer) and the signing of hashes with a single-use SAD bound to them.
// It decides; the key store signs and the store persists. The CSC API layer
// and the holder REST API call it.
package signing

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/approval"
	"github.com/selo-qtsp/selo/authority"
	"github.com/selo-qtsp/selo/metrics"
	"github.com/selo-qtsp/selo/notify"
)

// Store is what the service persists through. selo.Store satisfies it.
type Store interface {
	selo.AccountStore
	selo.CredentialStore
	selo.ApprovalStore
	selo.CertificateStore
	selo.AuditStore
	// The holder's signature history reads the audit log by actor.
	selo.AuditHistoryStore
	// The portal changes a credential's approval method.
	selo.CredentialApprovalStore
	// FindRevocation tells a certificate on hold from a revoked one.
	FindRevocation(ctx context.Context, serial string) (*selo.Revocation, error)
	selo.RateStore
	// FindCA reads the issuing CA of a credential's certificate: a revoked
	// CA stops its signatures.
	FindCA(ctx context.Context, id string) (*selo.CA, error)
}

// Defaults of the lifetimes in Config.
const (
	DefaultSessionLifetime    = time.Hour
	DefaultSADLifetime        = 5 * time.Minute
	DefaultCodeLifetime       = 5 * time.Minute
	DefaultApprovalLifetime   = 2 * time.Minute
	DefaultEnrollmentLifetime = 10 * time.Minute
	DefaultAuthorizationDays  = 60
	DefaultMaxHashes          = 1000
	DefaultSMSCodeDigits      = 6
	DefaultCacheTTL           = 30 * time.Second
)

// MaxFailures is how many wrong codes kill an approval and lock a
// credential. Failed logins are limited by Config.LoginLimit instead
// (selo.DefaultLoginLimit: 5 per e-mail in 15 minutes).
const MaxFailures = approval.MaxFailures

// Config wires a Service. Store, Keys, Authority, Secrets, CodeKey and SMS
// are required; zero durations take the defaults above.
type Config struct {
	Store Store
	Keys  selo.KeyStore
	// KeysInQSCD says Keys is a qualified signature creation device (an HSM
	// certified as one), so the keys made there are certified with QcSSCD.
	KeysInQSCD bool
	Authority  *authority.Authority
	// Secrets seals TOTP, authorizer and wallet-enrolment secrets at rest.
	Secrets selo.SecretBox
	// CodeKey keys the HMAC under which SMS codes are stored (at least 32 bytes).
	CodeKey []byte
	SMS     selo.SMSSender
	// Mailer sends holders notices by e-mail (a factor added or removed);
	// nil sends none.
	Mailer selo.Mailer
	// Templates writes the texts (nil: the embedded pt and en ones).
	Templates *notify.Templates
	Clock     selo.Clock
	Logger    *slog.Logger
	// Metrics receives signHash and approval counts (metrics.Nop when nil).
	Metrics metrics.Sink
	// Issuer names the service in otpauth:// URIs (the authenticator app shows it).
	Issuer string
	// PublicURL is the base URL wallets call, e.g. "https://sign.example.eu".
	PublicURL string

	SessionLifetime    time.Duration // bearer tokens (default 1 h)
	SADLifetime        time.Duration // SADs (default 5 min)
	CodeLifetime       time.Duration // SMS codes (default 5 min)
	ApprovalLifetime   time.Duration // wallet pushes (default 2 min)
	EnrollmentLifetime time.Duration // wallet enrolment offers (default 10 min)
	// AuthorizationDays is how long one authorizer authorization lasts (default 60).
	AuthorizationDays int
	// MaxHashes is the most hashes one SAD covers (default 1000).
	MaxHashes int
	// SMSCodeDigits is the length of SMS codes, 6 to 8 (default 6).
	SMSCodeDigits int
	// Password are the argon2id parameters of new password hashes
	// (DefaultPasswordParams when zero).
	Password PasswordParams
	// CacheTTL bounds how long a credential's signer, certificate and chain
	// are served from memory (default 30 s).
	CacheTTL time.Duration
	// CodeLimit bounds how often SMS codes are sent per credential and per
	// account (selo.DefaultCodeLimit when nil; limit.go).
	CodeLimit *selo.CodeLimit
	// LoginLimit bounds failed logins per client address and per e-mail
	// (selo.DefaultLoginLimit when nil; limit.go).
	LoginLimit *selo.LoginLimit
}

// The CSC API v2 handlers (csc/cscserver) serve a *Service through the
// root's interface.
var _ selo.SigningService = (*Service)(nil)

// Service is the remote-signing service. It is safe for concurrent use.
type Service struct {
	store     Store
	keys      selo.KeyStore
	authority *authority.Authority
	secrets   selo.SecretBox
	codeKey   []byte
	sms       selo.SMSSender
	mailer    selo.Mailer
	templates *notify.Templates
	clock     selo.Clock
	log       *slog.Logger
	metrics   metrics.Sink
	issuer    string
	publicURL string
	// keysInQSCD: keys made in keys are in a QSCD (Config.KeysInQSCD).
	keysInQSCD bool

	sessionLifetime, sadLifetime, codeLifetime time.Duration
	approvalLifetime, enrollmentLifetime       time.Duration
	authorizationDays, maxHashes, smsDigits    int
	password                                   PasswordParams
	dummyHash                                  string
	cacheTTL                                   time.Duration
	codeLimit                                  selo.CodeLimit
	loginLimit                                 selo.LoginLimit

	credentials sync.Map // credential ID -> *credentialEntry
	waiters     *broadcaster
}

// New returns a Service over cfg.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil || cfg.Keys == nil || cfg.Authority == nil || cfg.Secrets == nil || cfg.SMS == nil {
		return nil, fmt.Errorf("signing: store, key store, authority, secret box and SMS sender are required")
	}
	if len(cfg.CodeKey) < 32 {
		return nil, fmt.Errorf("signing: the code key must be at least 32 bytes")
	}
	s := &Service{
		store: cfg.Store, keys: cfg.Keys, authority: cfg.Authority, secrets: cfg.Secrets,
		codeKey: append([]byte(nil), cfg.CodeKey...), sms: cfg.SMS, mailer: cfg.Mailer, templates: cfg.Templates, clock: cfg.Clock, log: cfg.Logger, metrics: metrics.OrNop(cfg.Metrics),
		issuer: cfg.Issuer, publicURL: strings.TrimRight(cfg.PublicURL, "/"), keysInQSCD: cfg.KeysInQSCD,
		sessionLifetime:    orDuration(cfg.SessionLifetime, DefaultSessionLifetime),
		sadLifetime:        orDuration(cfg.SADLifetime, DefaultSADLifetime),
		codeLifetime:       orDuration(cfg.CodeLifetime, DefaultCodeLifetime),
		approvalLifetime:   orDuration(cfg.ApprovalLifetime, DefaultApprovalLifetime),
		enrollmentLifetime: orDuration(cfg.EnrollmentLifetime, DefaultEnrollmentLifetime),
		authorizationDays:  orInt(cfg.AuthorizationDays, DefaultAuthorizationDays),
		maxHashes:          orInt(cfg.MaxHashes, DefaultMaxHashes),
		smsDigits:          orInt(cfg.SMSCodeDigits, DefaultSMSCodeDigits),
		password:           cfg.Password,
		cacheTTL:           orDuration(cfg.CacheTTL, DefaultCacheTTL),
		waiters:            newBroadcaster(),
		codeLimit:          orLimit(cfg.CodeLimit, selo.DefaultCodeLimit),
		loginLimit:         orLimit(cfg.LoginLimit, selo.DefaultLoginLimit),
	}
	if s.templates == nil {
		s.templates = notify.DefaultTemplates()
	}
	if s.smsDigits < 6 || s.smsDigits > 8 {
		return nil, fmt.Errorf("signing: SMS codes have 6 to 8 digits, not %d", s.smsDigits)
	}
	if s.password == (PasswordParams{}) {
		s.password = DefaultPasswordParams
	}
	if err := s.password.check(); err != nil {
		return nil, fmt.Errorf("signing: %w", err)
	}
	if s.clock == nil {
		s.clock = selo.SystemClock{}
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.issuer == "" {
		s.issuer = "Selo"
	}
	// Unknown e-mails are checked against this hash so that a login for an
	// account that does not exist costs as much as one that does.
	var err error
	if s.dummyHash, err = HashPassword(randomToken(), s.password); err != nil {
		return nil, err
	}
	return s, nil
}

func orDuration(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

func orInt(n, def int) int {
	if n <= 0 {
		return def
	}
	return n
}

// randomToken returns 32 random bytes, base64url without padding: bearer
// tokens, SADs, IDs of secrets.
func randomToken() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("signing: no randomness: " + err.Error()) // crypto/rand never fails on supported platforms
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// newID returns a random 128-bit identifier in hex.
func newID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("signing: no randomness: " + err.Error())
	}
	return hex.EncodeToString(b[:])
}

// tokenHash is what is stored of a bearer token or a SAD.
func tokenHash(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

// holder is the audit actor of an account.
func holder(accountID string) string { return "holder:" + accountID }

// entry builds an audit entry; details must never hold a secret.
func (s *Service) entry(actor, action, object, outcome string, details map[string]any) *selo.AuditEntry {
	d := []byte("{}")
	if len(details) > 0 {
		var err error
		if d, err = json.Marshal(details); err != nil {
			d = []byte(`{"error":"details not encodable"}`)
		}
	}
	return &selo.AuditEntry{Time: s.clock.Now(), Actor: actor, Action: action, Object: object, Outcome: outcome, Details: string(d)}
}

// auditFailure records a refused action on its own. A failure to write it is
// logged, not returned: the caller's answer is already the refusal.
func (s *Service) auditFailure(ctx context.Context, actor, action, object string, cause error, details map[string]any) {
	if err := s.store.AppendAudit(ctx, s.failureEntry(actor, action, object, cause, details)); err != nil {
		s.log.Error("append audit", "action", action, "object", object, "err", err)
	}
}

// failureEntry is the audit entry of a refused action.
func (s *Service) failureEntry(actor, action, object string, cause error, details map[string]any) *selo.AuditEntry {
	if details == nil {
		details = map[string]any{}
	}
	details["code"] = selo.ErrorCode(cause)
	details["reason"] = selo.ErrorMessage(cause)
	return s.entry(actor, action, object, selo.OutcomeFailure, details)
}

// appendAudit records a successful action that changes nothing else.
func (s *Service) appendAudit(ctx context.Context, e *selo.AuditEntry) {
	if err := s.store.AppendAudit(ctx, e); err != nil {
		s.log.Error("append audit", "action", e.Action, "object", e.Object, "err", err)
	}
}
