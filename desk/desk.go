// Package desk is the registration desk's back office (/desk/) and the
// holder's identity check in the browser (/account/orders/{id}/identity).
//
// Officers, admins and auditors sign in with their operator accounts
// (control.AuthenticateOperator), never with API keys. Every request reads
// the account again (control.ActiveOperator), so a disabled account or a
// role taken away stops working at once. Roles are not ranked (selo.Role):
//
//	officer  identity checks (review, approve, reject), orders, revocations
//	admin    the CAs, profiles and operator accounts (read)
//	auditor  reads what officers and admins read, and the audit log with its
//	         "verify chain" button; changes nothing
//
// A refused request is answered 403 and recorded (desk.forbidden). Every
// action goes through a service (registration, authority, control), which
// audits it. Pages are html/template on the web kit (internal/web): strict
// CSP, no inline script, cross-origin POSTs refused. The only script is
// static/camera.js, which fills the identity form's file inputs from the
// camera; without it the file inputs work as they are.
package desk

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/authority"
	"github.com/selo-qtsp/selo/control"
	"github.com/selo-qtsp/selo/internal/web"
	"github.com/selo-qtsp/selo/registration"
)

//go:embed pages messages static
var files embed.FS

// Cookie of the back office's session, scoped to /desk/.
const (
	CookieName = "selo_desk"
	// HolderCookieName is the holder portal's session cookie, read by the
	// identity pages under /account/ when Config.HolderSessions is not given.
	HolderCookieName = "selo_account"
)

// Config wires the back office.
type Config struct {
	Registration *registration.Service
	Authority    *authority.Authority
	Control      *control.Service
	// Sessions stores the officers' sessions (and the holders', when
	// HolderSessions is nil).
	Sessions selo.WebSessionStore
	// HolderSessions reads the holder portal's sessions; nil makes one over
	// Sessions with HolderCookieName under /account/.
	HolderSessions *web.Sessions
	// BaseURL decides whether cookies are Secure (https).
	BaseURL string
	Clock   selo.Clock
	Logger  *slog.Logger
	// IdleTimeout and AbsoluteTimeout of an officer's session (the web
	// kit's defaults when zero).
	IdleTimeout, AbsoluteTimeout time.Duration
}

// Desk serves the back office and the holder's identity pages.
type Desk struct {
	cfg      Config
	reg      *registration.Service
	auth     *authority.Authority
	ctl      *control.Service
	sessions *web.Sessions
	holders  *web.Sessions
	render   *web.Renderer
	log      *slog.Logger
	now      func() time.Time
}

