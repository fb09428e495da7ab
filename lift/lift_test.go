package lift_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/youmark/pkcs8"
	"software.sslmate.com/src/go-pkcs12"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/internal/testenv"
	"github.com/selo-qtsp/selo/lift"
	"github.com/selo-qtsp/selo/lift/lifttest"
	"github.com/selo-qtsp/selo/notify"
	"github.com/selo-qtsp/selo/registration"
	"github.com/selo-qtsp/selo/server"
	"github.com/selo-qtsp/selo/signing"
)

const password = "correct horse battery"

// stack is a real Selo server (SQLite, soft key store, registration desk,
// outbox) behind httptest.
type stack struct {
	env    *testenv.Env
	svc    *registration.Service
	outbox *notify.Outbox
	url    string
}

func newStack(t *testing.T) *stack {
	t.Helper()
	env := testenv.New(t)
	outbox, err := notify.OpenOutbox(filepath.Join(env.Dir, "outbox"), env.Clock)
	if err != nil {
		t.Fatal(err)
	}
	codeKey := make([]byte, 32)
	_, _ = rand.Read(codeKey)
	svc := lifttest.NewService(t, env.Store, env.Authority, env.Keys, outbox, codeKey)
	srv := httptest.NewServer(server.New(server.Config{Authority: env.Authority, Registration: svc,
		PublicRateLimit: server.RateLimit{Off: true}, Logger: slog.New(slog.DiscardHandler)}).Handler())
	t.Cleanup(srv.Close)
	return &stack{env: env, svc: svc, outbox: outbox, url: srv.URL}
}

// holder is one holder's machine: state and output folders, and answers.
type holder struct {
	s        *stack
	order    lifttest.Order
	stateDir string
	outDir   string
	password string
	progress []string
	asked    int // how many times the e-mail code was asked for
	// accountAsked counts the asks for the signing account's first password.
	accountAsked int
}

func (s *stack) holder(t *testing.T, profile string, delivery selo.Delivery) *holder {
	t.Helper()
	return &holder{s: s, order: lifttest.ReadyOrder(t, s.svc, s.outbox, profile, delivery),
		stateDir: filepath.Join(t.TempDir(), "state"), outDir: t.TempDir(), password: password}
}

func (h *holder) options(t *testing.T) lift.Options {
	t.Helper()
	c, err := lift.NewClient(h.s.url, h.order.Number, h.order.LiftCode)
	if err != nil {
		t.Fatal(err)
	}
	return lift.Options{Client: c, StateDir: h.stateDir, OutDir: h.outDir,
		EmailCode: func(context.Context, bool) (string, error) {
			h.asked++
			return lifttest.EmailCode(t, h.s.outbox, h.order.Email), nil
		},
		Password:        func(bool) (string, error) { return h.password, nil },
		AccountPassword: func(bool) (string, error) { h.accountAsked++; return h.password, nil },
		Progress:        func(step, total int, msg string) { h.progress = append(h.progress, msg) },
	}
}

func (h *holder) run(t *testing.T) (*lift.Result, error) {
	t.Helper()
	return lift.Run(context.Background(), h.options(t))
}

type stop struct{}

// runUntil runs the flow and stops it right after point, as a crash would.
func (h *holder) runUntil(t *testing.T, point string) {
	t.Helper()
	opts := h.options(t)
	opts.AfterPoint = func(p string) {
		if p == point {
			panic(stop{})
		}
	}
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(stop); !ok {
				panic(r)
			}
		}
	}()
	_, err := lift.Run(context.Background(), opts)
	t.Fatalf("the flow ended (%v) without reaching %s", err, point)
}

