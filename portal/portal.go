// Package portal is the holder's web portal under /account/: sign-in with a
// password and a second factor, the holder's certificates with their
// downloads, approval factors, authorizers and revocation, the signature
// history, the orders, and password change and reset. Pages are
// server-rendered (package internal/web) and work without JavaScript but for
// the QR polling. Every handler asks the signing service, scoped to the
// signed-in holder's account: an ID in a URL that is not the holder's is
// "not found", the same answer as an ID that does not exist.
package portal

import (
	"context"
	"embed"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/internal/web"
	"github.com/selo-qtsp/selo/registration"
	"github.com/selo-qtsp/selo/signing"
)

//go:embed templates messages
var files embed.FS

// Prefix is where the portal is served.
const Prefix = "/account/"

// CookieName is the portal's session cookie.
const CookieName = "selo_account"

// MaxSecondFactorFailures is how many wrong codes end a sign-in half-way:
// the holder starts again with the password (which counts against the
// e-mail's login window).
const MaxSecondFactorFailures = 5

// Config wires a Portal. Signing and Sessions are required.
type Config struct {
	Signing *signing.Service
	// Registration serves the Orders page when set.
	Registration *registration.Service
	// Sessions is where web sessions are kept (the store).
	Sessions selo.WebSessionStore
	// BaseURL is the public URL of the server (https makes cookies Secure;
	// password-reset links start with it).
	BaseURL string
	// IdleTimeout and AbsoluteTimeout end sessions (web's defaults when 0).
	IdleTimeout, AbsoluteTimeout time.Duration
	Logger                       *slog.Logger
	// Now is the clock of the sessions; nil is time.Now.
	Now func() time.Time
}

// Portal serves the holder portal.
type Portal struct {
	signing  *signing.Service
	reg      *registration.Service
	sessions *web.Sessions
	resets   *web.Sessions
	// walletChallenges are the one-time challenges of sign-ins with the
	// wallet, each bound to a browser session (wallet.go).
	walletChallenges *web.Sessions
	render           *web.Renderer
	log              *slog.Logger
	baseURL          string
	now              func() time.Time
	handler          http.Handler
}

