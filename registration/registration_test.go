package registration_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/internal/testenv"
	"github.com/selo-qtsp/selo/lift/lifttest"
	"github.com/selo-qtsp/selo/notify"
	"github.com/selo-qtsp/selo/pki/pkitest"
	"github.com/selo-qtsp/selo/registration"
	"github.com/selo-qtsp/selo/store/storetest"
)

// mailbox is the desk's mailer in these tests: the real local outbox, read
// back as the holder reads the e-mails.
type mailbox struct{ *notify.Outbox }

// sent returns the e-mails sent, oldest first.
func (m mailbox) sent(t *testing.T) []selo.OutboxMessage {
	t.Helper()
	ms, err := m.List(context.Background(), notify.OutboxFilter{Channel: notify.ChannelEmail})
	if err != nil {
		t.Fatal(err)
	}
	return ms
}

// last returns the first match of re in the newest e-mail whose subject matches subject.
func (m mailbox) last(t *testing.T, subject, re string) string {
	t.Helper()
	sent := m.sent(t)
	for i := len(sent) - 1; i >= 0; i-- {
		if regexp.MustCompile(subject).MatchString(sent[i].Subject) {
			if g := regexp.MustCompile(re).FindStringSubmatch(sent[i].Body); g != nil {
				return g[1]
			}
		}
	}
	t.Fatalf("no e-mail %q with %q", subject, re)
	return ""
}

type fixture struct {
	svc    *registration.Service
	env    *testenv.Env
	clock  *storetest.Clock
	mail   mailbox
	secret []byte
}

func newFixture(t *testing.T) *fixture {
	clock := storetest.NewClock(time.Now().UTC())
	env := testenv.NewWithOptions(t, testenv.Options{Clock: clock})
	outbox := testenv.Outbox(t, clock) // the signing desk's texts
	f := &fixture{env: env, clock: clock, mail: mailbox{testenv.Outbox(t, clock)}, secret: []byte("whsec-test")}
	f.svc = env.RegistrationService(t, func(c *registration.Config) {
		c.Mailer, c.WebhookSecret = f.mail, f.secret
		c.Credentials = lifttest.SigningDesk(t, env.Store, env.Authority, env.Keys, outbox)
	})
	return f
}

func (f *fixture) webhook(body string, ts time.Time) string {
	t := strconv.FormatInt(ts.Unix(), 10)
	m := hmac.New(sha256.New, f.secret)
	m.Write([]byte(t + "." + body))
	return "t=" + t + ",v1=" + hex.EncodeToString(m.Sum(nil))
}

func code(t *testing.T, err error, want string) {
	t.Helper()
	if got := selo.ErrorCode(err); got != want {
		t.Fatalf("error %v (code %q), want %q", err, got, want)
	}
}

