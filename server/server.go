// Package server is Selo's HTTP layer: the public CA endpoints relying
// parties fetch (AIA certificates and chains), the health check, and the
// operator REST API under /api/v1. Handlers translate HTTP to calls of the
// authority service and back; they decide nothing about certificates.
// Application error codes are mapped to HTTP status in one place
// (ErrorStatusCode); any other error is answered "Internal error." and its
// details go to the log.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/authority"
	"github.com/selo-qtsp/selo/control"
	"github.com/selo-qtsp/selo/notify"
	"github.com/selo-qtsp/selo/registration"
	"github.com/selo-qtsp/selo/signing"
	"github.com/selo-qtsp/selo/tsa"
)

// Defaults for the zero values of Config.
const (
	// DefaultMaxBodyBytes is the request body limit: 64 KiB.
	DefaultMaxBodyBytes = 64 << 10
	// DefaultCacheMaxAge is how long the public CA files may be cached.
	DefaultCacheMaxAge = time.Hour
	// DefaultShutdownTimeout is how long Serve waits for requests in flight.
	DefaultShutdownTimeout = 15 * time.Second
)

// Config wires a Server. Authority is required.
type Config struct {
	Authority *authority.Authority
	// Logger receives the access log and the details of internal errors;
	// nil uses slog.Default().
	Logger *slog.Logger
	// MaxBodyBytes bounds every request body (DefaultMaxBodyBytes when 0).
	// A CSR is a few kilobytes, so the default leaves room without letting a
	// client make the server buffer megabytes.
	MaxBodyBytes int64
	// CacheMaxAge is how long clients and proxies may keep the public CA
	// certificates and chains (DefaultCacheMaxAge when 0). They change only
	// when a CA is created, so long caching is safe.
	CacheMaxAge time.Duration
	// ShutdownTimeout bounds how long Serve waits for requests in flight once
	// its context is cancelled (DefaultShutdownTimeout when 0).
	ShutdownTimeout time.Duration
	// Roles chooses what this replica serves: RoleAPI (the REST API),
	// RoleOCSP (OCSP and CRLs) and RolePortal (the holder portal); all serve
	// the CA files and /healthz. Empty serves everything.
	Roles []string
	// Registration serves orders, identity checks, payments and the lift
	// flow under /api/v1 when set (nil: those routes answer 404).
	Registration *registration.Service
	// Signing serves the holder API (account, authenticators, wallets,
	// authorizers) and the wallet device endpoints under /api/v1 when set.
	Signing *signing.Service
	// Outbox is the local outbox e-mails and text messages go to when no
	// SMTP server or SMS gateway is configured. When set, operators read it
	// at GET /api/v1/outbox (API key).
	Outbox *notify.Outbox
	// OutboxPage also serves the outbox as a web page at /outbox, to
	// clients on the loopback interface only: the laptop set-up, where the
	// holder reads their own "ready to lift" e-mail. Never behind a proxy.
	OutboxPage bool
	// PublicRateLimit bounds, per client address, the endpoints that need no
	// API key and guard a secret (DefaultRateLimit when zero).
	PublicRateLimit RateLimit
	// Now is the clock of the rate limit; nil uses time.Now.
	Now func() time.Time
	// TSA answers RFC 3161 requests at POST /tsa when set (tsa.go).
	TSA *tsa.Responder
	// Control serves the dual-control proposals under /api/v1/proposals
	// (admin keys) when set (proposal.go).
	Control *control.Service
	// Portal serves the holder portal's pages under /account/ (package
	// portal) when set and the replica has RolePortal.
	Portal http.Handler
	// Desk serves the registration desk's back office under /desk/ and
	// the holder's identity check under /account/orders/{id}/identity
	// (package desk) when set and the replica has RolePortal.
	Desk http.Handler
}

// The roles a replica can serve over HTTP.
const (
	RoleAPI    = "api"
	RoleOCSP   = "ocsp"
	RolePortal = "portal" // the holder portal's pages (/account/)
)

// Server serves Selo over HTTP. It is safe for concurrent use.
type Server struct {
	authority       *authority.Authority
	log             *slog.Logger
	maxBodyBytes    int64
	cacheMaxAge     time.Duration
	shutdownTimeout time.Duration
	handler         http.Handler
	roles           map[string]bool
	limiter         *rateLimiter // nil when off
	now             func() time.Time
	registration    *registration.Service
	signing         *signing.Service
	outbox          *notify.Outbox
	outboxPage      bool
	tsa             *tsa.Responder
	control         *control.Service
	portal          http.Handler
	desk            http.Handler
}