// New returns the portal over cfg.
func New(cfg Config) (*Portal, error) {
	if cfg.Signing == nil || cfg.Sessions == nil {
		return nil, errors.New("portal: Signing and Sessions are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	cat, err := web.NewCatalog()
	if err != nil {
		return nil, err
	}
	msgs, _ := fs.Sub(files, "messages")
	if err := cat.Add(msgs); err != nil {
		return nil, err
	}
	pages, _ := fs.Sub(files, "templates")
	secure := web.SecureBaseURL(cfg.BaseURL)
	p := &Portal{
		signing: cfg.Signing, reg: cfg.Registration, log: cfg.Logger, now: cfg.Now,
		baseURL: strings.TrimRight(cfg.BaseURL, "/"),
		sessions: web.NewSessions(web.SessionConfig{Store: cfg.Sessions, Kind: selo.WebSessionHolder, CookieName: CookieName,
			Path: Prefix, Secure: secure, IdleTimeout: cfg.IdleTimeout, AbsoluteTimeout: cfg.AbsoluteTimeout, Now: cfg.Now}),
		resets: web.NewSessions(web.SessionConfig{Store: cfg.Sessions, Kind: selo.WebSessionReset, CookieName: CookieName + "_reset",
			Path: Prefix, Secure: secure, IdleTimeout: signing.PasswordResetLifetime, AbsoluteTimeout: signing.PasswordResetLifetime, Now: cfg.Now}),
		walletChallenges: web.NewSessions(web.SessionConfig{Store: cfg.Sessions, Kind: walletChallengeKind, CookieName: CookieName + "_wallet",
			Path: Prefix, Secure: secure, IdleTimeout: WalletChallengeLifetime, AbsoluteTimeout: WalletChallengeLifetime, Now: cfg.Now}),
		render: web.NewRenderer(pages, cat, template.FuncMap{
			"date":     func(t time.Time) string { return t.UTC().Format("2006-01-02") },
			"datetime": func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") },
		}, cfg.Logger),
	}
	p.handler = web.Protect(p.routes(), http.HandlerFunc(p.crossOrigin))
	return p, nil
}

// Handler serves every path under Prefix.
func (p *Portal) Handler() http.Handler { return p.handler }

type sessionKey struct{}

// session is the signed-in holder's session, set by signedIn.
func session(r *http.Request) *selo.WebSession {
	s, _ := r.Context().Value(sessionKey{}).(*selo.WebSession)
	return s
}

// account is the signed-in holder's account ID.
func account(r *http.Request) string { return session(r).Subject }

func (p *Portal) routes() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET "+Prefix+"static/", http.StripPrefix(Prefix+"static/", web.Assets()))
	mux.HandleFunc("GET "+Prefix+"{$}", p.handleHome)
	mux.HandleFunc("GET "+Prefix+"signin", p.handleSignInForm)
	mux.HandleFunc("POST "+Prefix+"signin", p.handleSignIn)
	mux.HandleFunc("GET "+Prefix+"signin/code", p.handleCodeForm)
	mux.HandleFunc("POST "+Prefix+"signin/code", p.handleCode)
	mux.HandleFunc("POST "+Prefix+"signin/sms", p.handleSendSignInCode)
	mux.HandleFunc("POST "+Prefix+"signout", p.handleSignOut)
	mux.HandleFunc("POST "+Prefix+"signin/wallet", p.handleWalletSignIn)
	mux.HandleFunc("POST "+WalletSignInPath, p.handleWalletApprove)
	mux.HandleFunc("GET "+Prefix+"signin/wallet/status", p.handleWalletStatus)
	mux.HandleFunc("GET "+Prefix+"reset", p.handleResetRequestForm)
	mux.HandleFunc("POST "+Prefix+"reset", p.handleResetRequest)
	mux.HandleFunc("GET "+Prefix+"reset/open", p.handleResetLink)
	mux.HandleFunc("GET "+Prefix+"reset/password", p.handleResetForm)
	mux.HandleFunc("POST "+Prefix+"reset/sms", p.handleResetSMS)
	mux.HandleFunc("POST "+Prefix+"reset/password", p.handleReset)

	in := p.signedIn
	mux.HandleFunc("GET "+Prefix+"certificates", in(p.handleCertificates))
	mux.HandleFunc("GET "+Prefix+"certificates/{id}", in(p.handleCertificate))
	mux.HandleFunc("GET "+Prefix+"certificates/{id}/download/{file}", in(p.handleDownload))
	mux.HandleFunc("GET "+Prefix+"orders/{id}/download/{file}", in(p.handleOrderDownload))
	mux.HandleFunc("POST "+Prefix+"certificates/{id}/factor-code", in(p.handleFactorCode))
	mux.HandleFunc("POST "+Prefix+"certificates/{id}/approval", in(p.handleApprovalMethod))
	mux.HandleFunc("POST "+Prefix+"certificates/{id}/authenticator", in(p.handleEnrollAuthenticator))
	mux.HandleFunc("POST "+Prefix+"certificates/{id}/authenticator/{aid}/confirm", in(p.handleConfirmAuthenticator))
	mux.HandleFunc("POST "+Prefix+"certificates/{id}/wallet", in(p.handleEnrollWallet))
	mux.HandleFunc("POST "+Prefix+"certificates/{id}/authorizers", in(p.handleRegisterAuthorizer))
	mux.HandleFunc("POST "+Prefix+"certificates/{id}/authorizers/{aid}/confirm", in(p.handleConfirmAuthorizer))
	mux.HandleFunc("GET "+Prefix+"certificates/{id}/authorizers/{aid}", in(p.handleAuthorizer))
	mux.HandleFunc("POST "+Prefix+"certificates/{id}/authorizers/{aid}/enable", in(p.handleAuthorizerEnabled(true)))
	mux.HandleFunc("POST "+Prefix+"certificates/{id}/authorizers/{aid}/disable", in(p.handleAuthorizerEnabled(false)))
	mux.HandleFunc("POST "+Prefix+"certificates/{id}/authorizers/{aid}/renew", in(p.handleRenewCode))
	mux.HandleFunc("POST "+Prefix+"certificates/{id}/authorizers/{aid}/renew/confirm", in(p.handleRenew))
	mux.HandleFunc("GET "+Prefix+"certificates/{id}/revoke", in(p.handleRevokeForm))
	mux.HandleFunc("POST "+Prefix+"certificates/{id}/revoke/code", in(p.handleRevokeCode))
	mux.HandleFunc("POST "+Prefix+"certificates/{id}/revoke", in(p.handleRevoke))
	mux.HandleFunc("GET "+Prefix+"approvals", in(p.handleApprovals))
	mux.HandleFunc("GET "+Prefix+"approvals/{aid}/status", in(p.handleApprovalStatus))
	mux.HandleFunc("GET "+Prefix+"history", in(p.handleHistory))
	mux.HandleFunc("GET "+Prefix+"orders", in(p.handleOrders))
	mux.HandleFunc("GET "+Prefix+"password", in(p.handlePasswordForm))
	mux.HandleFunc("POST "+Prefix+"password", in(p.handlePassword))
	mux.HandleFunc(Prefix, p.notFound)
	return mux
}

// signedIn lets a request through only with a fully signed-in session; a
// browser without one goes to the sign-in page.
func (p *Portal) signedIn(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s, err := p.sessions.Get(r)
		if err != nil {
			p.fail(w, r, err)
			return
		}
		if s == nil || s.Stage != selo.WebStageSignedIn {
			if r.Method == http.MethodGet {
				http.Redirect(w, r, Prefix+"signin", http.StatusSeeOther)
				return
			}
			p.page(w, r, http.StatusUnauthorized, "message", "signin.title", nil, p.text(r, "signin.needed"))
			return
		}
		next(w, r.WithContext(context.WithValue(r.Context(), sessionKey{}, s)))
	}
}