func TestFullPath(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	created, err := f.svc.CreateOrder(ctx, "officer:o", registration.OrderRequest{
		Holder:  selo.Holder{GivenNames: "Ana Maria", Surname: "Silva", Email: "ana@example.pt", Mobile: "+351912345678"},
		Profile: "qualified-sign", Delivery: selo.DeliveryToken, Subject: selo.OrderSubject{Country: "PT"}})
	if err != nil {
		t.Fatal(err)
	}
	number := created.Order.Number
	if got := f.mail.last(t, number, `access code ([A-Z0-9]+)`); got != created.AccessCode {
		t.Fatalf("e-mailed access code %q, returned %q", got, created.AccessCode)
	}
	// Lifting before ready is refused.
	_, err = f.svc.StartLift(ctx, number, "WRONG")
	code(t, err, selo.EUNAUTHORIZED)

	// A machine refusal (one check digit wrong), then a pass, then the officer approves.
	sub := idCard(created.Order.Holder, "PT", "123456789ZZ4", f.clock.Now().AddDate(4, 0, 0))
	good := sub.MRZ
	sub.MRZ = wrongCheckDigit(good)
	c, err := f.svc.SubmitIdentityCheck(ctx, number, created.AccessCode, sub)
	if err != nil || c.Status != selo.IdentityRefused || !strings.Contains(c.MachineReason, "check digit") {
		t.Fatalf("refused check %+v, %v", c, err)
	}
	sub.MRZ = good
	c, err = f.svc.SubmitIdentityCheck(ctx, number, created.AccessCode, sub)
	if err != nil || c.Status != selo.IdentityPending {
		t.Fatalf("passed check %+v, %v", c, err)
	}
	if !slices.Equal(c.Pending, []string{"photo", "liveness video"}) || !strings.Contains(c.MRZResult, `"document_number":"123456789ZZ4"`) {
		t.Fatalf("pending %v, MRZ result %s", c.Pending, c.MRZResult)
	}
	queue, err := f.svc.ListPendingIdentityChecks(ctx, "", 10)
	if err != nil || len(queue) != 1 || queue[0].ID != c.ID {
		t.Fatalf("queue %v %v", queue, err)
	}
	o, err := f.svc.DecideIdentityCheck(ctx, "officer:b", c.ID, true, "photo matches")
	if err != nil || o.State != selo.OrderIdentityValidated {
		t.Fatalf("approved: %v %v", o, err)
	}
	_, err = f.svc.DecideIdentityCheck(ctx, "officer:c", c.ID, false, "second opinion")
	code(t, err, selo.ECONFLICT)

	// Payment by webhook: bad signature, stale, then good, then replay.
	body := `{"id":"evt_1","type":"payment.succeeded","order_number":"` + number + `","reference":"PAY-1","amount_cents":4990,"currency":"EUR"}`
	_, err = f.svc.HandlePaymentWebhook(ctx, []byte(body), f.webhook(body+" ", f.clock.Now()))
	code(t, err, selo.EUNAUTHORIZED)
	_, err = f.svc.HandlePaymentWebhook(ctx, []byte(body), f.webhook(body, f.clock.Now().Add(-6*time.Minute)))
	code(t, err, selo.EUNAUTHORIZED)
	_, err = f.svc.HandlePaymentWebhook(ctx, []byte(`{"id":"x","extra":1}`), f.webhook(`{"id":"x","extra":1}`, f.clock.Now()))
	code(t, err, selo.EINVALID)
	o, err = f.svc.HandlePaymentWebhook(ctx, []byte(body), f.webhook(body, f.clock.Now()))
	if err != nil || o.State != selo.OrderReady {
		t.Fatalf("paid: %+v %v", o, err)
	}
	_, err = f.svc.HandlePaymentWebhook(ctx, []byte(body), f.webhook(body, f.clock.Now()))
	code(t, err, selo.ECONFLICT)

	lift := f.mail.last(t, "ready", `Code: ([A-Z0-9]+)`)
	st, err := f.svc.StartLift(ctx, number, lift)
	if err != nil || st.Step != registration.StepVerifyEmail {
		t.Fatalf("start: %+v %v", st, err)
	}
	// Steps out of order are refused.
	_, err = f.svc.IssueCertificate(ctx, number, lift)
	code(t, err, selo.ECONFLICT)
	_, err = f.svc.VerifyEmail(ctx, number, lift, "000000x")
	code(t, err, selo.EUNAUTHORIZED)
	emailCode := f.mail.last(t, "Verification", `is ([0-9]{6})`)
	st, err = f.svc.VerifyEmail(ctx, number, lift, emailCode)
	if err != nil || st.Step != registration.StepSubmitKey {
		t.Fatalf("verify: %+v %v", st, err)
	}
	// Resume: StartLift again says where it stopped.
	if st, err = f.svc.StartLift(ctx, number, lift); err != nil || st.Step != registration.StepSubmitKey {
		t.Fatalf("resume: %+v %v", st, err)
	}
	csr, _ := testenv.CSR(t, "qualified-sign", "ecdsa-p256")
	if st, err = f.svc.SubmitKey(ctx, number, lift, csr); err != nil || st.Step != registration.StepIssue {
		t.Fatalf("key: %+v %v", st, err)
	}
	if st, err = f.svc.SubmitKey(ctx, number, lift, csr); err != nil || st.Step != registration.StepIssue {
		t.Fatalf("same key again: %+v %v", st, err)
	}
	other := pkitest.NewKey(t, "ecdsa-p256")
	otherCSR := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: pkitest.NewCSR(t, other, pkitest.Request("qualified-sign", other.Public()))})
	_, err = f.svc.SubmitKey(ctx, number, lift, otherCSR)
	code(t, err, selo.ECONFLICT)

	cert, err := f.svc.IssueCertificate(ctx, number, lift)
	if err != nil {
		t.Fatal(err)
	}
	again, err := f.svc.IssueCertificate(ctx, number, lift)
	if err != nil || again.Serial != cert.Serial {
		t.Fatalf("second issue: %v %v", again, err)
	}
	got, chain, err := f.svc.FetchCertificate(ctx, number, lift)
	if err != nil || got.Serial != cert.Serial || len(chain) == 0 {
		t.Fatalf("fetch: %v %d %v", got, len(chain), err)
	}
	if st, err = f.svc.ConfirmDelivery(ctx, number, lift); err != nil || st.Step != registration.StepDone {
		t.Fatalf("deliver: %+v %v", st, err)
	}
	if st, err = f.svc.ConfirmDelivery(ctx, number, lift); err != nil || st.State != selo.OrderDelivered {
		t.Fatalf("deliver again: %+v %v", st, err)
	}
	certs, err := f.env.Store.ListCertificates(ctx, selo.CertificateFilter{})
	if err != nil || len(certs) != 1 {
		t.Fatalf("%d certificates for one order", len(certs))
	}
	hist, err := f.svc.OrderHistory(ctx, number)
	if err != nil {
		t.Fatal(err)
	}
	var path []selo.OrderState
	for _, e := range hist {
		path = append(path, e.To)
	}
	want := fmt.Sprint([]selo.OrderState{selo.OrderCreated, selo.OrderIdentityValidated, selo.OrderPaid, selo.OrderReady,
		selo.OrderEmailVerified, selo.OrderKeyReady, selo.OrderIssued, selo.OrderDelivered})
	if fmt.Sprint(path) != want {
		t.Fatalf("history %v, want %s", path, want)
	}
	// A cancelled order cannot be cancelled once delivered.
	_, err = f.svc.CancelOrder(ctx, "officer:o", number, "late", false)
	code(t, err, selo.ECONFLICT)
}