// New returns the back office over cfg. Registration, Authority, Control
// and Sessions are required.
func New(cfg Config) (*Desk, error) {
	if cfg.Registration == nil || cfg.Authority == nil || cfg.Control == nil || cfg.Sessions == nil {
		return nil, errors.New("desk: registration, authority, control and a session store are required")
	}
	if cfg.Clock == nil {
		cfg.Clock = selo.SystemClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	cat, err := newCatalog()
	if err != nil {
		return nil, err
	}
	pages, _ := fs.Sub(files, "pages")
	secure := web.SecureBaseURL(cfg.BaseURL)
	d := &Desk{cfg: cfg, reg: cfg.Registration, auth: cfg.Authority, ctl: cfg.Control, log: cfg.Logger, now: cfg.Clock.Now}
	d.sessions = web.NewSessions(web.SessionConfig{Store: cfg.Sessions, Kind: selo.WebSessionOfficer, CookieName: CookieName,
		Path: "/desk/", Secure: secure, IdleTimeout: cfg.IdleTimeout, AbsoluteTimeout: cfg.AbsoluteTimeout, Now: cfg.Clock.Now})
	d.holders = cfg.HolderSessions
	if d.holders == nil {
		d.holders = web.NewSessions(web.SessionConfig{Store: cfg.Sessions, Kind: selo.WebSessionHolder, CookieName: HolderCookieName,
			Path: "/account/", Secure: secure, Now: cfg.Clock.Now})
	}
	d.render = web.NewRenderer(pages, cat, template.FuncMap{
		"when": func(t time.Time) string {
			if t.IsZero() {
				return "—"
			}
			return t.UTC().Format("2006-01-02 15:04 UTC")
		},
		"day": func(t time.Time) string {
			if t.IsZero() {
				return "—"
			}
			return t.UTC().Format("2006-01-02")
		},
		"money": func(cents int64, cur string) string { return formatMoney(cents, cur) },
		"prettyJSON": func(s string) string {
			var v any
			if json.Unmarshal([]byte(s), &v) != nil {
				return s
			}
			b, _ := json.MarshalIndent(v, "", "  ")
			return string(b)
		},
	}, cfg.Logger)
	return d, nil
}

// newCatalog returns the kit's messages with the desk's.
func newCatalog() (*web.Catalog, error) {
	cat, err := web.NewCatalog()
	if err != nil {
		return nil, err
	}
	msgs, _ := fs.Sub(files, "messages")
	if err := cat.Add(msgs); err != nil {
		return nil, err
	}
	return cat, nil
}

// Handler returns the routes of /desk/ and /account/orders/{id}/identity,
// behind the web kit's protection (security headers, cross-origin POSTs
// refused).
func (d *Desk) Handler() http.Handler {
	mux := http.NewServeMux()
	d.Routes(mux)
	return mux
}

// Routes adds the desk's routes to mux, each behind web.Protect.
func (d *Desk) Routes(mux *http.ServeMux) {
	p := func(h http.HandlerFunc) http.Handler { return web.Protect(h, http.HandlerFunc(d.crossOrigin)) }
	mux.Handle("/desk/assets/", http.StripPrefix("/desk/assets/", web.Assets()))
	mux.Handle("GET /desk/static/camera.js", staticFile("static/camera.js", "text/javascript; charset=utf-8"))
	mux.Handle("GET /desk/static/desk.css", staticFile("static/desk.css", "text/css; charset=utf-8"))
	mux.Handle("/desk/", p(d.notFound))
	mux.Handle("GET /desk/{$}", p(d.home))
	mux.Handle("GET /desk/signin", p(d.signInPage))
	mux.Handle("POST /desk/signin", p(d.signIn))
	mux.Handle("POST /desk/signout", p(d.signOut))

	read := []selo.Role{selo.RoleOfficer, selo.RoleAuditor}
	officer := []selo.Role{selo.RoleOfficer}
	mux.Handle("GET /desk/identity", p(d.need(read, d.queue)))
	mux.Handle("GET /desk/identity/{id}", p(d.need(read, d.review)))
	mux.Handle("GET /desk/identity/{id}/photo/{kind}", p(d.need(read, d.officerPhoto)))
	mux.Handle("POST /desk/identity/{id}/decision", p(d.need(officer, d.decide)))
	mux.Handle("GET /desk/orders", p(d.need(read, d.orders)))
	mux.Handle("GET /desk/revoke", p(d.need(officer, d.revokePage)))
	mux.Handle("POST /desk/revoke", p(d.need(officer, d.revoke)))
	audit := []selo.Role{selo.RoleAuditor, selo.RoleAdmin}
	mux.Handle("GET /desk/audit", p(d.need(audit, d.auditLog)))
	mux.Handle("POST /desk/audit/verify", p(d.need(audit, d.verifyAudit)))
	mux.Handle("GET /desk/admin", p(d.need([]selo.Role{selo.RoleAdmin, selo.RoleAuditor}, d.admin)))

	mux.Handle("GET /account/orders/{id}/identity", p(d.holder(d.identityPage)))
	mux.Handle("POST /account/orders/{id}/identity", p(d.holder(d.submitIdentity)))
	mux.Handle("GET /account/orders/{id}/identity/{check}/{kind}", p(d.holder(d.holderPhoto)))
}

func staticFile(name, contentType string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := files.ReadFile(name)
		if err != nil {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", contentType)
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Cache-Control", "public, max-age=3600")
		_, _ = w.Write(b)
	})
}

// officerKey is the context key of the signed-in operator.
type officerKey struct{}

func officerFrom(ctx context.Context) *selo.Operator {
	op, _ := ctx.Value(officerKey{}).(*selo.Operator)
	return op
}

func actor(op *selo.Operator) string { return "operator:" + op.Username }

// signedIn returns the operator of the request's session, or nil.
func (d *Desk) signedIn(r *http.Request) (*selo.Operator, *selo.WebSession, error) {
	s, err := d.sessions.Get(r)
	if err != nil || s == nil || s.Stage != selo.WebStageSignedIn {
		return nil, nil, err
	}
	op, err := d.ctl.ActiveOperator(r.Context(), s.Subject)
	if selo.ErrorCode(err) == selo.EUNAUTHORIZED {
		return nil, s, nil
	}
	return op, s, err
}

