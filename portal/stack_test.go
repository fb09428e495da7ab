package portal_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base32"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/approval"
	"github.com/selo-qtsp/selo/internal/testenv"
	"github.com/selo-qtsp/selo/notify"
	"github.com/selo-qtsp/selo/portal"
	"github.com/selo-qtsp/selo/registration"
	"github.com/selo-qtsp/selo/server"
	"github.com/selo-qtsp/selo/signing"
)

// clock is the stack's clock: the wall clock plus what a test added, so
// that a test can move to the next TOTP step without waiting for it.
type clock struct {
	mu  sync.Mutex
	off time.Duration
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.off)
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.off += d
	c.mu.Unlock()
}

// stack is the real Selo stack behind HTTP with the portal served by
// server.New as selo serve wires it: SQLite, the software key store, a CA
// hierarchy, the signing service, texts and e-mails into a real outbox.
type stack struct {
	env    *testenv.Env
	svc    *signing.Service
	reg    *registration.Service
	srv    *httptest.Server
	outbox *notify.Outbox
	clock  *clock
	logs   *lockedBuffer // the server's log: the access log included
}

// lockedBuffer is a log destination safe for concurrent writes.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

const password = "correct horse battery"

func newStack(t testing.TB) *stack { return newStackOn(t, nil) }

