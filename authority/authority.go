// Package authority is Selo's certificate authority service: it decides what
// may be issued and orchestrates the key store, the X.509 engine (pki) and the
// store. pki builds and signs what it is told; this package decides whether it
// may, and records every decision in the audit log.
package authority

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/metrics"
	"github.com/selo-qtsp/selo/pki"
)

// Config wires an Authority. Store, Keys and Profiles are required.
type Config struct {
	Store    selo.Store
	Keys     selo.KeyStore
	Profiles map[string]*pki.Profile
	// Linter is built once at start-up; nil builds one.
	Linter *pki.Linter
	// Clock defaults to the system clock.
	Clock selo.Clock
	// BaseURL is the public base URL certificates point to for CRL, OCSP and
	// CA certificates, e.g. "https://pki.example.eu". No trailing slash.
	BaseURL string
	// ProfileCA names the CA that issues each profile when a request names none.
	ProfileCA map[string]string
	Logger    *slog.Logger

	// CRLValidity is nextUpdate - thisUpdate of a CRL (DefaultCRLValidity when zero).
	CRLValidity time.Duration
	// CRLDelay is how long a publication after a revocation waits to batch
	// more revocations (DefaultCRLDelay when zero, none when negative).
	CRLDelay time.Duration
	// OCSPValidity is nextUpdate - thisUpdate of an OCSP response
	// (DefaultOCSPValidity when zero).
	OCSPValidity time.Duration
	// OCSPCacheTTL bounds how long a response is served from memory before
	// the database is asked again, unless the record of status changes says
	// it has not changed (DefaultOCSPCacheTTL when zero; see there).
	OCSPCacheTTL time.Duration
	// OCSPSignerValidityDays is the validity of delegated OCSP responder
	// certificates (pki.DefaultOCSPSignerValidityDays when zero).
	OCSPSignerValidityDays int
	// TempDir is where large CRLs are spooled while signed ("" = os.TempDir()).
	TempDir string
	// Metrics receives issuance and OCSP counts (metrics.Nop when nil).
	Metrics metrics.Sink
}

// DefaultCRLDelay is how long a CRL publication after a revocation waits for
// more revocations to batch.
const DefaultCRLDelay = 200 * time.Millisecond

// Authority is the CA service. It is safe for concurrent use.
type Authority struct {
	store     selo.Store
	keys      selo.KeyStore
	profiles  map[string]*pki.Profile
	linter    *pki.Linter
	clock     selo.Clock
	baseURL   string
	profileCA map[string]string
	log       *slog.Logger
	metrics   metrics.Sink

	crlValidity    time.Duration
	ocspValidity   time.Duration
	ocspSignerDays int
	tempDir        string
	ocsp           *ocspResponder
	crls           *crlPublisher
	crlCache       crlCache

	chains  sync.Map    // CA ID -> []*x509.Certificate, see Chain
	apiKeys apiKeyCache // see AuthenticateAPIKey

	mu      sync.Mutex
	issuers map[string]*pki.Issuer // by CA ID, built on first use
}

// New returns an Authority over cfg.
func New(cfg Config) (*Authority, error) {
	if cfg.Store == nil || cfg.Keys == nil || cfg.Profiles == nil {
		return nil, fmt.Errorf("authority: store, key store and profiles are required")
	}
	a := &Authority{
		store:     cfg.Store,
		keys:      cfg.Keys,
		profiles:  cfg.Profiles,
		linter:    cfg.Linter,
		clock:     cfg.Clock,
		baseURL:   strings.TrimRight(cfg.BaseURL, "/"),
		profileCA: cfg.ProfileCA,
		log:       cfg.Logger,
		metrics:   metrics.OrNop(cfg.Metrics),
		issuers:   map[string]*pki.Issuer{},

		crlValidity:    cfg.CRLValidity,
		ocspValidity:   cfg.OCSPValidity,
		ocspSignerDays: cfg.OCSPSignerValidityDays,
		tempDir:        cfg.TempDir,
	}
	if a.crlValidity <= 0 {
		a.crlValidity = DefaultCRLValidity
	}
	if a.ocspValidity <= 0 {
		a.ocspValidity = DefaultOCSPValidity
	}
	cacheTTL := cfg.OCSPCacheTTL
	if cacheTTL <= 0 {
		cacheTTL = DefaultOCSPCacheTTL
	}
	a.ocsp = newOCSPResponder(a, a.ocspValidity, cacheTTL)
	delay := cfg.CRLDelay
	switch {
	case delay == 0:
		delay = DefaultCRLDelay
	case delay < 0:
		delay = 0
	}
	a.crls = newCRLPublisher(a, delay)
	if a.clock == nil {
		a.clock = selo.SystemClock{}
	}
	if a.log == nil {
		a.log = slog.Default()
	}
	if a.profileCA == nil {
		a.profileCA = map[string]string{}
	}
	if a.linter == nil {
		l, err := pki.NewLinter()
		if err != nil {
			return nil, fmt.Errorf("build linter: %w", err)
		}
		a.linter = l
	}
	return a, nil
}

