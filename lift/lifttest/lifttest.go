// Package lifttest makes orders that are ready to lift, over a real
// registration service, for tests of the lift flow (server, lift, cmd/selo).
// Only the identity document check is a stand-in: it passes every
// submission, and an officer's approval then validates the identity as in
// production.
package lifttest

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/authority"
	"github.com/selo-qtsp/selo/notify"
	"github.com/selo-qtsp/selo/registration"
)

// Documents passes every identity document: the stand-in at the tests' edge
// for the idcheck catalogue.
type Documents struct{}

// CheckDocument implements registration.DocumentChecker.
func (Documents) CheckDocument(sub registration.IdentitySubmission, _ selo.Holder, _ time.Time) (*registration.DocumentVerdict, error) {
	return &registration.DocumentVerdict{MRZ: map[string]string{"number": sub.DocumentNumber}, Pending: []string{"photo"}}, nil
}

// NewService returns a registration service over store and auth whose
// e-mails go to outbox.
func NewService(t testing.TB, store selo.Store, auth *authority.Authority, keys selo.KeyStore, outbox *notify.Outbox, codeKey []byte) *registration.Service {
	t.Helper()
	svc, err := registration.New(registration.Config{Store: store, Authority: auth, Keys: keys, Mailer: outbox,
		Documents: Documents{}, CodeKey: codeKey})
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

var holders atomic.Int64

// Order is an order ready to lift, with what the holder got by e-mail.
type Order struct {
	Number   string
	LiftCode string
	Email    string
}

// ReadyOrder creates an order for profile and delivery, approves its
// identity check, records its payment, and reads the order number and
// "ready to lift" code from the e-mail as the holder would.
func ReadyOrder(t testing.TB, svc *registration.Service, outbox *notify.Outbox, profile string, delivery selo.Delivery) Order {
	t.Helper()
	ctx := context.Background()
	email := fmt.Sprintf("holder%d-%d@example.pt", time.Now().UnixNano(), holders.Add(1))
	subject := selo.OrderSubject{Country: "PT"}
	if profile == "qualified-seal" {
		subject.Organization, subject.OrganizationIdentifier = "Exemplo Faturas, Lda.", "VATPT-500000000"
	}
	created, err := svc.CreateOrder(ctx, "officer:test", registration.OrderRequest{
		Holder:  selo.Holder{GivenNames: "Ana Maria", Surname: "Silva", Email: email, Mobile: "+351912345678"},
		Profile: profile, Delivery: delivery, Subject: subject})
	if err != nil {
		t.Fatalf("create order: %v", err)
	}
	number := created.Order.Number
	c, err := svc.SubmitIdentityCheck(ctx, number, created.AccessCode, registration.IdentitySubmission{
		DocumentType: "id-card", Country: "PT", DocumentNumber: "12345678", MRZ: "valid"})
	if err != nil {
		t.Fatalf("identity check: %v", err)
	}
	if _, err := svc.DecideIdentityCheck(ctx, "officer:test", c.ID, true, "photo matches the document"); err != nil {
		t.Fatalf("approve identity: %v", err)
	}
	o, err := svc.RecordPayment(ctx, "officer:test", number, registration.Payment{Reference: "PAY-" + number, AmountCents: 4990, Currency: "EUR"})
	if err != nil || o.State != selo.OrderReady {
		t.Fatalf("payment: %+v %v", o, err)
	}
	mail := Latest(t, outbox, email, "ready")
	if !strings.Contains(mail, number) {
		t.Fatalf("the ready e-mail does not name order %s:\n%s", number, mail)
	}
	return Order{Number: number, LiftCode: Find(t, mail, `Code: ([A-Z0-9]+)`), Email: email}
}

// Latest returns the body of the newest e-mail to address whose subject
// holds subject.
func Latest(t testing.TB, outbox *notify.Outbox, address, subject string) string {
	t.Helper()
	ms, err := outbox.List(context.Background(), notify.OutboxFilter{Channel: notify.ChannelEmail, To: address})
	if err != nil {
		t.Fatal(err)
	}
	for i := len(ms) - 1; i >= 0; i-- {
		if strings.Contains(ms[i].Subject, subject) {
			return ms[i].Body
		}
	}
	t.Fatalf("no e-mail %q to %s in the outbox", subject, address)
	return ""
}

// Count returns how many e-mails to address have subject in their subject.
func Count(t testing.TB, outbox *notify.Outbox, address, subject string) int {
	t.Helper()
	ms, err := outbox.List(context.Background(), notify.OutboxFilter{Channel: notify.ChannelEmail, To: address})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, m := range ms {
		if strings.Contains(m.Subject, subject) {
			n++
		}
	}
	return n
}

// EmailCode returns the newest e-mail verification code sent to address.
func EmailCode(t testing.TB, outbox *notify.Outbox, address string) string {
	t.Helper()
	return Find(t, Latest(t, outbox, address, "Verification code"), `is ([0-9]{6})`)
}

// Find returns the first group of re in body.
func Find(t testing.TB, body, re string) string {
	t.Helper()
	m := regexp.MustCompile(re).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no %q in:\n%s", re, body)
	}
	return m[1]
}
