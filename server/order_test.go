package server_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/internal/testenv"
	"github.com/selo-qtsp/selo/lift/lifttest"
	"github.com/selo-qtsp/selo/notify"
	"github.com/selo-qtsp/selo/registration"
	"github.com/selo-qtsp/selo/server"
)

var webhookSecret = []byte("whsec-test-secret-0123456789abcdef")

// anaCard is the Portuguese ID card of orderBody's holder, valid for five
// more years: a real MRZ that the production checker accepts.
var anaCard = lifttest.IDCard(selo.Holder{GivenNames: "Ana Maria", Surname: "Silva",
	BirthDate: time.Date(1990, 5, 17, 0, 0, 0, 0, time.UTC)}, lifttest.CardNumber, lifttest.Expiry())

// sentMail is the registration desk's mailer in these tests: the real
// local outbox, read back for the subjects it holds.
type sentMail struct{ *notify.Outbox }

// newSentMail opens a mail outbox in a new temporary directory.
func newSentMail(tb testing.TB) sentMail {
	tb.Helper()
	o, err := notify.OpenOutbox(tb.TempDir(), nil)
	if err != nil {
		tb.Fatal(err)
	}
	return sentMail{o}
}

// subjects returns the subjects of the e-mails sent, one a line, oldest first.
func (m sentMail) subjects() string {
	ms, err := m.List(context.Background(), notify.OutboxFilter{Channel: notify.ChannelEmail})
	if err != nil {
		return "cannot list the outbox: " + err.Error()
	}
	var s []string
	for _, e := range ms {
		s = append(s, e.Subject)
	}
	return strings.Join(s, "\n")
}

// withRegistration wires a real registration desk over the test stack's store.
func withRegistration(tb testing.TB, mail selo.Mailer, secret []byte) func(*server.Config) {
	return func(c *server.Config) {
		c.Registration = testenv.RegistrationService(tb, c.Authority.Store(), c.Authority, nil, func(c *registration.Config) {
			c.Mailer, c.CodeKey, c.WebhookSecret = mail, bytes.Repeat([]byte{7}, 32), secret
		})
	}
}

func newOrderServer(t *testing.T, configure ...func(*server.Config)) (*testServer, sentMail) {
	t.Helper()
	mail := newSentMail(t)
	return newTestServer(t, append([]func(*server.Config){withRegistration(t, mail, webhookSecret)}, configure...)...), mail
}

// sendJSON sends v (a string is sent as it is) as a JSON body.
func (ts *testServer) sendJSON(t *testing.T, method, path string, v any, header ...string) (*http.Response, []byte) {
	t.Helper()
	var b []byte
	if s, ok := v.(string); ok {
		b = []byte(s)
	} else {
		var err error
		if b, err = json.Marshal(v); err != nil {
			t.Fatal(err)
		}
	}
	return ts.do(t, method, path, bytes.NewReader(b), append([]string{"Content-Type", "application/json"}, header...)...)
}

// wantJSON checks the status and decodes the body into v.
func wantJSON(t *testing.T, resp *http.Response, body []byte, status int, v any) {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("status %d, want %d: %s", resp.StatusCode, status, body)
	}
	if v != nil {
		if err := json.Unmarshal(body, v); err != nil {
			t.Fatalf("decode %s: %v", body, err)
		}
	}
}

func orderBody(email string) map[string]any {
	return map[string]any{
		"holder":   map[string]any{"given_names": "Ana Maria", "surname": "Silva", "email": email, "mobile": "+351912345678", "birth_date": "1990-05-17"},
		"profile":  "qualified-sign",
		"delivery": "token",
		"subject":  map[string]any{"country": "PT"},
	}
}

func createOrder(t *testing.T, ts *testServer, email string) server.CreateOrderResponse {
	t.Helper()
	var out server.CreateOrderResponse
	resp, body := ts.sendJSON(t, "POST", "/api/v1/orders", orderBody(email))
	wantJSON(t, resp, body, http.StatusCreated, &out)
	if out.AccessCode == "" || out.Order == nil || out.Order.Number == "" {
		t.Fatalf("create answer %s", body)
	}
	return out
}

// identityBody is the holder's submission of anaCard with the MRZ mrz.
func identityBody(code, mrz string) map[string]any {
	return map[string]any{"access_code": code, "document_type": "id-card", "country": "PT", "document_number": anaCard.DocumentNumber,
		"expiry_date": anaCard.ExpiryDate.Format(time.DateOnly), "mrz": mrz}
}

// signWebhook returns the signature header of body at time ts.
func signWebhook(secret []byte, body string, ts time.Time) string {
	t := strconv.FormatInt(ts.Unix(), 10)
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(t + "." + body))
	return "t=" + t + ",v1=" + hex.EncodeToString(m.Sum(nil))
}