func TestWrongLiftCodesKillTheCode(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	created, err := f.svc.CreateOrder(ctx, "officer:o", registration.OrderRequest{
		Holder:  selo.Holder{GivenNames: "Rui", Surname: "Costa", Email: "rui@example.pt", Mobile: "+351912345670"},
		Profile: "qualified-seal", Delivery: selo.DeliveryCloud, Approval: selo.ApprovalAuthorizer,
		Subject: selo.OrderSubject{Country: "PT", Organization: "Exemplo Faturas, Lda.", OrganizationIdentifier: "VATPT-500000000"}})
	if err != nil {
		t.Fatal(err)
	}
	number := created.Order.Number
	// Payment first, identity second: paid only once both hold.
	if _, err := f.svc.RecordPayment(ctx, "officer:o", number, registration.Payment{Reference: "CASH-1", AmountCents: 100, Currency: "eur"}); err != nil {
		t.Fatal(err)
	}
	o, _ := f.svc.FindOrder(ctx, number)
	if o.State != selo.OrderCreated || !o.Paid() {
		t.Fatalf("payment before identity: %s paid=%v", o.State, o.Paid())
	}
	c, err := f.svc.SubmitIdentityCheck(ctx, number, created.AccessCode, passport(created.Order.Holder, "PT", "CB1234567", f.clock.Now().AddDate(2, 0, 0)))
	if err != nil {
		t.Fatal(err)
	}
	if o, err = f.svc.DecideIdentityCheck(ctx, "officer:b", c.ID, true, "ok"); err != nil || o.State != selo.OrderReady {
		t.Fatalf("approve after payment: %+v %v", o, err)
	}
	lift := f.mail.last(t, "ready", `Code: ([A-Z0-9]+)`)
	// The fifth wrong code locks it; the answer stays a wrong code's.
	for i := 0; i < 5; i++ {
		_, err := f.svc.StartLift(ctx, number, "AAAAAAAAAAAA")
		code(t, err, selo.EUNAUTHORIZED)
	}
	_, err = f.svc.StartLift(ctx, number, lift)
	code(t, err, selo.EUNAUTHORIZED)
}

func TestCreateOrderValidation(t *testing.T) {
	f := newFixture(t)
	good := registration.OrderRequest{Holder: selo.Holder{GivenNames: "A", Surname: "B", Email: "a@example.pt", Mobile: "+351912345678"},
		Profile: "qualified-sign", Delivery: selo.DeliveryCloud, Approval: selo.ApprovalSMS, Subject: selo.OrderSubject{Country: "PT"}}
	for name, change := range map[string]func(r *registration.OrderRequest){
		// Issue 12 item 5: a cloud order chooses its credential's approval.
		"cloud without approval":    func(r *registration.OrderRequest) { r.Approval = "" },
		"authorizer on a signature": func(r *registration.OrderRequest) { r.Approval = selo.ApprovalAuthorizer },
		"unknown approval":          func(r *registration.OrderRequest) { r.Approval = "pigeon" },
		"approval without cloud":    func(r *registration.OrderRequest) { r.Delivery = selo.DeliverySoftware },
		"bad e-mail":                func(r *registration.OrderRequest) { r.Holder.Email = "not an address" },
		"bad mobile":                func(r *registration.OrderRequest) { r.Holder.Mobile = "912345678" },
		"unknown profile":           func(r *registration.OrderRequest) { r.Profile = "nope" },
		"tls via cloud": func(r *registration.OrderRequest) {
			r.Profile, r.Subject.DNSNames = "tls-server", []string{"www.example.pt"}
		},
		"seal without org": func(r *registration.OrderRequest) { r.Profile = "qualified-seal" },
		"bad delivery":     func(r *registration.OrderRequest) { r.Delivery = "fax" },
	} {
		r := good
		change(&r)
		_, err := f.svc.CreateOrder(context.Background(), "officer:o", r)
		if selo.ErrorCode(err) != selo.EINVALID {
			t.Errorf("%s: %v, want EINVALID", name, err)
		}
	}
	if _, err := f.svc.CreateOrder(context.Background(), "officer:o", good); err != nil {
		t.Fatalf("good order: %v", err)
	}
}