// need lets a signed-in operator holding one of roles through; others are
// sent to sign in (no session) or refused with 403, audited.
func (d *Desk) need(roles []selo.Role, next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		op, _, err := d.signedIn(r)
		if err != nil {
			d.fail(w, r, err)
			return
		}
		if op == nil {
			if r.Method == http.MethodGet {
				http.Redirect(w, r, "/desk/signin", http.StatusSeeOther)
				return
			}
			d.errorPage(w, r, http.StatusUnauthorized, d.text(r, "desk.signin.needed"))
			return
		}
		if !selo.HasRole(op.Roles, roles...) {
			d.forbidden(w, r, op, roles)
			return
		}
		next(w, r.WithContext(context.WithValue(r.Context(), officerKey{}, op)))
	}
}

// forbidden refuses op's request for its roles, with an audit entry.
func (d *Desk) forbidden(w http.ResponseWriter, r *http.Request, op *selo.Operator, need []selo.Role) {
	details, _ := json.Marshal(map[string]string{"method": r.Method, "path": truncate(r.URL.Path, 200),
		"needs": selo.JoinRoles(need), "has": selo.JoinRoles(op.Roles)})
	entry := &selo.AuditEntry{Time: d.now().UTC(), Actor: actor(op), Action: "desk.forbidden", Object: "desk" + truncate(r.URL.Path, 200),
		Outcome: selo.OutcomeFailure, Details: string(details)}
	if err := d.auth.RecordDecision(r.Context(), entry); err != nil {
		d.log.Error("append audit entry", "action", "desk.forbidden", "err", err)
	}
	p := d.page(w, r, "desk.forbidden.title")
	p.Error = d.text(r, "desk.forbidden", roleNames(need))
	d.render.Render(w, http.StatusForbidden, "message", p)
}

func roleNames(roles []selo.Role) string {
	s := make([]string, len(roles))
	for i, r := range roles {
		s[i] = string(r)
	}
	return strings.Join(s, ", ")
}

// page returns a page of the back office for the signed-in operator (if any).
func (d *Desk) page(w http.ResponseWriter, r *http.Request, title string) *web.Page {
	p := d.render.NewPage(w, r, title)
	p.Brand, p.Assets = "desk.brand", "/desk/assets/"
	if op := officerFrom(r.Context()); op != nil {
		p.User, p.SignOut = op.Username+" ("+roleNames(op.Roles)+")", "/desk/signout"
		p.Nav = navFor(op.Roles, r.URL.Path)
	}
	return p
}

func navFor(roles []selo.Role, path string) []web.NavLink {
	var nav []web.NavLink
	add := func(href, label string, ok bool) {
		if ok {
			nav = append(nav, web.NavLink{Href: href, Label: label, Current: strings.HasPrefix(path, href)})
		}
	}
	read := selo.HasRole(roles, selo.RoleOfficer, selo.RoleAuditor)
	add("/desk/identity", "desk.nav.identity", read)
	add("/desk/orders", "desk.nav.orders", read)
	add("/desk/revoke", "desk.nav.revoke", selo.HasRole(roles, selo.RoleOfficer))
	add("/desk/admin", "desk.nav.admin", selo.HasRole(roles, selo.RoleAdmin, selo.RoleAuditor))
	add("/desk/audit", "desk.nav.audit", selo.HasRole(roles, selo.RoleAuditor, selo.RoleAdmin))
	return nav
}

func (d *Desk) text(r *http.Request, key string, args ...any) string {
	return d.render.Catalog().Text(web.Lang(discard{}, r), key, args...)
}

// discard is a ResponseWriter for web.Lang when only the language is wanted.
type discard struct{}

func (discard) Header() http.Header         { return http.Header{} }
func (discard) Write(b []byte) (int, error) { return len(b), nil }
func (discard) WriteHeader(int)             {}

// errorPage writes a page with one error message.
func (d *Desk) errorPage(w http.ResponseWriter, r *http.Request, status int, msg string) {
	p := d.page(w, r, "desk.error.title")
	p.Error = msg
	d.render.Render(w, status, "message", p)
}

// fail writes a service error as a page: its message for the user's own
// mistakes, a generic one (and a log line) for internal faults.
func (d *Desk) fail(w http.ResponseWriter, r *http.Request, err error) {
	status := http.StatusInternalServerError
	switch selo.ErrorCode(err) {
	case selo.EINVALID:
		status = http.StatusBadRequest
	case selo.ENOTFOUND:
		status = http.StatusNotFound
	case selo.ECONFLICT:
		status = http.StatusConflict
	case selo.EFORBIDDEN:
		status = http.StatusForbidden
	case selo.EUNAUTHORIZED:
		status = http.StatusUnauthorized
	case selo.ETOOMANYREQUESTS:
		status = http.StatusTooManyRequests
	case selo.ENOTIMPLEMENTED:
		status = http.StatusNotImplemented
	}
	if status == http.StatusInternalServerError {
		d.log.Error("desk", "path", r.URL.Path, "err", err)
		d.errorPage(w, r, status, d.text(r, "web.internal"))
		return
	}
	d.errorPage(w, r, status, selo.ErrorMessage(err))
}