func paymentEvent(id, number string) string {
	return fmt.Sprintf(`{"id":%q,"type":"payment.succeeded","order_number":%q,"reference":"PAY-%s","amount_cents":4990,"currency":"EUR"}`, id, number, id)
}

func (ts *testServer) webhook(t *testing.T, body, signature string) (*http.Response, []byte) {
	t.Helper()
	return ts.do(t, "POST", "/api/v1/payments/webhook", strings.NewReader(body),
		"Authorization", "", "Content-Type", "application/json", server.WebhookSignatureHeader, signature)
}

// TestOrderLifecycle walks an order from creation to ready through the API:
// the holder's identity check, the officer's queue and decision, payment by
// webhook, and the history.
func TestOrderLifecycle(t *testing.T) {
	ts, mail := newOrderServer(t)
	created := createOrder(t, ts, "ana@example.pt")
	o := created.Order
	if o.State != "created" || o.Holder.BirthDate != "1990-05-17" || o.Profile != "qualified-sign" || o.Delivery != "token" ||
		o.CreatedBy != "api:"+testenv.APIKeyName || o.Payment != nil {
		t.Fatalf("created order %+v", o)
	}
	number := o.Number

	// The access code is answered once: not by GET, not in the logs.
	var got server.OrderResponse
	resp, body := ts.get(t, "/api/v1/orders/"+number)
	wantJSON(t, resp, body, http.StatusOK, &got)
	if got.Number != number || got.ID != o.ID || bytes.Contains(body, []byte(created.AccessCode)) {
		t.Fatalf("GET order: %s", body)
	}

	// The holder: a wrong code, a machine refusal, then a pass.
	path := "/api/v1/orders/" + number + "/identity-check"
	resp, body = ts.sendJSON(t, "POST", path, identityBody("WRONGCODE", anaCard.MRZ), "Authorization", "")
	wantError(t, resp, body, http.StatusUnauthorized, "unauthorized", "wrong")
	var check server.IdentityCheckResponse
	resp, body = ts.sendJSON(t, "POST", path, identityBody(created.AccessCode, lifttest.WrongCheckDigit(anaCard.MRZ)), "Authorization", "")
	wantJSON(t, resp, body, http.StatusOK, &check)
	if check.Status != "refused" || !strings.Contains(check.MachineReason, "check digit of the birth date") || check.Holder != nil {
		t.Fatalf("refused check %s", body)
	}
	// Codes are case- and dash-insensitive, as people type them.
	lower := strings.ToLower(created.AccessCode[:4]) + "-" + created.AccessCode[4:]
	resp, body = ts.sendJSON(t, "POST", path, identityBody(lower, anaCard.MRZ), "Authorization", "")
	wantJSON(t, resp, body, http.StatusOK, &check)
	if check.Status != "pending" || check.OrderNumber != number || strings.Join(check.Pending, ",") != "photo,liveness video" || check.MRZ != "" {
		t.Fatalf("pending check %s", body)
	}
	// A second submission while one waits is refused.
	resp, body = ts.sendJSON(t, "POST", path, identityBody(created.AccessCode, anaCard.MRZ), "Authorization", "")
	wantError(t, resp, body, http.StatusConflict, "conflict", "already waits")

	// The officers' queue shows it with the holder to compare.
	var queue server.IdentityCheckList
	resp, body = ts.get(t, "/api/v1/identity-checks")
	wantJSON(t, resp, body, http.StatusOK, &queue)
	if len(queue.Checks) != 1 || queue.Checks[0].ID != check.ID || queue.Checks[0].Holder == nil ||
		queue.Checks[0].Holder.Surname != "Silva" || queue.Checks[0].DocumentNumber != lifttest.CardNumber ||
		queue.Checks[0].ExpiryDate != anaCard.ExpiryDate.Format(time.DateOnly) || !strings.Contains(string(queue.Checks[0].MRZResult), `"`+lifttest.CardNumber+`"`) {
		t.Fatalf("queue %s", body)
	}
	var decided server.OrderResponse
	resp, body = ts.sendJSON(t, "POST", "/api/v1/identity-checks/"+check.ID+"/decision", map[string]any{"decision": "approve", "reasons": "photo matches"})
	wantJSON(t, resp, body, http.StatusOK, &decided)
	if decided.State != "identity_validated" || decided.IdentityStatus != "approved" {
		t.Fatalf("approved: %s", body)
	}
	// Deciding again is an illegal transition.
	resp, body = ts.sendJSON(t, "POST", "/api/v1/identity-checks/"+check.ID+"/decision", map[string]any{"decision": "reject", "reasons": "second opinion"})
	wantError(t, resp, body, http.StatusConflict, "conflict", "not pending")
	queue = server.IdentityCheckList{}
	resp, body = ts.get(t, "/api/v1/identity-checks")
	wantJSON(t, resp, body, http.StatusOK, &queue)
	if len(queue.Checks) != 0 {
		t.Fatalf("queue after the decision: %s", body)
	}

	// Payment by the provider's webhook moves it on to ready.
	event := paymentEvent("evt_1", number)
	var ack server.WebhookResponse
	resp, body = ts.webhook(t, event, signWebhook(webhookSecret, event, time.Now()))
	wantJSON(t, resp, body, http.StatusOK, &ack)
	if !ack.Received || ack.OrderNumber != number || ack.State != "ready" {
		t.Fatalf("webhook ack %s", body)
	}
	if !strings.Contains(mail.subjects(), "ready: order "+number) {
		t.Fatalf("no ready e-mail; sent:\n%s", mail.subjects())
	}
	resp, body = ts.get(t, "/api/v1/orders/"+number)
	wantJSON(t, resp, body, http.StatusOK, &got)
	if got.State != "ready" || got.Payment == nil || got.Payment.AmountCents != 4990 || got.Payment.Currency != "EUR" ||
		got.ReadyNotifiedAt == nil {
		t.Fatalf("paid order %s", body)
	}

	var history server.OrderEventList
	resp, body = ts.get(t, "/api/v1/orders/"+number+"/events")
	wantJSON(t, resp, body, http.StatusOK, &history)
	var path2 []string
	for _, e := range history.Events {
		path2 = append(path2, e.To)
	}
	if strings.Join(path2, ",") != "created,identity_validated,paid,ready" {
		t.Fatalf("history %s", body)
	}
	if a := history.Events[1].Actor; a != "api:"+testenv.APIKeyName {
		t.Fatalf("the decision's actor is %q, want the API key's", a)
	}

	// Cancel, then the order takes nothing more.
	var cancelled server.OrderResponse
	resp, body = ts.sendJSON(t, "POST", "/api/v1/orders/"+number+"/cancel", map[string]any{"reason": "holder asked"})
	wantJSON(t, resp, body, http.StatusOK, &cancelled)
	if cancelled.State != "cancelled" {
		t.Fatalf("cancel %s", body)
	}
	resp, body = ts.sendJSON(t, "POST", "/api/v1/orders/"+number+"/cancel", map[string]any{"reason": "holder asked"})
	wantJSON(t, resp, body, http.StatusOK, &cancelled) // repeating is a no-op
	resp, body = ts.sendJSON(t, "POST", "/api/v1/orders/"+number+"/cancel", map[string]any{"reason": "fraud", "reject": true})
	wantError(t, resp, body, http.StatusConflict, "conflict", "can no longer be rejected")
	resp, body = ts.sendJSON(t, "POST", path, identityBody(created.AccessCode, anaCard.MRZ), "Authorization", "")
	wantError(t, resp, body, http.StatusConflict, "conflict", "is cancelled")

	for _, l := range []string{ts.logs.String()} {
		if strings.Contains(l, created.AccessCode) {
			t.Fatal("the access code reached the log")
		}
	}
}