func (h *holder) orderState(t *testing.T) *selo.Order {
	t.Helper()
	o, err := h.s.svc.FindOrder(context.Background(), h.order.Number)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// certificates returns the certificates stored for the order's key.
func (h *holder) certificates(t *testing.T) int {
	t.Helper()
	o := h.orderState(t)
	certs, err := h.s.env.Store.ListCertificates(context.Background(), selo.CertificateFilter{})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, c := range certs {
		if c.Serial == o.CertificateSerial || strings.Contains(c.Subject, h.order.Number) {
			n++
		}
	}
	return n
}

func wantCode(t *testing.T, err error, code string, msg ...string) {
	t.Helper()
	if selo.ErrorCode(err) != code {
		t.Fatalf("error %v (code %q), want %q", err, selo.ErrorCode(err), code)
	}
	for _, m := range msg {
		if !strings.Contains(selo.ErrorMessage(err), m) {
			t.Fatalf("error %q does not say %q", selo.ErrorMessage(err), m)
		}
	}
}

func TestLiftSoftware(t *testing.T) {
	s := newStack(t)
	h := s.holder(t, "qualified-sign", selo.DeliverySoftware)
	res, err := h.run(t)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(h.outDir, "Digital"+h.order.Number+".pfx"); res.PFXPath != want {
		t.Fatalf("pfx at %q, want %q", res.PFXPath, want)
	}
	if len(h.progress) != 5 {
		t.Fatalf("progress %q, want 5 steps", h.progress)
	}
	b, err := os.ReadFile(res.PFXPath)
	if err != nil {
		t.Fatal(err)
	}
	key, leaf, chain, err := pkcs12.DecodeChain(b, password)
	if err != nil {
		t.Fatalf("the .pfx does not open with the holder's password: %v", err)
	}
	if !key.(*ecdsa.PrivateKey).PublicKey.Equal(leaf.PublicKey) {
		t.Fatal("the .pfx key does not match its certificate")
	}
	if len(chain) < 2 || leaf.CheckSignatureFrom(chain[0]) != nil {
		t.Fatalf("the .pfx chain (%d certificates) does not sign the leaf", len(chain))
	}
	o := h.orderState(t)
	if o.State != selo.OrderDelivered || o.CertificateSerial != res.Certificate.Serial {
		t.Fatalf("order %s serial %s, want delivered %s", o.State, o.CertificateSerial, res.Certificate.Serial)
	}
	if _, err := os.Stat(filepath.Join(h.stateDir, "key.pem")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the waiting key was not removed after delivery: %v", err)
	}
	if fi, err := os.Stat(res.PFXPath); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("pfx mode %v %v, want 0600", fi.Mode(), err)
	}

	// A rerun has nothing left to do: no new e-mail, no new certificate.
	h.progress = nil
	again, err := h.run(t)
	if err != nil || again.Certificate.Serial != res.Certificate.Serial {
		t.Fatalf("rerun: %+v %v", again, err)
	}
	if !strings.Contains(h.progress[len(h.progress)-1], "lifted already") {
		t.Fatalf("rerun progress %q", h.progress)
	}
	if n := lifttest.Count(t, s.outbox, h.order.Email, "Verification code"); n != 1 {
		t.Fatalf("%d verification e-mails, want 1", n)
	}
	if n := h.certificates(t); n != 1 {
		t.Fatalf("%d certificates for the order", n)
	}
}

func TestLiftCloud(t *testing.T) {
	s := newStack(t)
	h := s.holder(t, "qualified-seal", selo.DeliveryCloud)
	res, err := h.run(t)
	if err != nil {
		t.Fatal(err)
	}
	if res.PFXPath != "" || len(h.progress) != 4 {
		t.Fatalf("cloud lift wrote %q, progress %q", res.PFXPath, h.progress)
	}
	if o := h.orderState(t); o.State != selo.OrderIssued || o.KeyID == "" {
		t.Fatalf("cloud order %s key %q, want issued in the key store", o.State, o.KeyID)
	}
	entries, _ := os.ReadDir(h.outDir)
	if len(entries) != 0 {
		t.Fatalf("cloud lift wrote %v", entries)
	}
	if _, err := os.Stat(filepath.Join(h.stateDir, "key.pem")); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("a cloud lift left a local key")
	}
	if again, err := h.run(t); err != nil || again.Certificate.Serial != res.Certificate.Serial {
		t.Fatalf("rerun: %+v %v", again, err)
	}
	if n := h.certificates(t); n != 1 {
		t.Fatalf("%d certificates", n)
	}

	// Issue 12 item 5: the certificate is a credential on the holder's
	// account, opened with the order's e-mail and mobile; the first
	// password was asked once and works; the messages say how to sign.
	ctx := context.Background()
	o := h.orderState(t)
	if res.Status.CredentialID != o.ID || !res.Status.AccountPasswordSet || h.accountAsked != 1 {
		t.Fatalf("cloud lift: credential %q (want %s), password set %v, asked %d times",
			res.Status.CredentialID, o.ID, res.Status.AccountPasswordSet, h.accountAsked)
	}
	acct, err := h.s.env.Store.FindAccountByEmail(ctx, h.order.Email)
	if err != nil {
		t.Fatalf("no account for the order's e-mail: %v", err)
	}
	if acct.Mobile != "+351912345678" || !signing.VerifyPassword(password, acct.PasswordHash) {
		t.Fatalf("account %+v: want the order's mobile and the password chosen in the lift", acct)
	}
	cred, err := h.s.env.Store.FindCredential(ctx, o.ID)
	if err != nil {
		t.Fatal(err)
	}
	if cred.AccountID != acct.ID || cred.CertificateSerial != res.Certificate.Serial || cred.KeyID != o.KeyID ||
		cred.ApprovalType != selo.ApprovalSMS || cred.Mobile != "+351912345678" || cred.Status != selo.CredentialActive {
		t.Fatalf("the order's credential: %+v", cred)
	}
	ready := lifttest.Latest(t, h.s.outbox, h.order.Email, "ready: order")
	if !strings.Contains(ready, "selo lift --server https://ra.example.eu --order "+h.order.Number) {
		t.Errorf("the ready e-mail of a cloud order does not say how to lift:\n%s", ready)
	}
	how := lifttest.Latest(t, h.s.outbox, h.order.Email, "signing credential is ready")
	for _, want := range []string{o.ID, "selo csc login --server https://ra.example.eu --email " + h.order.Email, "SMS to +351912345678", "password"} {
		if !strings.Contains(how, want) {
			t.Errorf("the credential e-mail has no %q:\n%s", want, how)
		}
	}
	if n := lifttest.Count(t, h.s.outbox, h.order.Email, "signing credential is ready"); n != 1 {
		t.Errorf("%d credential e-mails, want 1", n)
	}
	// The first password is set once: not through the order again.
	c, _ := lift.NewClient(h.s.url, h.order.Number, h.order.LiftCode)
	if _, err := c.SetAccountPassword(ctx, "another password 123"); selo.ErrorCode(err) != selo.ECONFLICT {
		t.Fatalf("a second first password: %v, want ECONFLICT", err)
	}
}