// newStackOn is newStack over store (SQLite when nil), whose clock must be
// the stack's: open it with clockOf.
func newStackOn(t testing.TB, open func(selo.Clock) selo.Store) *stack {
	t.Helper()
	c := &clock{}
	opts := testenv.Options{Clock: c}
	if open != nil {
		opts.Store = open(c)
	}
	env := testenv.NewWithOptions(t, opts)
	out, err := notify.OpenOutbox(t.TempDir(), c)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(nil)
	base := "http://" + srv.Listener.Addr().String()
	svc := env.SigningService(t, func(cfg *signing.Config) {
		cfg.SMS, cfg.Mailer, cfg.PublicURL = out, out, base
	})
	reg := env.RegistrationService(t, func(cfg *registration.Config) { cfg.Mailer = out })
	p, err := portal.New(portal.Config{Signing: svc, Registration: reg, Sessions: env.Store, BaseURL: base, Now: c.Now,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	logs := &lockedBuffer{}
	srv.Config.Handler = server.New(server.Config{Authority: env.Authority, Signing: svc, Portal: p.Handler(),
		Logger: slog.New(slog.NewTextHandler(logs, nil))}).Handler()
	srv.Start()
	t.Cleanup(srv.Close)
	return &stack{env: env, svc: svc, reg: reg, srv: srv, outbox: out, clock: c, logs: logs}
}

// holder is an account with a qualified e-seal approved by authorizers and
// a qualified signature certificate approved by SMS.
type holder struct {
	acct       *selo.Account
	seal, sign *signing.CredentialInfo
}

func (s *stack) holder(t testing.TB, email, name string) *holder {
	t.Helper()
	ctx := context.Background()
	a, err := s.svc.CreateAccount(ctx, "operator", signing.CreateAccountRequest{Email: email, Name: name, Mobile: "+351912345678", Password: password})
	if err != nil {
		t.Fatal(err)
	}
	h := &holder{acct: a}
	h.seal = s.credential(t, a, "qualified-seal", selo.ApprovalAuthorizer)
	h.sign = s.credential(t, a, "qualified-sign", selo.ApprovalSMS)
	return h
}

func (s *stack) credential(t testing.TB, a *selo.Account, profile string, how selo.ApprovalType) *signing.CredentialInfo {
	t.Helper()
	ctx := context.Background()
	att, err := s.svc.AttachOrderCredential(ctx, "operator", s.env.OrderCredential(t, a.Email, profile, how, selo.KeyECDSAP256))
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.svc.CredentialInfo(ctx, a.ID, att.CredentialID)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var codePattern = regexp.MustCompile(`\b[0-9]{6}\b`)

// lastCode reads the code of the newest text message, as the holder reads
// the phone.
func (s *stack) lastCode(t testing.TB) string {
	t.Helper()
	ms, err := s.outbox.List(context.Background(), notify.OutboxFilter{Channel: notify.ChannelSMS})
	if err != nil || len(ms) == 0 {
		t.Fatalf("no text message: %v", err)
	}
	code := codePattern.FindString(ms[len(ms)-1].Body)
	if code == "" {
		t.Fatalf("no code in %q", ms[len(ms)-1].Body)
	}
	return code
}

// lastEmailCode reads the code of the newest e-mail.
func (s *stack) lastEmailCode(t testing.TB) string {
	t.Helper()
	ms, err := s.outbox.List(context.Background(), notify.OutboxFilter{Channel: notify.ChannelEmail})
	if err != nil || len(ms) == 0 {
		t.Fatalf("no e-mail: %v", err)
	}
	code := codePattern.FindString(ms[len(ms)-1].Body)
	if code == "" {
		t.Fatalf("no code in %q", ms[len(ms)-1].Body)
	}
	return code
}

var linkPattern = regexp.MustCompile(`https?://\S+/account/reset/open\?token=\S+`)

// lastResetLink reads the link of the newest e-mail.
func (s *stack) lastResetLink(t testing.TB) string {
	t.Helper()
	ms, err := s.outbox.List(context.Background(), notify.OutboxFilter{Channel: notify.ChannelEmail})
	if err != nil || len(ms) == 0 {
		t.Fatalf("no e-mail: %v", err)
	}
	link := linkPattern.FindString(ms[len(ms)-1].Body)
	if link == "" {
		t.Fatalf("no reset link in %q", ms[len(ms)-1].Body)
	}
	return link
}

// authenticator enrols and confirms an authenticator app for the account
// (through the service, with a texted factor code) and returns a function
// giving its code at the stack's clock.
func (s *stack) authenticator(t testing.TB, h *holder) func() string {
	t.Helper()
	ctx := context.Background()
	if err := s.svc.RequestFactorCode(ctx, h.acct.ID, ""); err != nil {
		t.Fatal(err)
	}
	e, err := s.svc.EnrollAuthenticator(ctx, h.acct.ID, "phone app", signing.FactorProof{Code: s.lastCode(t)})
	if err != nil {
		t.Fatal(err)
	}
	code := totpFromURI(t, e.URI, s.clock)
	if err := s.svc.ConfirmAuthenticator(ctx, h.acct.ID, e.Authenticator.ID, code()); err != nil {
		t.Fatal(err)
	}
	s.clock.Add(30 * time.Second) // the confirmation used this step
	return code
}

// totpFromURI is an authenticator app: it reads the otpauth URI the QR code
// holds and computes codes at clock's time.
func totpFromURI(t testing.TB, uri string, c selo.Clock) func() string {
	t.Helper()
	u, err := url.Parse(uri)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	secret, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.ToUpper(strings.TrimRight(q.Get("secret"), "=")))
	if err != nil {
		t.Fatal(err)
	}
	p := approval.OTPParams{Algorithm: approval.Algorithm(q.Get("algorithm"))}
	if d, err := strconv.Atoi(q.Get("digits")); err == nil {
		p.Digits = d
	}
	if n, err := strconv.Atoi(q.Get("period")); err == nil {
		p.Period = time.Duration(n) * time.Second
	}
	return func() string { return approval.TOTP(secret, c.Now(), p) }
}

// wallet enrols a wallet device for the account and returns its ID and key.
func (s *stack) wallet(t testing.TB, h *holder) (string, *ecdsa.PrivateKey) {
	t.Helper()
	ctx := context.Background()
	if err := s.svc.RequestFactorCode(ctx, h.acct.ID, ""); err != nil {
		t.Fatal(err)
	}
	o, err := s.svc.StartWalletEnrollment(ctx, h.acct.ID, signing.FactorProof{Code: s.lastCode(t)})
	if err != nil {
		t.Fatal(err)
	}
	e, err := approval.ParseWalletEnrollmentURI(o.URI)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	reg, err := approval.NewWalletRegistration(e, "phone", key)
	if err != nil {
		t.Fatal(err)
	}
	w, err := s.svc.RegisterWallet(ctx, reg)
	if err != nil {
		t.Fatal(err)
	}
	return w.ID, key
}

// client is a browser without JavaScript: a cookie jar that does not
// follow redirects, sending same-origin form posts.
type client struct {
	t    testing.TB
	base string
	c    *http.Client
}

func (s *stack) client(t testing.TB) *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: t, base: s.srv.URL, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

func (c *client) do(method, path string, form url.Values, header ...string) *http.Response {
	c.t.Helper()
	var body *strings.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	} else {
		body = strings.NewReader("")
	}
	req, err := http.NewRequest(method, c.base+path, body)
	if err != nil {
		c.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if method == http.MethodPost && !(len(header) > 0 && header[0] == "Origin") {
		req.Header.Set("Sec-Fetch-Site", "same-origin")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := c.c.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	return resp
}

// signIn signs in with the password and a texted code.
func (c *client) signIn(s *stack, email, pw string) {
	c.t.Helper()
	resp := c.do("POST", "/account/signin", url.Values{"email": {email}, "password": {pw}})
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/account/signin/code" {
		c.t.Fatalf("sign-in: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	c.do("POST", "/account/signin/sms", url.Values{}).Body.Close()
	resp = c.do("POST", "/account/signin/code", url.Values{"code": {s.lastCode(c.t)}})
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/account/certificates" {
		c.t.Fatalf("second factor: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
}

func notifySMS() notify.OutboxFilter { return notify.OutboxFilter{Channel: notify.ChannelSMS} }