func TestOrderCreateAndList(t *testing.T) {
	ts, _ := newOrderServer(t)
	a := createOrder(t, ts, "a@example.pt")
	b := createOrder(t, ts, "b@example.pt")
	c := createOrder(t, ts, "c@example.pt")

	resp, body := ts.sendJSON(t, "POST", "/api/v1/orders", orderBody("d@example.pt"))
	if loc := resp.Header.Get("Location"); !strings.HasPrefix(loc, "/api/v1/orders/SO-") || resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("Location %q, Cache-Control %q: %s", loc, resp.Header.Get("Cache-Control"), body)
	}

	// Pages of two, keyed by the last ID: every order once, none twice.
	var page server.OrderList
	resp, body = ts.get(t, "/api/v1/orders?limit=2")
	wantJSON(t, resp, body, http.StatusOK, &page)
	if len(page.Orders) != 2 || page.Next != page.Orders[1].ID {
		t.Fatalf("first page %s", body)
	}
	seen := map[string]bool{page.Orders[0].Number: true, page.Orders[1].Number: true}
	after := page.Next
	page = server.OrderList{}
	resp, body = ts.get(t, "/api/v1/orders?limit=2&after="+after)
	wantJSON(t, resp, body, http.StatusOK, &page)
	if len(page.Orders) != 2 || page.Next != "" {
		t.Fatalf("second page %s", body)
	}
	seen[page.Orders[0].Number], seen[page.Orders[1].Number] = true, true
	if len(seen) != 4 || !seen[a.Order.Number] || !seen[b.Order.Number] || !seen[c.Order.Number] {
		t.Fatalf("pages hold %v", seen)
	}
	if bytes.Contains(body, []byte("access_code")) {
		t.Fatalf("a list holds access codes: %s", body)
	}

	// The state filter.
	resp, body = ts.sendJSON(t, "POST", "/api/v1/orders/"+b.Order.Number+"/cancel", map[string]any{"reason": "duplicate"})
	wantJSON(t, resp, body, http.StatusOK, nil)
	page = server.OrderList{}
	resp, body = ts.get(t, "/api/v1/orders?state=cancelled")
	wantJSON(t, resp, body, http.StatusOK, &page)
	if len(page.Orders) != 1 || page.Orders[0].Number != b.Order.Number {
		t.Fatalf("cancelled orders %s", body)
	}

	tests := []struct {
		name, method, path string
		body               any
		header             []string
		status             int
		code, message      string
	}{
		{"bad state", "GET", "/api/v1/orders?state=paused", nil, nil, 400, "invalid", "state must be one of created"},
		{"bad limit", "GET", "/api/v1/orders?limit=0", nil, nil, 400, "invalid", "limit must be"},
		{"limit too large", "GET", "/api/v1/orders?limit=1001", nil, nil, 400, "invalid", "from 1 to 1000"},
		{"unknown order", "GET", "/api/v1/orders/SO-2026-NOPE", nil, nil, 404, "not_found", ""},
		{"unknown order history", "GET", "/api/v1/orders/SO-2026-NOPE/events", nil, nil, 404, "not_found", ""},
		{"unknown field", "POST", "/api/v1/orders", `{"profile":"qualified-sign","delivery":"token","holder":{},"colour":"red"}`, nil, 400, "invalid", `unknown field "colour"`},
		{"no profile", "POST", "/api/v1/orders", `{"delivery":"token"}`, nil, 400, "invalid", `"profile" is required`},
		{"unknown profile", "POST", "/api/v1/orders", func() any { b := orderBody("x@example.pt"); b["profile"] = "gold"; return b }(), nil, 400, "invalid", `no profile named "gold"`},
		{"bad delivery", "POST", "/api/v1/orders", func() any { b := orderBody("x@example.pt"); b["delivery"] = "pigeon"; return b }(), nil, 400, "invalid", "not software, token or cloud"},
		{"bad e-mail", "POST", "/api/v1/orders", orderBody("not-an-address"), nil, 400, "invalid", "not a plain e-mail address"},
		{"bad birth date", "POST", "/api/v1/orders", func() any {
			b := orderBody("x@example.pt")
			b["holder"].(map[string]any)["birth_date"] = "17/05/1990"
			return b
		}(), nil, 400, "invalid", "YYYY-MM-DD"},
		{"seal without organisation", "POST", "/api/v1/orders", func() any { b := orderBody("x@example.pt"); b["profile"] = "qualified-seal"; return b }(), nil, 400, "invalid", "needs the organisation"},
		{"not JSON", "POST", "/api/v1/orders", "{}", []string{"Content-Type", "text/plain"}, 415, "unsupported_media_type", "must be JSON"},
		{"too large", "POST", "/api/v1/orders", `{"profile":"` + strings.Repeat("a", server.DefaultMaxBodyBytes) + `"}`, nil, 413, "too_large", "larger than"},
		{"method", "DELETE", "/api/v1/orders/" + a.Order.Number, nil, nil, 405, "method_not_allowed", "use GET"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var resp *http.Response
			var body []byte
			if tt.body != nil {
				resp, body = ts.sendJSON(t, tt.method, tt.path, tt.body, tt.header...)
			} else {
				resp, body = ts.do(t, tt.method, tt.path, nil, tt.header...)
			}
			wantError(t, resp, body, tt.status, tt.code, tt.message)
		})
	}
}