// New returns a Server over cfg. It panics when cfg.Authority is nil, a
// wiring mistake that must not reach production silently.
func New(cfg Config) *Server {
	if cfg.Authority == nil {
		panic("server: Config.Authority is required")
	}
	s := &Server{
		authority:       cfg.Authority,
		log:             cfg.Logger,
		maxBodyBytes:    cfg.MaxBodyBytes,
		cacheMaxAge:     cfg.CacheMaxAge,
		shutdownTimeout: cfg.ShutdownTimeout,
		registration:    cfg.Registration,
		signing:         cfg.Signing,
		outbox:          cfg.Outbox,
		outboxPage:      cfg.OutboxPage && cfg.Outbox != nil,
		tsa:             cfg.TSA,
		control:         cfg.Control,
		portal:          cfg.Portal,
		desk:            cfg.Desk,
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.maxBodyBytes <= 0 {
		s.maxBodyBytes = DefaultMaxBodyBytes
	}
	if s.cacheMaxAge <= 0 {
		s.cacheMaxAge = DefaultCacheMaxAge
	}
	if s.shutdownTimeout <= 0 {
		s.shutdownTimeout = DefaultShutdownTimeout
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	s.limiter = newRateLimiter(cfg.PublicRateLimit, now)
	s.now = now
	s.roles = map[string]bool{}
	for _, r := range cfg.Roles {
		s.roles[r] = true
	}
	if len(s.roles) == 0 {
		s.roles[RoleAPI], s.roles[RoleOCSP], s.roles[RolePortal] = true, true, true
	}
	mux := s.routes()
	var h http.Handler = mux
	if s.roles[RoleOCSP] {
		// OCSP GETs bypass the mux: its pattern matching unescapes the
		// whole base64 path, which cost a third of the time of an answer
		// served from memory.
		h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if (r.Method == http.MethodGet || r.Method == http.MethodHead) && strings.HasPrefix(r.URL.Path, "/ocsp/") {
				s.handleOCSPGet(w, r)
				return
			}
			mux.ServeHTTP(w, r)
		})
	}
	s.handler = s.observe(h)
	return s
}

// Handler returns the root handler: every route behind the request ID,
// panic recovery and access log middleware.
func (s *Server) Handler() http.Handler { return s.handler }

func (s *Server) routes() *http.ServeMux {
	mux := http.NewServeMux()
	public := func(h http.HandlerFunc) http.HandlerFunc { return h }
	s.route(mux, "/healthz", public, methods{http.MethodGet: s.handleHealth})
	s.route(mux, "/readyz", public, methods{http.MethodGet: s.handleReady}) // health.go
	// ServeMux wildcards are whole segments, so "{id}.crt" cannot be a
	// pattern: one route takes the file name and splits the extension. The
	// CA files are served by every role: relying parties chase them.
	s.route(mux, "/ca/{file}", public, methods{http.MethodGet: s.handleCAFile})
	s.tsaRoutes(mux) // tsa.go: RFC 3161 timestamps, public and rate limited
	if s.roles[RoleOCSP] {
		s.route(mux, "/crl/{file}", public, methods{http.MethodGet: s.handleCRL})
		s.route(mux, "/ocsp", public, methods{http.MethodPost: s.handleOCSPPost})
		s.route(mux, "/ocsp/{request...}", public, methods{http.MethodGet: s.handleOCSPGet, http.MethodPost: s.handleOCSPPost})
	}
	if s.roles[RolePortal] && s.portal != nil {
		// The portal's pages carry their own security headers and
		// cross-origin refusal (internal/web.Protect).
		mux.Handle("/account/", s.portal)
	}
	if s.roles[RolePortal] && s.desk != nil {
		// The back office and the identity pages (internal/web.Protect
		// too); their patterns are more specific than the portal's
		// "/account/", so they win under it.
		mux.Handle("/desk/", s.desk)
		mux.Handle("/account/orders/{id}/identity", s.desk)
		mux.Handle("/account/orders/{id}/identity/{check}/{kind}", s.desk)
	}
	if !s.roles[RoleAPI] {
		mux.HandleFunc("/", s.notFound)
		return mux
	}
	// The holder proves who they are by a signature with the certificate's
	// key, not with an API key.
	s.route(mux, "/api/v1/holder/revoke", s.limited, methods{http.MethodPost: s.handleHolderRevoke})
	s.route(mux, "/api/v1/holder/revoke-with-code", s.limited, methods{http.MethodPost: s.handleHolderRevokeWithCode})
	if s.signing != nil {
		s.holderRoutes(mux) // holders and wallets authenticate themselves (holder.go)
		s.cscRoutes(mux)    // integrators: the CSC API v2 (csc.go)
	}
	if s.registration != nil {
		// Holders prove themselves with their order's codes, the payment
		// provider with the webhook signature; officers use an API key.
		s.liftRoutes(mux)                  // lift.go
		s.orderRoutes(mux, s.officerRoute) // order.go
		s.updateRoutes(mux)                // update.go
	}

	if s.outboxPage {
		s.route(mux, "/outbox", s.loopbackOnly, methods{http.MethodGet: s.handleOutboxPage})
		s.route(mux, "/outbox/{id}", s.loopbackOnly, methods{http.MethodGet: s.handleOutboxMessagePage})
	}

	// Everything else under /api/ needs a key, unknown paths and wrong
	// methods included, so that probing without one does not reveal what
	// exists.
	// Each route names the roles that may call it; auditors also read
	// (roles.go).
	api := s.authenticate
	admin, officer := s.role(selo.RoleAdmin), s.role(selo.RoleOfficer)
	issuers := s.role(selo.RoleOfficer, selo.RoleIntegrator)
	readers := s.role(selo.RoleAdmin, selo.RoleOfficer, selo.RoleIntegrator)
	s.route(mux, "/api/v1/profiles", readers, methods{http.MethodGet: s.handleListProfiles})
	s.route(mux, "/api/v1/cas", readers, methods{http.MethodGet: s.handleListCAs})
	s.route(mux, "/api/v1/cas/{id}", readers, methods{http.MethodGet: s.handleGetCA})
	s.route(mux, "/api/v1/cas/{id}/revoke", admin, methods{http.MethodPost: s.handleRevokeCA})
	s.route(mux, "/api/v1/certificates", issuers, methods{
		http.MethodGet:  s.handleListCertificates,
		http.MethodPost: s.handleIssueCertificate,
	})
	s.route(mux, "/api/v1/certificates/{serial}", issuers, methods{http.MethodGet: s.handleGetCertificate})
	s.route(mux, "/api/v1/certificates/{serial}/revoke", officer, methods{http.MethodPost: s.handleRevoke})
	s.route(mux, "/api/v1/certificates/{serial}/revocation", officer, methods{http.MethodGet: s.handleGetRevocation})
	s.route(mux, "/api/v1/certificates/{serial}/release-hold", officer, methods{http.MethodPost: s.handleReleaseHold})
	if s.outbox != nil {
		s.route(mux, "/api/v1/outbox", s.only(selo.RoleOfficer), methods{http.MethodGet: s.handleListOutbox})
	}
	if s.signing != nil {
		s.accountAdminRoutes(mux, officer) // account.go: disable and enable accounts and credentials
	}
	if s.control != nil {
		s.proposalRoutes(mux, admin) // proposal.go: dual control
	}
	mux.HandleFunc("/api/", api(s.notFound))
	mux.HandleFunc("/", s.notFound)
	return mux
}