// Close waits for the CRL publications under way and stops taking new ones.
// It does not close the store or the key store, which the caller opened.
func (a *Authority) Close() error {
	a.crls.close()
	return nil
}

// WaitCRLs blocks until the CRL publications scheduled so far are done.
func (a *Authority) WaitCRLs() { a.crls.wait() }

// Store returns the store the authority writes to, for wiring other
// services over the same store. Handlers and commands ask the services
// instead (FindCA, ListCAs, ListCertificates, Ping here; orders from
// registration): the server package is held to that by
// TestServerAsksTheServices.
func (a *Authority) Store() selo.Store { return a.store }

// pinger is implemented by stores that can check their connection more
// cheaply than a query.
type pinger interface {
	Ping(ctx context.Context) error
}

// Ping checks that the store answers: its own Ping where it has one, else
// the cheapest query every store must answer (the CA table holds a handful
// of rows).
func (a *Authority) Ping(ctx context.Context) error {
	if p, ok := a.store.(pinger); ok {
		return p.Ping(ctx)
	}
	_, err := a.store.ListCAs(ctx)
	return err
}

// Profiles returns the loaded profiles by name.
func (a *Authority) Profiles() map[string]*pki.Profile { return a.profiles }

// Profile returns the named profile or ENOTFOUND.
func (a *Authority) Profile(name string) (*pki.Profile, error) {
	p, ok := a.profiles[name]
	if !ok {
		return nil, selo.Errorf(selo.ENOTFOUND, "no profile named %q", name)
	}
	return p, nil
}

// URLs returns the public URLs that certificates issued by caID carry.
func (a *Authority) URLs(caID string) pki.IssuerURLs {
	return pki.IssuerURLs{
		CRL:       a.baseURL + "/crl/" + caID + ".crl",
		OCSP:      a.baseURL + "/ocsp",
		CAIssuers: a.baseURL + "/ca/" + caID + ".crt",
	}
}

// issuer returns the prepared issuer of a CA, building it on first use. The
// signer is fetched once, so the key store is not on the hot path.
func (a *Authority) issuer(ctx context.Context, ca *selo.CA) (*pki.Issuer, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if iss, ok := a.issuers[ca.ID]; ok {
		return iss, nil
	}
	cert, err := x509.ParseCertificate(ca.CertDER)
	if err != nil {
		return nil, fmt.Errorf("parse certificate of ca %s: %w", ca.ID, err)
	}
	signer, err := a.keys.Signer(ctx, ca.KeyID)
	if err != nil {
		return nil, fmt.Errorf("key of ca %s: %w", ca.ID, err)
	}
	iss, err := pki.NewIssuer(cert, signer, a.URLs(ca.ID))
	if err != nil {
		return nil, fmt.Errorf("prepare issuer %s: %w", ca.ID, err)
	}
	a.issuers[ca.ID] = iss
	return iss, nil
}

// audit builds an audit entry; details is marshalled to JSON.
func (a *Authority) audit(actor, action, object, outcome string, details any) *selo.AuditEntry {
	d := "{}"
	if details != nil {
		if b, err := json.Marshal(details); err == nil {
			d = string(b)
		}
	}
	return &selo.AuditEntry{Time: a.clock.Now(), Actor: actor, Action: action, Object: object, Outcome: outcome, Details: d}
}

// auditFailure records a refused or failed operation. A failure to write the
// audit entry is logged: the caller's error is what the user must see.
func (a *Authority) auditFailure(ctx context.Context, actor, action, object string, cause error) {
	details := map[string]string{"code": selo.ErrorCode(cause), "error": selo.ErrorMessage(cause)}
	if err := a.store.AppendAudit(ctx, a.audit(actor, action, object, selo.OutcomeFailure, details)); err != nil {
		a.log.Error("append audit entry", "action", action, "object", object, "err", err)
	}
}
