package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/internal/testenv"
	"github.com/selo-qtsp/selo/lift/lifttest"
	"github.com/selo-qtsp/selo/registration"
	"github.com/selo-qtsp/selo/server"
	"github.com/selo-qtsp/selo/worker"
)

// holderDesk opens the registration desk over data as the server does
// (c.registration: the production document checker), to act as the holder
// does through the API; a mailer, when given, replaces the configured one.
func holderDesk(t *testing.T, data string, mailer selo.Mailer) (*registration.Service, *cli) {
	t.Helper()
	return holderDeskOver(t, data, "", mailer)
}

// holderDeskOver is holderDesk over the database given (as --database), or
// the data directory's own when empty.
func holderDeskOver(t *testing.T, data, database string, mailer selo.Mailer) (*registration.Service, *cli) {
	t.Helper()
	c := newCLI(strings.NewReader(""), io.Discard, io.Discard)
	root := c.rootCommand()
	if err := root.PersistentFlags().Set("data", data); err != nil {
		t.Fatal(err)
	}
	if database != "" {
		if err := root.PersistentFlags().Set("database", database); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.loadSettings(root); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.close)
	a, err := c.authority(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	codeKey, secret, err := c.registrationKeys()
	if err != nil {
		t.Fatal(err)
	}
	if mailer == nil {
		svc, err := c.registration(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		return svc, c
	}
	svc := testenv.RegistrationService(t, c.store, a, c.keys, func(cfg *registration.Config) {
		cfg.Mailer, cfg.CodeKey, cfg.WebhookSecret = mailer, codeKey, secret
	})
	return svc, c
}

func TestOrderCommands(t *testing.T) {
	t.Parallel()
	data := dataDir(t)
	d := []string{"--data", data}
	holder := append(append([]string{}, d...), "order", "create", "--given-names", "Ana Maria", "--surname", "Silva",
		"--email", "ana@example.pt", "--mobile", "+351912345678", "--profile", "qualified-sign", "--delivery", "token", "--country", "PT")

	var created server.CreateOrderResponse
	decodeJSON(t, mustRunSelo(t, append(holder, "--birth-date", "1990-05-17", "--json")...), &created)
	number := created.Order.Number
	if !strings.HasPrefix(number, "SO-") || created.AccessCode == "" || created.Order.State != "created" ||
		created.Order.Holder.BirthDate != "1990-05-17" || !strings.HasPrefix(created.Order.CreatedBy, "cli:") {
		t.Fatalf("order create --json: %+v", created)
	}
	r := mustRunSelo(t, holder...)
	if !strings.Contains(r.stdout, "access code: ") || !strings.Contains(r.stderr, "not shown again") {
		t.Fatalf("order create:\n%s", r)
	}
	second := strings.Fields(r.stdout)[1]

	wantExit(t, runSelo(t, append(d, "order", "create", "--email", "x@example.pt")...), 2, "needs --given-names")
	wantExit(t, runSelo(t, append(holder, "--birth-date", "17/05/1990")...), 2, "YYYY-MM-DD")
	wantExit(t, runSelo(t, append(holder, "--email", "not-an-address")...), 1, "not a plain e-mail address")
	wantExit(t, runSelo(t, append(holder, "--profile", "gold")...), 1, `no profile named "gold"`)
	wantExit(t, runSelo(t, append(holder, "--profile", "qualified-seal")...), 1, "needs the organisation")

	r = mustRunSelo(t, append(d, "order", "list")...)
	if !strings.Contains(r.stdout, number) || !strings.Contains(r.stdout, second) || strings.Contains(r.stdout, created.AccessCode) {
		t.Fatalf("order list:\n%s", r)
	}
	var none []*server.OrderResponse
	decodeJSON(t, mustRunSelo(t, append(d, "order", "list", "--state", "cancelled", "--json")...), &none)
	if len(none) != 0 {
		t.Fatalf("cancelled orders: %+v", none)
	}
	wantExit(t, runSelo(t, append(d, "order", "list", "--state", "paused")...), 2, "--state must be one of created")

	r = mustRunSelo(t, append(d, "order", "show", number)...)
	if !strings.Contains(r.stdout, "State:") || !strings.Contains(r.stdout, "created") || !strings.Contains(r.stdout, "ana@example.pt") {
		t.Fatalf("order show:\n%s", r)
	}
	wantExit(t, runSelo(t, append(d, "order", "show", "SO-2026-NOPE")...), 1)
	wantExit(t, runSelo(t, append(d, "order", "show")...), 2)

	// The payment first: the identity is not validated yet, so it waits.
	wantExit(t, runSelo(t, append(d, "order", "pay", number, "--reference", "TPA-1", "--amount", "49,90")...), 2, "--amount must be")
	wantExit(t, runSelo(t, append(d, "order", "pay", number, "--reference", "TPA-1", "--amount", "49.901")...), 2, "--amount must be")
	wantExit(t, runSelo(t, append(d, "order", "pay", number, "--amount", "49.90")...), 2, "--reference")
	r = mustRunSelo(t, append(d, "order", "pay", number, "--reference", "TPA-1", "--amount", "49.9")...)
	if !strings.Contains(r.stdout, "payment recorded: order "+number+" is created") {
		t.Fatalf("order pay:\n%s", r)
	}
	wantExit(t, runSelo(t, append(d, "order", "pay", number, "--reference", "TPA-2", "--amount", "10")...), 1, "already has a payment")
	r = mustRunSelo(t, append(d, "order", "show", number)...)
	if !strings.Contains(r.stdout, "49.90 EUR, reference TPA-1") {
		t.Fatalf("order show after payment:\n%s", r)
	}

	// The officers' queue is empty until the holder submits a document.
	r = mustRunSelo(t, append(d, "order", "checks")...)
	if !strings.Contains(r.stdout, "no identity checks waiting") {
		t.Fatalf("empty queue:\n%s", r)
	}
	desk, _ := holderDesk(t, data, nil)
	card := lifttest.IDCard(selo.Holder{GivenNames: "Ana Maria", Surname: "Silva", BirthDate: time.Date(1990, 5, 17, 0, 0, 0, 0, time.UTC)},
		lifttest.CardNumber, lifttest.Expiry())
	bad := card
	bad.MRZ = lifttest.WrongCheckDigit(card.MRZ)
	check, err := desk.SubmitIdentityCheck(t.Context(), number, created.AccessCode, bad)
	if err != nil || check.Status != selo.IdentityRefused || !strings.Contains(check.MachineReason, "check digit of the birth date") {
		t.Fatalf("a wrong check digit: %+v %v", check, err)
	}
	r = mustRunSelo(t, append(d, "order", "checks")...)
	if !strings.Contains(r.stdout, "no identity checks waiting") {
		t.Fatalf("a refused check reached the queue:\n%s", r)
	}
	check, err = desk.SubmitIdentityCheck(t.Context(), number, created.AccessCode, card)
	if err != nil || check.Status != selo.IdentityPending {
		t.Fatalf("submit: %+v %v", check, err)
	}
	r = mustRunSelo(t, append(d, "order", "checks")...)
	if !strings.Contains(r.stdout, check.ID) || !strings.Contains(r.stdout, number) || !strings.Contains(r.stdout, "Ana Maria Silva") ||
		!strings.Contains(r.stdout, lifttest.CardNumber) || !strings.Contains(r.stdout, card.ExpiryDate.Format(time.DateOnly)) {
		t.Fatalf("order checks:\n%s", r)
	}
	var queue []*server.IdentityCheckResponse
	decodeJSON(t, mustRunSelo(t, append(d, "order", "checks", "--json")...), &queue)
	if len(queue) != 1 || queue[0].ID != check.ID || queue[0].Holder.Email != "ana@example.pt" {
		t.Fatalf("order checks --json: %+v", queue)
	}
	wantExit(t, runSelo(t, append(d, "order", "checks", "--limit", "0")...), 2, "--limit")

	wantExit(t, runSelo(t, append(d, "order", "decide", check.ID, "--reason", "ok")...), 2, "exactly one of --approve and --reject")
	wantExit(t, runSelo(t, append(d, "order", "decide", check.ID, "--approve", "--reject", "--reason", "ok")...), 2, "exactly one")
	wantExit(t, runSelo(t, append(d, "order", "decide", check.ID, "--approve")...), 2, "--reason")
	wantExit(t, runSelo(t, append(d, "order", "decide", "nope", "--approve", "--reason", "ok")...), 1)
	r = mustRunSelo(t, append(d, "order", "decide", check.ID, "--approve", "--reason", "document and photo match")...)
	if !strings.Contains(r.stdout, "identity approved: order "+number+" is ready") {
		t.Fatalf("order decide:\n%s", r)
	}
	wantExit(t, runSelo(t, append(d, "order", "decide", check.ID, "--reject", "--reason", "again")...), 1, "not pending")

	// The holder's "ready to lift" e-mail is in the outbox.
	r = mustRunSelo(t, append(d, "outbox")...)
	if !strings.Contains(r.stdout, "ready: order "+number) {
		t.Fatalf("no ready e-mail in the outbox:\n%s", r)
	}

	var history server.OrderEventList
	decodeJSON(t, mustRunSelo(t, append(d, "order", "history", number, "--json")...), &history)
	var steps []string
	for _, e := range history.Events {
		steps = append(steps, e.To)
	}
	if strings.Join(steps, ",") != "created,identity_validated,paid,ready" || !strings.HasPrefix(history.Events[1].Actor, "cli:") ||
		!strings.Contains(history.Events[1].Reason, "document and photo match") {
		t.Fatalf("order history --json: %+v", history)
	}
	r = mustRunSelo(t, append(d, "order", "history", number)...)
	if !strings.Contains(r.stdout, "identity_validated") || !strings.Contains(r.stdout, "ready to lift") {
		t.Fatalf("order history:\n%s", r)
	}

	// Cancel and reject: a reason is required, and a terminal order stays.
	wantExit(t, runSelo(t, append(d, "order", "cancel", second)...), 2, "--reason")
	r = mustRunSelo(t, append(d, "order", "cancel", second, "--reject", "--reason", "forged document")...)
	if !strings.Contains(r.stdout, "order "+second+" is rejected") {
		t.Fatalf("order cancel --reject:\n%s", r)
	}
	wantExit(t, runSelo(t, append(d, "order", "cancel", second, "--reason", "changed mind")...), 1, "can no longer be cancelled")
	wantExit(t, runSelo(t, append(d, "order", "pay", second, "--reference", "X", "--amount", "1")...), 1, "takes no payment")

	// Every decision above is in the audit chain, which still verifies.
	mustRunSelo(t, append(d, "audit", "verify")...)
}

func TestOrderWebhookSecret(t *testing.T) {
	t.Parallel()
	data := dataDir(t)
	r := mustRunSelo(t, "--data", data, "order", "webhook-secret")
	text := strings.TrimSpace(r.stdout)
	_, c := holderDesk(t, data, nil)
	_, secret, err := c.registrationKeys()
	if err != nil {
		t.Fatal(err)
	}
	// The recipe docs/orders.md gives the payment provider: strip "whsec_",
	// base64url-decode (no padding): that is the HMAC key.
	key, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(text, "whsec_"))
	if !strings.HasPrefix(text, "whsec_") || err != nil || !bytes.Equal(key, secret) || len(key) != 32 {
		t.Fatalf("webhook-secret %q does not give the webhook key: %v", text, err)
	}
	var out map[string]string
	decodeJSON(t, mustRunSelo(t, "--data", data, "--json", "order", "webhook-secret"), &out)
	if out["webhook_secret"] != text || out["signature_header"] != server.WebhookSignatureHeader {
		t.Fatalf("webhook-secret --json: %v", out)
	}
	wantExit(t, runSelo(t, "--data", t.TempDir(), "order", "webhook-secret"), 1, "not initialized")
}

// flakyMailer fails while down is set, and reports each e-mail it sends.
type flakyMailer struct {
	down atomic.Bool
	sent chan selo.Email
}

func (m *flakyMailer) SendEmail(_ context.Context, e selo.Email) error {
	if m.down.Load() {
		return errors.New("smtp: connection refused")
	}
	m.sent <- e
	return nil
}

// TestReadyNoticesResent: a "ready to lift" e-mail that could not be sent
// leaves the order in paid; the worker's loop sends it once mail works.
func TestReadyNoticesResent(t *testing.T) {
	t.Parallel()
	data := dataDir(t)
	mail := &flakyMailer{sent: make(chan selo.Email, 10)}
	desk, _ := holderDesk(t, data, mail)
	ctx := t.Context()
	created, err := desk.CreateOrder(ctx, "test", registration.OrderRequest{
		Holder:  selo.Holder{GivenNames: "Ana", Surname: "Silva", Email: "ana@example.pt", Mobile: "+351912345678"},
		Profile: "qualified-sign", Delivery: selo.DeliveryToken, Subject: selo.OrderSubject{Country: "PT"}})
	if err != nil {
		t.Fatal(err)
	}
	<-mail.sent // the access code
	check, err := desk.SubmitIdentityCheck(ctx, created.Order.Number, created.AccessCode,
		lifttest.IDCard(created.Order.Holder, lifttest.CardNumber, lifttest.Expiry()))
	if err != nil || check.Status != selo.IdentityPending {
		t.Fatalf("submit: %+v %v", check, err)
	}
	if _, err := desk.RecordPayment(ctx, "test", created.Order.Number, registration.Payment{Reference: "R", AmountCents: 100, Currency: "EUR"}); err != nil {
		t.Fatal(err)
	}
	mail.down.Store(true)
	o, err := desk.DecideIdentityCheck(ctx, "test", check.ID, true, "ok")
	if err != nil || o.State != selo.OrderPaid {
		t.Fatalf("with mail down the order stays paid: %+v %v", o, err)
	}

	mail.down.Store(false)
	loopCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = worker.Run(loopCtx, nil, time.Hour, nil, desk.ReadyNoticeTask()) }()
	e := <-mail.sent
	stop()
	<-done
	if !strings.Contains(e.Subject, "ready: order "+created.Order.Number) || e.To != "ana@example.pt" {
		t.Fatalf("resent e-mail %+v", e)
	}
	r := mustRunSelo(t, "--data", data, "order", "show", created.Order.Number)
	if !strings.Contains(r.stdout, "ready") {
		t.Fatalf("after the resend:\n%s", r)
	}
	// Sent once: the next pass finds nothing to send.
	if n, err := desk.RetryReadyNotices(ctx); n != 0 || err != nil || len(mail.sent) != 0 {
		t.Fatalf("second pass sent %d (%v), %d queued", n, err, len(mail.sent))
	}
}