// TestLiftResumesAtEveryPoint stops the flow at each point in turn, in
// process, and checks the rerun ends with one key and one certificate.
func TestLiftResumesAtEveryPoint(t *testing.T) {
	s := newStack(t)
	for _, p := range lift.Points {
		t.Run(p, func(t *testing.T) {
			h := s.holder(t, "qualified-sign", selo.DeliverySoftware)
			h.runUntil(t, p)
			res, err := h.run(t)
			if err != nil {
				t.Fatal(err)
			}
			key, leaf, _, err := pkcs12.DecodeChain(readFile(t, res.PFXPath), password)
			if err != nil || !key.(*ecdsa.PrivateKey).PublicKey.Equal(leaf.PublicKey) {
				t.Fatalf("pfx: %v", err)
			}
			hist, err := s.svc.OrderHistory(context.Background(), h.order.Number)
			if err != nil {
				t.Fatal(err)
			}
			keys := 0
			for _, e := range hist {
				if e.To == selo.OrderKeyReady {
					keys++
				}
			}
			if keys != 1 || h.certificates(t) != 1 || h.orderState(t).State != selo.OrderDelivered {
				t.Fatalf("%d keys, %d certificates, state %s", keys, h.certificates(t), h.orderState(t).State)
			}
		})
	}
}

func TestLiftRefusesAnotherKey(t *testing.T) {
	s := newStack(t)
	h := s.holder(t, "qualified-sign", selo.DeliverySoftware)
	h.runUntil(t, lift.PointKeySent)
	keyPath := filepath.Join(h.stateDir, "key.pem")

	// Another key in its place: refused, nothing sent.
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, err := pkcs8.MarshalPrivateKey(other, []byte(password), nil)
	if err != nil {
		t.Fatal(err)
	}
	saved := readFile(t, keyPath)
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = h.run(t)
	wantCode(t, err, selo.ECONFLICT, "registration officer")

	// No key at all: the order needs an officer.
	os.Remove(keyPath)
	_, err = h.run(t)
	wantCode(t, err, selo.ECONFLICT, "not on this machine", "registration officer")

	// The right key with the wrong password.
	if err := os.WriteFile(keyPath, saved, 0o600); err != nil {
		t.Fatal(err)
	}
	h.password = "not the password"
	_, err = h.run(t)
	wantCode(t, err, selo.EINVALID, "password does not open")
	h.password = password
	if _, err := h.run(t); err != nil {
		t.Fatal(err)
	}
	if n := h.certificates(t); n != 1 {
		t.Fatalf("%d certificates", n)
	}
}