func (d *Desk) notFound(w http.ResponseWriter, r *http.Request) {
	d.errorPage(w, r, http.StatusNotFound, d.text(r, "web.notfound"))
}

func (d *Desk) crossOrigin(w http.ResponseWriter, r *http.Request) {
	d.errorPage(w, r, http.StatusForbidden, d.text(r, "web.forbidden"))
}

func (d *Desk) home(w http.ResponseWriter, r *http.Request) {
	op, _, err := d.signedIn(r)
	switch {
	case err != nil:
		d.fail(w, r, err)
	case op == nil:
		http.Redirect(w, r, "/desk/signin", http.StatusSeeOther)
	default:
		nav := navFor(op.Roles, "")
		if len(nav) == 0 {
			d.errorPage(w, r, http.StatusForbidden, d.text(r, "desk.forbidden", "officer, auditor, admin"))
			return
		}
		http.Redirect(w, r, nav[0].Href, http.StatusSeeOther)
	}
}

// signInPage shows the sign-in form.
func (d *Desk) signInPage(w http.ResponseWriter, r *http.Request) {
	d.render.Render(w, http.StatusOK, "signin", d.page(w, r, "desk.signin.title"))
}

// signIn checks the operator's password (control.AuthenticateOperator,
// which audits both outcomes) and starts a session with a new token.
func (d *Desk) signIn(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 8<<10)
	if err := r.ParseForm(); err != nil {
		d.errorPage(w, r, http.StatusBadRequest, d.text(r, "desk.form.bad"))
		return
	}
	username := strings.TrimSpace(r.PostForm.Get("username"))
	op, err := d.ctl.SignInOperator(r.Context(), username, r.PostForm.Get("password"), clientAddress(r))
	if err != nil {
		if selo.ErrorCode(err) == selo.ETOOMANYREQUESTS {
			p := d.page(w, r, "desk.signin.title")
			p.Error = d.text(r, "web.toomany") + " " + selo.ErrorMessage(err)
			w.Header().Set("Retry-After", strconv.Itoa(retryAfter(err)))
			d.render.Render(w, http.StatusTooManyRequests, "signin", p)
			return
		}
		if selo.ErrorCode(err) != selo.EUNAUTHORIZED {
			d.fail(w, r, err)
			return
		}
		p := d.page(w, r, "desk.signin.title")
		p.Error = d.text(r, "desk.signin.wrong")
		p.Data = map[string]string{"Username": username}
		d.render.Render(w, http.StatusUnauthorized, "signin", p)
		return
	}
	if old, _ := d.sessions.Get(r); old != nil {
		_ = d.sessions.End(r.Context(), w, old)
	}
	if _, err := d.sessions.Start(r.Context(), w, op.Username, selo.WebStageSignedIn, ""); err != nil {
		d.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/desk/", http.StatusSeeOther)
}

// signOut ends the session (the token is deleted from the store, so a copy
// of the cookie opens nothing afterwards).
func (d *Desk) signOut(w http.ResponseWriter, r *http.Request) {
	op, s, err := d.signedIn(r)
	if err != nil {
		d.fail(w, r, err)
		return
	}
	if s == nil {
		s, _ = d.sessions.Get(r)
	}
	if err := d.sessions.End(r.Context(), w, s); err != nil {
		d.fail(w, r, err)
		return
	}
	if op != nil {
		if err := d.ctl.RecordSignOut(r.Context(), op.Username); err != nil {
			d.log.Error("append audit entry", "action", "operator.logout", "err", err)
		}
	}
	http.Redirect(w, r, "/desk/signin", http.StatusSeeOther)
}

// clientAddress is the client's address as the server's middleware found
// it (selo.ClientAddress), else the connection's.
func clientAddress(r *http.Request) string {
	if a := selo.ClientAddress(r.Context()); a != "" {
		return a
	}
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return host
	}
	return r.RemoteAddr
}

// retryAfter is the Retry-After of a rate-limited error, in seconds.
func retryAfter(err error) int {
	var rl *selo.RateLimitedError
	if errors.As(err, &rl) {
		return selo.RetryAfterSeconds(rl.RetryAfter)
	}
	return 60
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

func formatMoney(cents int64, cur string) string {
	if cur == "" && cents == 0 {
		return "—"
	}
	sign := ""
	if cents < 0 {
		sign, cents = "-", -cents
	}
	return fmt.Sprintf("%s%d.%02d %s", sign, cents/100, cents%100, cur)
}
