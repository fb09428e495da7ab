// Package registration is Selo's registration desk: it decides and
// orchestrates the path of an order from request to delivered certificate —
// identity checks, payment, the "ready to lift" notice and the resumable
// lift flow — as authority does for certificates. Every decision is audited;
// every state change is one compare-and-set in the store (selo.OrderStore),
// so racing callers cannot both move an order, and every step is idempotent
// so that an interrupted client resumes where it stopped.
package registration

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/authority"
	"github.com/selo-qtsp/selo/notify"
)

// Defaults for Config's zero values.
const (
	DefaultLiftCodeValidity   = 30 * 24 * time.Hour
	DefaultEmailCodeValidity  = 15 * time.Minute
	DefaultMaxCodeFailures    = 5
	DefaultMaxIdentityChecks  = 5
	DefaultWebhookTolerance   = 5 * time.Minute
	DefaultAccessCodeValidity = 30 * 24 * time.Hour
)

// Code purposes, as stored with each one-time code.
const (
	purposeAccess = "access" // the identity access code, for SubmitIdentityCheck
	purposeLift   = "lift"   // the "ready to lift" code
	purposeEmail  = "email"  // the e-mail verification code of the lift flow
	// purposeRenewal is the code of the "ready" e-mail that asks for a new
	// lift code (RequestLiftCode): long and random, so it is never locked.
	purposeRenewal = "lift-renewal"
)

// Config wires a Service. Store, Authority, Mailer and a 32-byte CodeKey are
// required.
type Config struct {
	Store     selo.Store
	Authority *authority.Authority
	Keys      selo.KeyStore // required for cloud delivery
	// Credentials puts the credential a cloud order makes on the holder's
	// account (the signing service); required for cloud delivery.
	Credentials CredentialDesk
	Mailer      selo.Mailer
	// Templates writes the e-mails (nil: the embedded pt and en ones).
	Templates *notify.Templates
	// Documents runs the machine checks of identity documents; nil means
	// the catalogue shipped with Selo (NewCatalogueChecker("")).
	Documents DocumentChecker
	Clock     selo.Clock
	Logger    *slog.Logger

	// CodeKey keys the HMAC-SHA256 under which one-time codes are stored;
	// at least 32 random bytes, kept apart from the database.
	CodeKey []byte
	// Secrets seals the photos of identity checks (document and selfie)
	// before they reach the database; without it the desk takes no photos.
	Secrets selo.SecretBox
	// EvidenceRetention is how long the photos of an identity check are
	// kept after it was submitted (DefaultEvidenceRetention when zero);
	// EvidenceTask deletes them afterwards.
	EvidenceRetention time.Duration
	// MaxPhotoSize bounds each photo (DefaultMaxPhotoSize when zero).
	MaxPhotoSize int

	// WebhookSecret keys the payment webhook's HMAC-SHA256 signature; empty
	// refuses every webhook.
	WebhookSecret []byte

	LiftCodeValidity   time.Duration
	EmailCodeValidity  time.Duration
	AccessCodeValidity time.Duration
	MaxCodeFailures    int
	MaxIdentityChecks  int
	WebhookTolerance   time.Duration
	// PublicURL is the server's base URL, named in the messages that tell a
	// cloud holder how to sign (e.g. https://pki.example.eu).
	PublicURL string
	// CloudKeyAlgorithm is the key type made for cloud delivery (P-256 when empty).
	CloudKeyAlgorithm selo.KeyAlgorithm
	// KeysInQSCD says Keys is a qualified signature creation device (an HSM
	// certified as one): cloud keys are then certified with QcSSCD and the
	// -qscd policy. Token keys always are; software (.pfx) keys never.
	KeysInQSCD bool
	// CodeLimit bounds how often codes are e-mailed per order (e-mail
	// verification codes, new lift codes); selo.DefaultCodeLimit when nil.
	CodeLimit *selo.CodeLimit
	// GuessLimit bounds wrong order numbers and codes per client address
	// (its PerAddress and Window); selo.DefaultLoginLimit when nil.
	GuessLimit *selo.LoginLimit
}

// Service is the registration desk. It is safe for concurrent use.
type Service struct {
	cfg   Config
	store selo.Store
	auth  *authority.Authority
	clock selo.Clock
	log   *slog.Logger
}