// TestOrderRoutesNeedAnAPIKey: every officer route refuses a request
// without a key, or with a wrong one, before it reads anything.
func TestOrderRoutesNeedAnAPIKey(t *testing.T) {
	ts, _ := newOrderServer(t)
	number := createOrder(t, ts, "a@example.pt").Order.Number
	routes := []struct{ method, path string }{
		{"POST", "/api/v1/orders"}, {"GET", "/api/v1/orders"}, {"GET", "/api/v1/orders/" + number},
		{"GET", "/api/v1/orders/" + number + "/events"}, {"POST", "/api/v1/orders/" + number + "/payment"},
		{"POST", "/api/v1/orders/" + number + "/cancel"}, {"GET", "/api/v1/identity-checks"},
		{"POST", "/api/v1/identity-checks/x/decision"},
	}
	for _, rt := range routes {
		for _, auth := range []string{"", "Bearer selo_wrong", "Basic YWRtaW46YWRtaW4="} {
			resp, body := ts.sendJSON(t, rt.method, rt.path, `{"reason":"x","reference":"x","amount_cents":1,"currency":"EUR"}`, "Authorization", auth)
			wantError(t, resp, body, http.StatusUnauthorized, "unauthorized", "")
		}
	}
	// And nothing happened to the order.
	var o server.OrderResponse
	resp, body := ts.get(t, "/api/v1/orders/"+number)
	wantJSON(t, resp, body, http.StatusOK, &o)
	if o.State != "created" || o.Payment != nil {
		t.Fatalf("order changed by unauthenticated requests: %s", body)
	}
}