// methods maps HTTP methods to the handlers of one path.
type methods map[string]http.HandlerFunc

// route registers each method of path behind wrap, and the path without a
// method so that any other method gets a JSON 405 with Allow rather than the
// mux's plain text.
func (s *Server) route(mux *http.ServeMux, path string, wrap func(http.HandlerFunc) http.HandlerFunc, m methods) {
	allow := make([]string, 0, len(m)+1)
	for method, h := range m {
		mux.HandleFunc(method+" "+path, wrap(h))
		allow = append(allow, method)
		if method == http.MethodGet {
			allow = append(allow, http.MethodHead) // a GET pattern also serves HEAD
		}
	}
	sort.Strings(allow)
	allowed := strings.Join(allow, ", ")
	mux.HandleFunc(path, wrap(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", allowed)
		s.writeError(w, r, selo.Errorf(EMETHOD, "method %s is not allowed here; use %s", truncate(r.Method, 16), allowed))
	}))
}

func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	s.writeError(w, r, selo.Errorf(selo.ENOTFOUND, "no such resource: %s", r.URL.Path))
}

// Serve answers HTTP on ln until ctx is cancelled, then stops accepting and
// waits up to Config.ShutdownTimeout for the requests in flight. It returns
// nil after a clean shutdown.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	return s.ServeHandler(ctx, ln, s.handler)
}

// ServeHandler is Serve with h in place of Handler: h wraps or filters
// Handler (HSTS on a TLS listener, only the public paths on a plain one).
func (s *Server) ServeHandler(ctx context.Context, ln net.Listener, h http.Handler) error {
	hs := s.HTTPServer()
	hs.Handler = h
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.shutdownTimeout)
	defer cancel()
	if err := hs.Shutdown(shutdownCtx); err != nil {
		_ = hs.Close()
		return fmt.Errorf("shut down http server: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// ListenAndServe listens on addr (host:port) and serves until ctx is cancelled.
func (s *Server) ListenAndServe(ctx context.Context, addr string) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	return s.Serve(ctx, ln)
}

// HTTPServer returns an http.Server for Handler with timeouts that keep slow
// or idle clients from holding connections: headers must arrive within 10
// seconds and a whole request within a minute. For callers that manage the
// listener and shutdown themselves.
func (s *Server) HTTPServer() *http.Server {
	return &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       time.Minute,
		WriteTimeout:      2 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
}