func TestLiftEmailCode(t *testing.T) {
	s := newStack(t)
	h := s.holder(t, "qualified-sign", selo.DeliverySoftware)
	opts := h.options(t)

	// Non-interactive: the first run stops once the code is sent.
	opts.EmailCode = func(_ context.Context, justSent bool) (string, error) {
		if justSent {
			return "", lift.ErrNoEmailCode
		}
		return "000000", nil
	}
	_, err := lift.Run(context.Background(), opts)
	if !errors.Is(err, lift.ErrNoEmailCode) {
		t.Fatalf("first run: %v", err)
	}
	// Wrong codes are refused clearly, counted, and lock the code.
	for i := 1; i <= registration.DefaultMaxCodeFailures; i++ {
		_, err = lift.Run(context.Background(), opts)
		if i < registration.DefaultMaxCodeFailures {
			wantCode(t, err, selo.EUNAUTHORIZED, "e-mail verification code is wrong", "--resend-code")
		} else {
			wantCode(t, err, selo.EFORBIDDEN, "too many times", "--resend-code")
		}
	}
	if n := lifttest.Count(t, s.outbox, h.order.Email, "Verification code"); n != 1 {
		t.Fatalf("%d verification e-mails, want 1: a rerun must not replace the code", n)
	}
	// The locked code stays locked, even when right.
	right := lifttest.EmailCode(t, s.outbox, h.order.Email)
	opts.EmailCode = func(context.Context, bool) (string, error) { return right, nil }
	_, err = lift.Run(context.Background(), opts)
	wantCode(t, err, selo.EFORBIDDEN)

	// --resend-code: a new code works.
	opts.ResendEmailCode = true
	opts.EmailCode = func(context.Context, bool) (string, error) {
		return lifttest.EmailCode(t, s.outbox, h.order.Email), nil
	}
	if _, err := lift.Run(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	if n := lifttest.Count(t, s.outbox, h.order.Email, "Verification code"); n != 2 {
		t.Fatalf("%d verification e-mails, want 2", n)
	}
}

func TestLiftWrongLiftCode(t *testing.T) {
	s := newStack(t)
	h := s.holder(t, "qualified-sign", selo.DeliverySoftware)
	h.order.LiftCode = "AAAAAAAAAAAA"
	_, err := h.run(t)
	wantCode(t, err, selo.EUNAUTHORIZED, "wrong or has expired")
	if _, err := os.Stat(h.stateDir); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("a refused run left a state directory")
	}
}

func TestLiftShortPassword(t *testing.T) {
	s := newStack(t)
	h := s.holder(t, "qualified-sign", selo.DeliverySoftware)
	h.password = "short"
	_, err := h.run(t)
	wantCode(t, err, selo.EINVALID, "at least 8 characters")
	if o := h.orderState(t); o.State != selo.OrderEmailVerified {
		t.Fatalf("order %s after a refused password, want email_verified", o.State)
	}
}

func TestLiftOutDirMissing(t *testing.T) {
	s := newStack(t)
	h := s.holder(t, "qualified-sign", selo.DeliverySoftware)
	h.outDir = filepath.Join(h.outDir, "nope")
	_, err := h.run(t)
	wantCode(t, err, selo.EINVALID, "does not exist")
	// The key waits; the rerun into a folder that exists finishes.
	h.outDir = filepath.Dir(h.outDir)
	if _, err := h.run(t); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestLiftCloudDisabledAccount: an operator disables the account a cloud
// order opened before its holder set the first password; setting it through
// the order is refused and does not enable the account again (issue 13
// item 2: disabling holds until an operator enables the account).
func TestLiftCloudDisabledAccount(t *testing.T) {
	s := newStack(t)
	h := s.holder(t, "qualified-seal", selo.DeliveryCloud)
	h.runUntil(t, lift.PointCertificate)
	ctx := context.Background()
	acct, err := s.env.Store.FindAccountByEmail(ctx, h.order.Email)
	if err != nil || acct.PasswordHash != "" {
		t.Fatalf("the order's account: %+v %v, want one without a password yet", acct, err)
	}
	desk := lifttest.SigningDesk(t, s.env.Store, s.env.Authority, s.env.Keys, s.outbox)
	if err := desk.SetAccountDisabled(ctx, "operator", acct.ID, true); err != nil {
		t.Fatal(err)
	}
	c, err := lift.NewClient(s.url, h.order.Number, h.order.LiftCode)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.SetAccountPassword(ctx, password); selo.ErrorCode(err) != selo.EFORBIDDEN {
		t.Fatalf("first password of a disabled account: %v, want EFORBIDDEN", err)
	}
	if acct, err = s.env.Store.FindAccount(ctx, acct.ID); err != nil || !acct.Disabled || acct.PasswordHash != "" {
		t.Fatalf("after the refused first password the account is %+v (%v): want it disabled, without a password", acct, err)
	}
}