// TestOfficerPaymentBeforeIdentity: a payment recorded first waits for the
// identity; the approval then moves the order through paid to ready.
func TestOfficerPaymentBeforeIdentity(t *testing.T) {
	ts, mail := newOrderServer(t)
	created := createOrder(t, ts, "ana@example.pt")
	number := created.Order.Number
	payPath := "/api/v1/orders/" + number + "/payment"

	resp, body := ts.sendJSON(t, "POST", payPath, map[string]any{"reference": "TPA-77", "amount_cents": 0, "currency": "EUR"})
	wantError(t, resp, body, http.StatusBadRequest, "invalid", "positive amount")
	resp, body = ts.sendJSON(t, "POST", payPath, `{"reference":"TPA-77","amount_cents":"49.90","currency":"EUR"}`)
	wantError(t, resp, body, http.StatusBadRequest, "invalid", `"amount_cents" must be a number`)
	var o server.OrderResponse
	resp, body = ts.sendJSON(t, "POST", payPath, map[string]any{"reference": "TPA-77", "amount_cents": 4990, "currency": "eur"})
	wantJSON(t, resp, body, http.StatusOK, &o)
	if o.State != "created" || o.Payment == nil || o.Payment.Reference != "TPA-77" || o.Payment.Currency != "EUR" {
		t.Fatalf("payment before identity: %s", body)
	}
	// The same payment again is a no-op; another one is a conflict.
	resp, body = ts.sendJSON(t, "POST", payPath, map[string]any{"reference": "TPA-77", "amount_cents": 4990, "currency": "EUR"})
	wantJSON(t, resp, body, http.StatusOK, &o)
	resp, body = ts.sendJSON(t, "POST", payPath, map[string]any{"reference": "TPA-78", "amount_cents": 4990, "currency": "EUR"})
	wantError(t, resp, body, http.StatusConflict, "conflict", "already has a payment")
	resp, body = ts.sendJSON(t, "POST", "/api/v1/orders/SO-2026-NOPE/payment", map[string]any{"reference": "X", "amount_cents": 1, "currency": "EUR"})
	wantError(t, resp, body, http.StatusNotFound, "not_found", "")

	var check server.IdentityCheckResponse
	resp, body = ts.sendJSON(t, "POST", "/api/v1/orders/"+number+"/identity-check", identityBody(created.AccessCode, anaCard.MRZ), "Authorization", "")
	wantJSON(t, resp, body, http.StatusOK, &check)

	decide := "/api/v1/identity-checks/" + check.ID + "/decision"
	resp, body = ts.sendJSON(t, "POST", decide, map[string]any{"decision": "maybe", "reasons": "x"})
	wantError(t, resp, body, http.StatusBadRequest, "invalid", `"approve" or "reject"`)
	resp, body = ts.sendJSON(t, "POST", decide, map[string]any{"decision": "approve", "reasons": "  "})
	wantError(t, resp, body, http.StatusBadRequest, "invalid", "needs its reasons")
	resp, body = ts.sendJSON(t, "POST", decide, map[string]any{"decision": "approve", "reasons": strings.Repeat("r", 2001)})
	wantError(t, resp, body, http.StatusBadRequest, "invalid", "longer than 2000")
	resp, body = ts.sendJSON(t, "POST", "/api/v1/identity-checks/nope/decision", map[string]any{"decision": "approve", "reasons": "ok"})
	wantError(t, resp, body, http.StatusNotFound, "not_found", "")

	resp, body = ts.sendJSON(t, "POST", decide, map[string]any{"decision": "approve", "reasons": "document and photo match"})
	wantJSON(t, resp, body, http.StatusOK, &o)
	if o.State != "ready" || !strings.Contains(mail.subjects(), "ready: order "+number) {
		t.Fatalf("approval after payment: %s\n%s", body, mail.subjects())
	}
}

// TestOfficerRejectsIdentity: a rejection lets the holder submit again.
func TestOfficerRejectsIdentity(t *testing.T) {
	ts, _ := newOrderServer(t)
	created := createOrder(t, ts, "ana@example.pt")
	path := "/api/v1/orders/" + created.Order.Number + "/identity-check"
	var check server.IdentityCheckResponse
	resp, body := ts.sendJSON(t, "POST", path, identityBody(created.AccessCode, anaCard.MRZ), "Authorization", "")
	wantJSON(t, resp, body, http.StatusOK, &check)
	var o server.OrderResponse
	resp, body = ts.sendJSON(t, "POST", "/api/v1/identity-checks/"+check.ID+"/decision", map[string]any{"decision": "reject", "reasons": "photo is blurred"})
	wantJSON(t, resp, body, http.StatusOK, &o)
	if o.State != "created" || o.IdentityStatus != "rejected" {
		t.Fatalf("rejected: %s", body)
	}
	resp, body = ts.sendJSON(t, "POST", path, identityBody(created.AccessCode, anaCard.MRZ), "Authorization", "")
	wantJSON(t, resp, body, http.StatusOK, &check)
	if check.Status != "pending" {
		t.Fatalf("second submission: %s", body)
	}
}

