package signing_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"strings"
	"testing"
	"time"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/internal/testenv"
	"github.com/selo-qtsp/selo/notify"
	"github.com/selo-qtsp/selo/pki/pkitest"
	"github.com/selo-qtsp/selo/signing"
	"github.com/selo-qtsp/selo/store/storetest"
)

// smsBox is the SMS gateway of these tests: the real local outbox, with
// readers for what the service texted.
type smsBox struct{ *notify.Outbox }

// texts returns the text messages sent to the number ("" for every number),
// oldest first.
func (b smsBox) texts(t testing.TB, to string) []selo.OutboxMessage {
	t.Helper()
	ms, err := b.List(context.Background(), notify.OutboxFilter{Channel: notify.ChannelSMS, To: to})
	if err != nil {
		t.Fatal(err)
	}
	return ms
}

// lastCode returns the digits of the last text sent to the number.
func (b smsBox) lastCode(t testing.TB, to string) string {
	t.Helper()
	sent := b.texts(t, to)
	for i := len(sent) - 1; i >= 0; i-- {
		for _, f := range strings.Fields(sent[i].Body) {
			f = strings.TrimRight(f, ".,")
			if len(f) >= 6 && len(f) <= 8 && strings.Trim(f, "0123456789") == "" {
				return f
			}
		}
	}
	t.Fatalf("no code was texted to %s", to)
	return ""
}

// fixture is a signing service over testenv's real stack (SQLite, soft key
// store, authority with a CA hierarchy), a fake clock and the outbox as SMS gateway.
type fixture struct {
	env   *testenv.Env
	svc   *signing.Service
	clock *storetest.Clock
	sms   smsBox
}

const password = "correct horse battery"

func newFixture(t *testing.T) *fixture {
	t.Helper()
	return newFixtureOn(t, nil)
}

// newFixtureOn builds the fixture over st when it is not nil (PostgreSQL),
// over testenv's SQLite otherwise. open gets the fixture's clock.
func newFixtureOn(t *testing.T, open func(selo.Clock) selo.Store) *fixture {
	t.Helper()
	clock := storetest.NewClock(time.Now().UTC().Truncate(time.Second))
	opts := testenv.Options{Clock: clock}
	if open != nil {
		opts.Store = open(clock)
	}
	env := testenv.NewWithOptions(t, opts)
	f := &fixture{env: env, clock: clock, sms: smsBox{testenv.Outbox(t, clock)}}
	// testenv's signing service: cheap argon2id, and no limit on codes sent
	// (these tests send many on purpose; the limits have their own tests,
	// server/limit_test.go).
	f.svc = env.SigningService(t, func(c *signing.Config) { c.SMS = f.sms.Outbox })
	return f
}

// holder creates an account.
func (f *fixture) holder(t *testing.T, email, mobile string) *selo.Account {
	t.Helper()
	a, err := f.svc.CreateAccount(context.Background(), "operator", signing.CreateAccountRequest{
		Email: email, Name: "Holder " + email, Mobile: mobile, Password: password})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// credential creates a credential for the account.
func (f *fixture) credential(t *testing.T, a *selo.Account, profile string, approval selo.ApprovalType, key selo.KeyAlgorithm) *signing.CredentialInfo {
	t.Helper()
	if strings.HasPrefix(profile, "qualified") {
		// Qualified credentials come only from an order.
		att, err := f.svc.AttachOrderCredential(context.Background(), "operator", f.env.OrderCredential(t, a.Email, profile, approval, key))
		if err != nil {
			t.Fatalf("attach the order's %s credential: %v", profile, err)
		}
		c, err := f.svc.CredentialInfo(context.Background(), a.ID, att.CredentialID)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	req := pkitest.Request(profile, nil)
	c, err := f.svc.CreateCredential(context.Background(), "operator", signing.CreateCredentialRequest{
		AccountID: a.ID, Profile: profile, ApprovalType: approval, KeyAlgorithm: key,
		Subject: req.Subject, EmailAddresses: req.EmailAddresses,
	})
	if err != nil {
		t.Fatalf("create %s credential: %v", profile, err)
	}
	return c
}

// digests returns n distinct SHA-256 digests.
func digests(n int, seed string) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		h := sha256.Sum256([]byte(seed + string(rune('a'+i))))
		out[i] = h[:]
	}
	return out
}

func wantCode(t testing.TB, err error, code string) {
	t.Helper()
	if got := selo.ErrorCode(err); got != code {
		t.Fatalf("error %v has code %q, want %q", err, got, code)
	}
	if selo.ErrorMessage(err) == "" {
		t.Fatalf("error %v has no message", err)
	}
}

// verifyECDSA checks every signature with the credential's certificate.
func verifyECDSA(t testing.TB, c *signing.CredentialInfo, hashes, sigs [][]byte) {
	t.Helper()
	pub := c.Certificate.PublicKey.(*ecdsa.PublicKey)
	if len(sigs) != len(hashes) {
		t.Fatalf("%d signatures for %d hashes", len(sigs), len(hashes))
	}
	for i := range hashes {
		if !ecdsa.VerifyASN1(pub, hashes[i], sigs[i]) {
			t.Fatalf("signature %d does not verify", i)
		}
	}
}

// audited reports whether the audit log has an entry with this action and outcome on object.
func (f *fixture) audited(t testing.TB, action, object, outcome string) bool {
	t.Helper()
	es, err := f.env.Store.ListAudit(context.Background(), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range es {
		if e.Action == action && e.Object == object && e.Outcome == outcome {
			return true
		}
	}
	return false
}