// New returns a Service over cfg, filling in defaults.
func New(cfg Config) (*Service, error) {
	switch {
	case cfg.Store == nil || cfg.Authority == nil || cfg.Mailer == nil:
		return nil, fmt.Errorf("registration: store, authority and mailer are required")
	case len(cfg.CodeKey) < 32:
		return nil, fmt.Errorf("registration: the code key must be at least 32 bytes")
	}
	if cfg.Clock == nil {
		cfg.Clock = selo.SystemClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Templates == nil {
		cfg.Templates = notify.DefaultTemplates()
	}
	cfg.PublicURL = strings.TrimRight(cfg.PublicURL, "/")
	if cfg.Documents == nil {
		docs, err := NewCatalogueChecker("")
		if err != nil {
			return nil, fmt.Errorf("registration: %w", err)
		}
		cfg.Documents = docs
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.LiftCodeValidity, DefaultLiftCodeValidity)
	def(&cfg.EmailCodeValidity, DefaultEmailCodeValidity)
	def(&cfg.AccessCodeValidity, DefaultAccessCodeValidity)
	def(&cfg.WebhookTolerance, DefaultWebhookTolerance)
	def(&cfg.EvidenceRetention, DefaultEvidenceRetention)
	if cfg.MaxPhotoSize <= 0 {
		cfg.MaxPhotoSize = DefaultMaxPhotoSize
	}
	if cfg.MaxCodeFailures <= 0 {
		cfg.MaxCodeFailures = DefaultMaxCodeFailures
	}
	if cfg.MaxIdentityChecks <= 0 {
		cfg.MaxIdentityChecks = DefaultMaxIdentityChecks
	}
	if cfg.CodeLimit == nil {
		cfg.CodeLimit = &selo.DefaultCodeLimit
	}
	if cfg.GuessLimit == nil {
		cfg.GuessLimit = &selo.DefaultLoginLimit
	}
	if cfg.CloudKeyAlgorithm == "" {
		cfg.CloudKeyAlgorithm = selo.KeyECDSAP256
	}
	return &Service{cfg: cfg, store: cfg.Store, auth: cfg.Authority, clock: cfg.Clock, log: cfg.Logger}, nil
}

// audit builds an audit entry; details is marshalled to JSON and must hold
// no secret.
func (s *Service) audit(actor, action, object, outcome string, details any) *selo.AuditEntry {
	d := "{}"
	if details != nil {
		if b, err := json.Marshal(details); err == nil {
			d = string(b)
		}
	}
	return &selo.AuditEntry{Time: s.clock.Now(), Actor: actor, Action: action, Object: object, Outcome: outcome, Details: d}
}

// auditFailure records a refused request. A failure to write it is logged:
// the caller's error is what the user must see.
func (s *Service) auditFailure(ctx context.Context, actor, action, object string, cause error) {
	details := map[string]string{"code": selo.ErrorCode(cause), "error": selo.ErrorMessage(cause)}
	if err := s.store.AppendAudit(ctx, s.audit(actor, action, object, selo.OutcomeFailure, details)); err != nil {
		s.log.Error("append audit entry", "action", action, "object", object, "err", err)
	}
}

// transition returns an update moving o to state to, with its event and audit
// entry. o is changed in place.
func (s *Service) transition(o *selo.Order, to selo.OrderState, actor, reason string, details map[string]any) *selo.OrderUpdate {
	from := o.State
	o.State = to
	if details == nil {
		details = map[string]any{}
	}
	details["from"], details["to"], details["number"] = from, to, o.Number
	if reason != "" {
		details["reason"] = reason
	}
	return &selo.OrderUpdate{
		Order:  o,
		Events: []*selo.OrderEvent{{From: from, To: to, Actor: actor, Reason: reason, Time: s.clock.Now()}},
		Audit:  s.audit(actor, "order."+string(to), orderObject(o), selo.OutcomeSuccess, details),
	}
}

// orderObject names an order in the audit log.
func orderObject(o *selo.Order) string { return "order/" + o.ID }

// newID returns a random ID that sorts by creation time: 12 hex digits of
// Unix milliseconds and 16 random ones.
func newID(now time.Time) (string, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("random ID: %w", err)
	}
	return fmt.Sprintf("%012x%s", now.UnixMilli(), hex.EncodeToString(b[:])), nil
}

// CredentialDesk is what registration needs of remote signing (implemented
// by *signing.Service): a cloud order's key and certificate become a
// credential on the account of the order's e-mail, whose first password the
// holder sets through the order.
type CredentialDesk interface {
	AttachOrderCredential(ctx context.Context, actor string, oc selo.OrderCredential) (*selo.AttachedCredential, error)
	SetInitialPassword(ctx context.Context, actor, email, password string) error
}