func TestIdentityCheckRequests(t *testing.T) {
	ts, _ := newOrderServer(t, func(c *server.Config) { c.PublicRateLimit = server.RateLimit{Off: true} })
	created := createOrder(t, ts, "ana@example.pt")
	path := "/api/v1/orders/" + created.Order.Number + "/identity-check"
	with := func(k string, v any) map[string]any {
		b := identityBody(created.AccessCode, anaCard.MRZ)
		b[k] = v
		return b
	}
	tests := []struct {
		name          string
		path          string
		body          any
		status        int
		code, message string
	}{
		{"no access code", path, with("access_code", ""), 401, "unauthorized", `"access_code" is required`},
		{"unknown order", "/api/v1/orders/SO-2026-NOPE/identity-check", identityBody(created.AccessCode, anaCard.MRZ), 401, "unauthorized", "wrong"},
		{"bad expiry", path, with("expiry_date", "2031-13-01"), 400, "invalid", "YYYY-MM-DD"},
		{"no expiry", path, with("expiry_date", ""), 400, "invalid", `"expiry_date" is required`},
		{"no document number", path, with("document_number", ""), 400, "invalid", `"document_number" is required`},
		{"long document number", path, with("document_number", strings.Repeat("1", 65)), 400, "invalid", "longer than 64"},
		{"long MRZ", path, with("mrz", strings.Repeat("<", 301)), 400, "invalid", "longer than 300"},
		{"copy is a boolean", path, with("copy", "no"), 400, "invalid", `"copy" must be a boolean`},
		{"unknown field", path, with("photo", "x"), 400, "invalid", `unknown field "photo"`},
		{"too large", path, `{"mrz":"` + strings.Repeat("a", server.DefaultMaxBodyBytes) + `"}`, 413, "too_large", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := ts.sendJSON(t, "POST", tt.path, tt.body, "Authorization", "")
			wantError(t, resp, body, tt.status, tt.code, tt.message)
		})
	}
	// None of it counted as an attempt.
	var o server.OrderResponse
	resp, body := ts.get(t, "/api/v1/orders/"+created.Order.Number)
	wantJSON(t, resp, body, http.StatusOK, &o)
	if o.IdentityAttempts != 0 {
		t.Fatalf("refused requests counted as attempts: %s", body)
	}
	// Five wrong codes kill the access code, the right one included; the
	// answer stays the one a wrong code (or an unknown order) gets.
	for range 5 {
		resp, body := ts.sendJSON(t, "POST", path, identityBody("WRONGWRONG", anaCard.MRZ), "Authorization", "")
		wantError(t, resp, body, http.StatusUnauthorized, "unauthorized", "wrong")
	}
	resp, body = ts.sendJSON(t, "POST", path, identityBody(created.AccessCode, anaCard.MRZ), "Authorization", "")
	wantError(t, resp, body, http.StatusUnauthorized, "unauthorized", "no longer works")
}

// TestIdentityCheckRateLimited: the holder's endpoint is rate limited per
// address, so codes cannot be guessed quickly.
// TestIdentityQueuePages: the officers' queue comes in pages, oldest first.
func TestIdentityQueuePages(t *testing.T) {
	ts, _ := newOrderServer(t)
	want := map[string]bool{}
	for i := range 3 {
		created := createOrder(t, ts, fmt.Sprintf("h%d@example.pt", i))
		var check server.IdentityCheckResponse
		resp, body := ts.sendJSON(t, "POST", "/api/v1/orders/"+created.Order.Number+"/identity-check", identityBody(created.AccessCode, anaCard.MRZ), "Authorization", "")
		wantJSON(t, resp, body, http.StatusOK, &check)
		want[check.ID] = true
	}
	got := map[string]bool{}
	after := ""
	for pages := 0; ; pages++ {
		var page server.IdentityCheckList
		resp, body := ts.get(t, "/api/v1/identity-checks?limit=2&after="+after)
		wantJSON(t, resp, body, http.StatusOK, &page)
		for _, c := range page.Checks {
			if got[c.ID] || c.Status != "pending" {
				t.Fatalf("check %s twice or not pending: %s", c.ID, body)
			}
			got[c.ID] = true
		}
		if page.Next == "" {
			if pages != 1 {
				t.Fatalf("%d pages of 2 for 3 checks", pages+1)
			}
			break
		}
		after = page.Next
	}
	for id := range want {
		if !got[id] || len(got) != len(want) {
			t.Fatalf("queue pages hold %v, want %v", got, want)
		}
	}
	resp, body := ts.get(t, "/api/v1/identity-checks?limit=abc")
	wantError(t, resp, body, http.StatusBadRequest, "invalid", "limit must be")
}

