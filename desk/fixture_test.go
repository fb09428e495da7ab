package desk_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/control"
	"github.com/selo-qtsp/selo/desk"
	"github.com/selo-qtsp/selo/idcheck"
	"github.com/selo-qtsp/selo/idcheck/mrztest"
	"github.com/selo-qtsp/selo/internal/testenv"
	"github.com/selo-qtsp/selo/internal/web"
	"github.com/selo-qtsp/selo/portal"
	"github.com/selo-qtsp/selo/registration"
	"github.com/selo-qtsp/selo/signing"
	pgstore "github.com/selo-qtsp/selo/store/postgres"
	"github.com/selo-qtsp/selo/store/storetest"
)

// password of every operator account in these tests.
const password = "correct horse battery staple"

type fixture struct {
	env     *testenv.Env
	clock   *storetest.Clock
	reg     *registration.Service
	ctl     *control.Service
	holders *web.Sessions
	srv     *httptest.Server
}

// newFixture runs the desk over a fresh SQLite stack with the operators
// olga (officer), aldo (auditor), ana (admin) and otto (officer and auditor).
func newFixture(t testing.TB) *fixture {
	t.Helper()
	return newFixtureOn(t, false)
}

// newFixtureOn is newFixture over PostgreSQL when postgres is set (it skips
// without SELO_TEST_POSTGRES, except in CI).
func newFixtureOn(t testing.TB, postgres bool) *fixture {
	t.Helper()
	clock := storetest.NewClock(time.Now().UTC().Truncate(time.Second))
	opts := testenv.Options{Clock: clock}
	if postgres {
		db, err := pgstore.Open(context.Background(), testenv.PostgresDSN(t, "desk_"), clock)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		opts.Store = db
	}
	env := testenv.NewWithOptions(t, opts)
	f := &fixture{env: env, clock: clock}
	f.reg = env.RegistrationService(t, nil)
	var err error
	f.ctl, err = control.New(control.Config{Store: env.Store, Authority: env.Authority, Clock: clock,
		Logger: slog.New(slog.DiscardHandler), PasswordParams: signing.PasswordParams{Memory: 64, Time: 1, Threads: 1}})
	if err != nil {
		t.Fatal(err)
	}
	root := control.Principal{Actor: "cli:test", Roles: []selo.Role{selo.RoleAdmin}}
	for name, roles := range map[string][]selo.Role{
		"ana": {selo.RoleAdmin}, "olga": {selo.RoleOfficer}, "aldo": {selo.RoleAuditor}, "otto": {selo.RoleOfficer, selo.RoleAuditor},
	} {
		if _, err := f.ctl.CreateOperator(context.Background(), root, name, password, roles); err != nil {
			t.Fatal(err)
		}
	}
	f.holders = web.NewSessions(web.SessionConfig{Store: env.Store, Kind: selo.WebSessionHolder, CookieName: desk.HolderCookieName,
		Path: "/account/", Now: clock.Now})
	d, err := desk.New(desk.Config{Registration: f.reg, Authority: env.Authority, Control: f.ctl, Sessions: env.Store,
		HolderSessions: f.holders, Clock: clock, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	// The portal beside the desk, as selo serve mounts them: the portal's
	// Orders page links the identity check.
	p, err := portal.New(portal.Config{Signing: env.SigningService(t, nil), Registration: f.reg, Sessions: env.Store, Now: clock.Now,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/account/", p.Handler())
	d.Routes(mux)
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

// holder makes an order for a holder and the holder's account, and signs
// the account in as the portal would: it returns the order and the
// session token for the holder's cookie.
func (f *fixture) holder(t testing.TB, h selo.Holder) (*selo.Order, string) {
	t.Helper()
	ctx := context.Background()
	created, err := f.reg.CreateOrder(ctx, "operator:olga", registration.OrderRequest{Holder: h, Profile: "qualified-sign",
		Delivery: selo.DeliveryToken, Subject: selo.OrderSubject{Country: "PT"}})
	if err != nil {
		t.Fatal(err)
	}
	acct := &selo.Account{ID: "acct-" + strings.ToLower(h.Surname), Email: h.Email, Name: h.GivenNames + " " + h.Surname, CreatedAt: f.clock.Now()}
	if err := f.env.Store.CreateAccount(ctx, acct, &selo.AuditEntry{Actor: "test", Action: "account.create",
		Object: "account/" + acct.ID, Outcome: selo.OutcomeSuccess, Details: "{}"}); err != nil {
		t.Fatal(err)
	}
	token, _, err := f.holders.Issue(ctx, acct.ID, selo.WebStageSignedIn, "")
	if err != nil {
		t.Fatal(err)
	}
	return created.Order, token
}

// mrzOf returns a valid Portuguese ID card MRZ for h.
func mrzOf(t testing.TB, h selo.Holder, now time.Time) string {
	t.Helper()
	state, _ := idcheck.ICAOCode("PT")
	return mrztest.TD1(mrztest.Document{Code: "I<", State: state, Number: "123456789ZZ4", Surname: h.Surname,
		GivenNames: h.GivenNames, Expiry: now.AddDate(4, 0, 0)})
}

// client is a browser-less client with its own cookies that does not
// follow redirects.
func (f *fixture) client(t testing.TB) *http.Client {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// signIn signs an operator in on c.
func (f *fixture) signIn(t testing.TB, c *http.Client, user string) {
	t.Helper()
	resp, err := c.PostForm(f.srv.URL+"/desk/signin", url.Values{"username": {user}, "password": {password}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-in of %s: %s", user, resp.Status)
	}
}

// holderClient is a client carrying the holder's session cookie.
func (f *fixture) holderClient(t testing.TB, token string) *http.Client {
	t.Helper()
	c := f.client(t)
	u, _ := url.Parse(f.srv.URL + "/account/")
	c.Jar.SetCookies(u, []*http.Cookie{{Name: desk.HolderCookieName, Value: token, Path: "/account/"}})
	return c
}

// audited reports whether the audit log holds an entry of action by actor.
func (f *fixture) audited(t testing.TB, actor, action string) bool {
	t.Helper()
	entries, err := f.env.Store.ListAudit(context.Background(), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Actor == actor && e.Action == action {
			return true
		}
	}
	return false
}

// controlRoot is the admin principal the tests change accounts as.
var controlRoot = control.Principal{Actor: "cli:test", Roles: []selo.Role{selo.RoleAdmin}}
