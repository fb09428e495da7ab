package server_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/approval"
	"github.com/selo-qtsp/selo/internal/testenv"
	"github.com/selo-qtsp/selo/keystore/soft"
	"github.com/selo-qtsp/selo/notify"
	"github.com/selo-qtsp/selo/registration"
	"github.com/selo-qtsp/selo/server"
	"github.com/selo-qtsp/selo/signing"
	"github.com/selo-qtsp/selo/store/postgres"
	"github.com/selo-qtsp/selo/store/storetest"
)

// The abuse tests run the real stack behind HTTP with a fake clock and the
// default limits, on SQLite and (with SELO_TEST_POSTGRES) PostgreSQL. The
// in-memory per-address limiter is off: these tests are about the limits
// kept in the store, which hold across replicas.

// openStore opens a store for an abuse test on clock: nil is testenv's SQLite.
type openStore func(t *testing.T, clock selo.Clock) selo.Store

// onStores runs test on SQLite and on PostgreSQL (skipped without
// SELO_TEST_POSTGRES, except in CI).
func onStores(t *testing.T, test func(t *testing.T, open openStore)) {
	t.Run("sqlite", func(t *testing.T) { test(t, nil) })
	t.Run("postgres", func(t *testing.T) { test(t, postgresOpener(t)) })
}

// postgresOpener returns an opener of stores in a fresh schema dropped at
// the end of the test.
func postgresOpener(t *testing.T) openStore {
	t.Helper()
	dsn := testenv.PostgresDSN(t, "selo_server_test_")
	return func(t *testing.T, clock selo.Clock) selo.Store {
		st, err := postgres.Open(context.Background(), dsn, clock)
		if err != nil {
			t.Fatalf("open postgres: %v", err)
		}
		t.Cleanup(func() { _ = st.Close() })
		return st
	}
}

// abuseStack is the real stack on a fake clock: one store, and as many
// replicas (servers over it) as a test asks for.
type abuseStack struct {
	env     *testenv.Env
	clock   *storetest.Clock
	sms     smsOutbox
	outbox  *notify.Outbox
	box     selo.SecretBox
	codeKey []byte
	regKey  []byte
	// svc and srv are the first replica's.
	svc *signing.Service
	reg *registration.Service
	srv *httptest.Server
}

func newAbuseStack(t *testing.T, open openStore) *abuseStack {
	t.Helper()
	clock := storetest.NewClock(time.Now().UTC().Truncate(time.Second))
	opts := testenv.Options{Clock: clock}
	if open != nil {
		opts.Store = open(t, clock)
	}
	st := &abuseStack{env: testenv.NewWithOptions(t, opts), clock: clock, sms: openSMSOutbox(t, clock)}
	var err error
	if st.outbox, err = notify.OpenOutbox(filepath.Join(st.env.Dir, "outbox"), clock); err != nil {
		t.Fatal(err)
	}
	master := make([]byte, soft.MasterKeySize)
	_, _ = rand.Read(master)
	if st.box, err = soft.NewSecretBox(master); err != nil {
		t.Fatal(err)
	}
	st.codeKey, st.regKey = make([]byte, 32), make([]byte, 32)
	_, _ = rand.Read(st.codeKey)
	_, _ = rand.Read(st.regKey)
	st.svc, st.reg, st.srv = st.replica(t)
	return st
}

// replica starts another server over the same store, as a second replica
// of a deployment does.
func (st *abuseStack) replica(t *testing.T) (*signing.Service, *registration.Service, *httptest.Server) {
	t.Helper()
	// The replicas share the secret box and code keys, and keep the
	// production code limits: they are what these tests attack.
	svc := st.env.SigningService(t, func(c *signing.Config) {
		c.Secrets, c.CodeKey, c.SMS, c.CodeLimit = st.box, st.codeKey, st.sms.Outbox, nil
	})
	reg := st.env.RegistrationService(t, func(c *registration.Config) {
		c.Mailer, c.CodeKey, c.WebhookSecret = st.outbox, st.regKey, webhookSecret
	})
	srv := httptest.NewServer(server.New(server.Config{Authority: st.env.Authority, Signing: svc, Registration: reg,
		Logger: slog.New(slog.DiscardHandler), Now: st.clock.Now, PublicRateLimit: server.RateLimit{Off: true}}).Handler())
	t.Cleanup(srv.Close)
	return svc, reg, srv
}

// answer is one HTTP answer.
type answer struct {
	status int
	header http.Header
	body   []byte
}

// errorCode returns the code of a Selo error answer or the name of a CSC one.
func (a answer) errorCode() string {
	var e struct {
		Error json.RawMessage `json:"error"`
	}
	_ = json.Unmarshal(a.body, &e)
	var name string
	if json.Unmarshal(e.Error, &name) == nil {
		return name
	}
	var body struct{ Code string }
	_ = json.Unmarshal(e.Error, &body)
	return body.Code
}

// message returns the message of a Selo error answer or the description of a CSC one.
func (a answer) message() string {
	var e struct {
		Error            json.RawMessage `json:"error"`
		ErrorDescription string          `json:"error_description"`
	}
	_ = json.Unmarshal(a.body, &e)
	if e.ErrorDescription != "" {
		return e.ErrorDescription
	}
	var body struct{ Message string }
	_ = json.Unmarshal(e.Error, &body)
	return body.Message
}

// send sends body as JSON (a string as it is) to srv; header is name,
// value pairs.
func send(t *testing.T, srv *httptest.Server, method, path string, body any, header ...string) answer {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, ok := body.(string)
		if !ok {
			j, err := json.Marshal(body)
			if err != nil {
				t.Fatal(err)
			}
			b = string(j)
		}
		rd = strings.NewReader(b)
	}
	req, err := http.NewRequest(method, srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{status: resp.StatusCode, header: resp.Header, body: bytes.TrimSpace(b)}
}

// audited counts the audit entries with this action and outcome whose
// details hold every one of want.
func (st *abuseStack) audited(t *testing.T, action, outcome string, want ...string) int {
	t.Helper()
	es, err := st.env.Store.ListAudit(context.Background(), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
next:
	for _, e := range es {
		if e.Action != action || e.Outcome != outcome {
			continue
		}
		for _, w := range want {
			if !strings.Contains(e.Details+e.Object, w) {
				continue next
			}
		}
		n++
	}
	return n
}

// jsonInto decodes b into v.
func jsonInto(b []byte, v any) error { return json.Unmarshal(b, v) }

// otpSecretOf reads the secret and parameters of an otpauth:// URI, as an
// authenticator app does.
func otpSecretOf(t *testing.T, uri string) ([]byte, approval.OTPParams) {
	t.Helper()
	u, err := url.Parse(uri)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	secret, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.ToUpper(q.Get("secret")))
	if err != nil {
		t.Fatalf("secret of %s: %v", uri, err)
	}
	p := approval.OTPParams{Algorithm: approval.Algorithm(q.Get("algorithm")), Period: 30 * time.Second, Digits: 6}
	if q.Get("digits") == "8" {
		p.Digits = 8
	}
	return secret, p
}