// nav is the menu of a signed-in page.
func (p *Portal) nav(current string) []web.NavLink {
	links := []web.NavLink{
		{Href: Prefix + "certificates", Label: "nav.certificates"},
		{Href: Prefix + "orders", Label: "nav.orders"},
		{Href: Prefix + "approvals", Label: "nav.approvals"},
		{Href: Prefix + "history", Label: "nav.history"},
		{Href: Prefix + "password", Label: "nav.password"},
	}
	for i := range links {
		links[i].Current = links[i].Href == current
	}
	return links
}

func (p *Portal) text(r *http.Request, key string, args ...any) string {
	return p.render.Catalog().Text(web.Lang(nil, r), key, args...)
}

// page renders a page; a signed-in request gets the menu and the sign-out.
func (p *Portal) page(w http.ResponseWriter, r *http.Request, status int, name, title string, data any, errMsg string) {
	pg := p.render.NewPage(w, r, title)
	pg.Brand, pg.Assets, pg.Data, pg.Error = "brand", Prefix+"static/", data, errMsg
	if s := session(r); s != nil {
		pg.Nav, pg.SignOut = p.nav(r.URL.Path), Prefix+"signout"
		pg.User = s.Data
	}
	if f := r.URL.Query().Get("done"); f != "" && p.render.Catalog().Has("done."+f) {
		pg.Flash = pg.T("done." + f)
	}
	pg.Poll = name == "approvals" || name == "wallet"
	p.render.Render(w, status, name, pg)
}

// errorText translates an application error for the holder: the codes the
// portal expects have messages; the service's own message otherwise, and
// "Internal error" for anything that is not an application error.
func (p *Portal) errorText(r *http.Request, err error) string {
	switch selo.ErrorCode(err) {
	case selo.EINTERNAL:
		return p.text(r, "web.internal")
	case selo.ETOOMANYREQUESTS:
		return p.text(r, "web.toomany") + " " + selo.ErrorMessage(err)
	}
	return selo.ErrorMessage(err)
}

// status maps an application error to the page's HTTP status.
func status(err error) int {
	switch selo.ErrorCode(err) {
	case selo.EINVALID:
		return http.StatusUnprocessableEntity
	case selo.EUNAUTHORIZED:
		return http.StatusUnauthorized
	case selo.EFORBIDDEN:
		return http.StatusForbidden
	case selo.ENOTFOUND:
		return http.StatusNotFound
	case selo.ECONFLICT:
		return http.StatusConflict
	case selo.ETOOMANYREQUESTS:
		return http.StatusTooManyRequests
	}
	return http.StatusInternalServerError
}

// fail answers an error as a page; internal details go to the log only.
func (p *Portal) fail(w http.ResponseWriter, r *http.Request, err error) {
	if selo.ErrorCode(err) == selo.EINTERNAL {
		p.log.Error("portal request failed", "path", r.URL.Path, "err", err)
	}
	p.page(w, r, status(err), "message", "error.title", nil, p.errorText(r, err))
}

func (p *Portal) notFound(w http.ResponseWriter, r *http.Request) {
	p.page(w, r, http.StatusNotFound, "message", "error.title", nil, p.text(r, "web.notfound"))
}

func (p *Portal) crossOrigin(w http.ResponseWriter, r *http.Request) {
	p.page(w, r, http.StatusForbidden, "message", "error.title", nil, p.text(r, "web.forbidden"))
}

// redirect answers a form with 303 to path.
func redirect(w http.ResponseWriter, r *http.Request, path string) {
	http.Redirect(w, r, path, http.StatusSeeOther)
}

func (p *Portal) handleHome(w http.ResponseWriter, r *http.Request) {
	if s, _ := p.sessions.Get(r); s != nil && s.Stage == selo.WebStageSignedIn {
		redirect(w, r, Prefix+"certificates")
		return
	}
	redirect(w, r, Prefix+"signin")
}