func TestIdentityCheckRateLimited(t *testing.T) {
	ts, _ := newOrderServer(t, func(c *server.Config) { c.PublicRateLimit = server.RateLimit{PerMinute: 1, Burst: 2} })
	for i := range 3 {
		resp, body := ts.sendJSON(t, "POST", "/api/v1/orders/SO-2026-NOPE/identity-check", identityBody("X", anaCard.MRZ), "Authorization", "")
		if i < 2 {
			wantError(t, resp, body, http.StatusUnauthorized, "unauthorized", "")
			continue
		}
		wantError(t, resp, body, http.StatusTooManyRequests, "too_many_requests", "retry in")
		if resp.Header.Get("Retry-After") == "" {
			t.Fatal("no Retry-After")
		}
	}
}

func TestPaymentWebhook(t *testing.T) {
	ts, _ := newOrderServer(t)
	number := createOrder(t, ts, "ana@example.pt").Order.Number
	event := paymentEvent("evt_9", number)
	now := time.Now()

	tests := []struct {
		name, body, signature string
		status                int
		code, message         string
	}{
		{"no signature", event, "", 401, "unauthorized", "Selo-Signature header is required"},
		{"malformed signature", event, "sha256=abc", 401, "unauthorized", "missing or malformed"},
		{"wrong secret", event, signWebhook([]byte("another secret"), event, now), 401, "unauthorized", "does not match"},
		{"body changed", event, signWebhook(webhookSecret, strings.Replace(event, "4990", "1", 1), now), 401, "unauthorized", "does not match"},
		{"stale", event, signWebhook(webhookSecret, event, now.Add(-6*time.Minute)), 401, "unauthorized", "outside the 5m0s tolerance"},
		{"from the future", event, signWebhook(webhookSecret, event, now.Add(6*time.Minute)), 401, "unauthorized", "outside"},
		{"empty", "", signWebhook(webhookSecret, "", now), 400, "invalid", "empty"},
		{"not JSON", "payment ok", signWebhook(webhookSecret, "payment ok", now), 400, "invalid", "not the expected JSON"},
		{"unknown field", `{"id":"e","order_number":"x","extra":1}`, signWebhook(webhookSecret, `{"id":"e","order_number":"x","extra":1}`, now), 400, "invalid", "not the expected JSON"},
		{"no id", `{"type":"payment.succeeded","order_number":"x"}`, signWebhook(webhookSecret, `{"type":"payment.succeeded","order_number":"x"}`, now), 400, "invalid", "needs an id"},
		{"unknown order", paymentEvent("evt_x", "SO-2026-NOPE"), signWebhook(webhookSecret, paymentEvent("evt_x", "SO-2026-NOPE"), now), 404, "not_found", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := ts.webhook(t, tt.body, tt.signature)
			wantError(t, resp, body, tt.status, tt.code, tt.message)
		})
	}

	// Too large: announced, and chunked without a length.
	big := `{"id":"` + strings.Repeat("a", registration.MaxWebhookBody) + `"}`
	resp, body := ts.webhook(t, big, signWebhook(webhookSecret, big, now))
	wantError(t, resp, body, http.StatusRequestEntityTooLarge, "too_large", "16384 bytes")
	req, _ := http.NewRequest("POST", ts.srv.URL+"/api/v1/payments/webhook", io.MultiReader(strings.NewReader(big)))
	req.Header.Set(server.WebhookSignatureHeader, signWebhook(webhookSecret, big, now))
	req.ContentLength = -1
	resp, err := ts.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	wantError(t, resp, body, http.StatusRequestEntityTooLarge, "too_large", "16384 bytes")

	// Other event types are acknowledged and ignored.
	refund := `{"id":"evt_r","type":"payment.refunded","order_number":"` + number + `"}`
	var ack server.WebhookResponse
	resp, body = ts.webhook(t, refund, signWebhook(webhookSecret, refund, now))
	wantJSON(t, resp, body, http.StatusOK, &ack)
	if !ack.Received || !ack.Ignored {
		t.Fatalf("ignored event: %s", body)
	}

	// The payment is recorded (the identity waits), then a replay is refused.
	resp, body = ts.webhook(t, event, signWebhook(webhookSecret, event, now))
	wantJSON(t, resp, body, http.StatusOK, &ack)
	if ack.State != "created" || ack.OrderNumber != number {
		t.Fatalf("payment before identity: %s", body)
	}
	resp, body = ts.webhook(t, event, signWebhook(webhookSecret, event, now.Add(time.Second)))
	wantError(t, resp, body, http.StatusConflict, "conflict", "already processed")

	var o server.OrderResponse
	resp, body = ts.get(t, "/api/v1/orders/"+number)
	wantJSON(t, resp, body, http.StatusOK, &o)
	if o.Payment == nil || o.Payment.Reference != "PAY-evt_9" {
		t.Fatalf("order after the webhook: %s", body)
	}

	// A cancelled order takes no payment.
	other := createOrder(t, ts, "b@example.pt").Order.Number
	resp, body = ts.sendJSON(t, "POST", "/api/v1/orders/"+other+"/cancel", map[string]any{"reason": "duplicate", "reject": true})
	wantJSON(t, resp, body, http.StatusOK, &o)
	if o.State != "rejected" {
		t.Fatalf("reject: %s", body)
	}
	late := paymentEvent("evt_late", other)
	resp, body = ts.webhook(t, late, signWebhook(webhookSecret, late, now))
	wantError(t, resp, body, http.StatusConflict, "conflict", "takes no payment")
	resp, body = ts.sendJSON(t, "POST", "/api/v1/orders/"+other+"/cancel", map[string]any{"reason": ""})
	wantError(t, resp, body, http.StatusConflict, "conflict", "can no longer be cancelled")
}

func TestPaymentWebhookNotConfigured(t *testing.T) {
	mail := newSentMail(t)
	ts := newTestServer(t, withRegistration(t, mail, nil))
	event := paymentEvent("evt_1", "SO-2026-X")
	resp, body := ts.webhook(t, event, signWebhook(nil, event, time.Now()))
	wantError(t, resp, body, http.StatusForbidden, "forbidden", "not configured")
}

// TestOrderRoutesNeedRegistration: without a registration desk the order
// routes do not exist (and still need a key, like any unknown API path).
func TestOrderRoutesNeedRegistration(t *testing.T) {
	ts := newTestServer(t)
	resp, body := ts.get(t, "/api/v1/orders")
	wantError(t, resp, body, http.StatusNotFound, "not_found", "no such resource")
	resp, body = ts.webhook(t, "{}", "t=1,v1=00")
	wantError(t, resp, body, http.StatusUnauthorized, "unauthorized", "API key")
}

// fuzzHandler is the whole server over a real store, for fuzz targets.
func fuzzHandler(f *testing.F) (http.Handler, string) {
	env := testenv.New(f)
	cfg := server.Config{Authority: env.Authority, Logger: slog.New(slog.DiscardHandler), PublicRateLimit: server.RateLimit{Off: true}}
	withRegistration(f, newSentMail(f), webhookSecret)(&cfg)
	return server.New(cfg).Handler(), env.APIKey
}

// FuzzPaymentWebhook feeds the webhook arbitrary bodies, correctly signed so
// that the JSON parsing behind the signature check is reached, and arbitrary
// signature headers: never a panic, never a 500.
func FuzzPaymentWebhook(f *testing.F) {
	for _, seed := range []struct{ body, header string }{
		{paymentEvent("evt_1", "SO-2026-AAAAAAAA"), ""},
		{`{"id":"e","type":"payment.refunded","order_number":"SO-1"}`, ""},
		{`{"id":"e","type":"payment.succeeded","order_number":"SO-1","amount_cents":-5,"currency":"€€€"}`, ""},
		{`{"id":1}`, ""}, {`[]`, ""}, {`{"id":"a"}{"id":"b"}`, ""}, {"\xff", ""},
		{`{}`, "t=1,v1=zz"}, {`{}`, "t=99999999999999999999,v1=00"}, {`{}`, ",,,=,t=,v1="},
	} {
		f.Add([]byte(seed.body), seed.header)
	}
	h, _ := fuzzHandler(f)
	f.Fuzz(func(t *testing.T, body []byte, header string) {
		if header == "" {
			header = signWebhook(webhookSecret, string(body), time.Now())
		}
		req := httptest.NewRequest("POST", "/api/v1/payments/webhook", bytes.NewReader(body))
		req.Header.Set(server.WebhookSignatureHeader, header)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("body %q header %q: status %d: %s", body, header, rec.Code, rec.Body)
		}
	})
}

// FuzzOrderRequests feeds arbitrary JSON bodies to the create-order and
// identity-check decoders through the server: never a panic, never a 500.
func FuzzOrderRequests(f *testing.F) {
	create, _ := json.Marshal(orderBody("ana@example.pt"))
	identity, _ := json.Marshal(identityBody("ABCDEFGHJKMN", anaCard.MRZ))
	for _, seed := range []string{string(create), string(identity), `{"holder":{"birth_date":"0000-00-00"}}`,
		`{"expiry_date":"9999-12-31","access_code":"x","document_type":"p","country":"P","document_number":"1"}`,
		`{"subject":{"dns_names":[1]}}`, `null`, `{"a`, "\xff"} {
		f.Add([]byte(seed), false)
		f.Add([]byte(seed), true)
	}
	h, key := fuzzHandler(f)
	f.Fuzz(func(t *testing.T, body []byte, identity bool) {
		req := httptest.NewRequest("POST", "/api/v1/orders", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+key)
		if identity {
			req = httptest.NewRequest("POST", "/api/v1/orders/SO-2026-AAAAAAAA/identity-check", bytes.NewReader(body))
		}
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("body %q: status %d: %s", body, rec.Code, rec.Body)
		}
	})
}
