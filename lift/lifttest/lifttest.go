// Package lifttest makes orders that are ready to lift, over a real
// registration service, for tests of the lift flow (server, lift, cmd/selo).
// Identity documents go through the production checker (the idcheck
// catalogue shipped with Selo) with real MRZs built by idcheck/mrztest; an
// officer's approval then validates the identity as in production.
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
	"github.com/selo-qtsp/selo/idcheck/mrztest"
	"github.com/selo-qtsp/selo/internal/testenv"
	"github.com/selo-qtsp/selo/notify"
	"github.com/selo-qtsp/selo/registration"
	"github.com/selo-qtsp/selo/signing"
)

// CardNumber is the document number of the Cartão de Cidadão that IDCard
// writes: the civil identification number, its check digit, the version
// letters and the card's own check digit, as printed.
const CardNumber = "123456789ZZ4"

// Expiry is a document expiry date five years after now (the system clock,
// which the registration services of these tests use), at midnight UTC as
// an MRZ and a typed date give it.
func Expiry() time.Time {
	y, m, d := time.Now().UTC().AddDate(5, 0, 0).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// IDCard returns the submission of a valid Portuguese ID card (TD1,
// document code "I<") of holder h: the MRZ carries the holder's name and
// birth date (ICAO's specimen date when h has none), number and expiry, with
// correct check digits, and the typed fields agree with it. Names must be
// written without diacritics, as an issuer transliterates them.
func IDCard(h selo.Holder, number string, expiry time.Time) registration.IdentitySubmission {
	mrz := mrztest.TD1(mrztest.Document{Code: "I<", State: "PRT", Number: number, Surname: h.Surname, GivenNames: h.GivenNames,
		Birth: h.BirthDate, Expiry: expiry})
	return registration.IdentitySubmission{DocumentType: "id-card", Country: "PT", DocumentNumber: number, ExpiryDate: expiry, MRZ: mrz}
}

// WrongCheckDigit returns mrz (TD1 or TD3) with the check digit of the
// birth date changed: the production checker refuses it with "check digit
// of the birth date".
func WrongCheckDigit(mrz string) string {
	lines := strings.Split(mrz, "\n")
	pos := 19 // TD3, line 2, position 20
	if len(lines) == 3 {
		pos = 6 // TD1, line 2, position 7
	}
	b := []byte(lines[1])
	b[pos] = '0' + (b[pos]-'0'+1)%10
	lines[1] = string(b)
	return strings.Join(lines, "\n")
}

// NewService returns a registration service over store and auth whose
// e-mails go to outbox, with the production document checker.
func NewService(t testing.TB, store selo.Store, auth *authority.Authority, keys selo.KeyStore, outbox *notify.Outbox, codeKey []byte) *registration.Service {
	t.Helper()
	return testenv.RegistrationService(t, store, auth, keys, func(c *registration.Config) {
		c.Mailer, c.CodeKey, c.PublicURL = outbox, codeKey, "https://ra.example.eu"
		c.Credentials = SigningDesk(t, store, auth, keys, outbox)
	})
}

// SigningDesk returns testenv's remote-signing service over store (texts
// into outbox, the production code limits) for the credentials cloud orders
// make.
func SigningDesk(t testing.TB, store selo.Store, auth *authority.Authority, keys selo.KeyStore, outbox *notify.Outbox) *signing.Service {
	t.Helper()
	return testenv.SigningService(t, store, auth, keys, func(c *signing.Config) { c.SMS, c.CodeLimit = outbox, nil })
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
	req := registration.OrderRequest{
		Holder:  selo.Holder{GivenNames: "Ana Maria", Surname: "Silva", Email: email, Mobile: "+351912345678"},
		Profile: profile, Delivery: delivery, Subject: subject}
	if delivery == selo.DeliveryCloud {
		req.Approval = selo.ApprovalSMS
	}
	created, err := svc.CreateOrder(ctx, "officer:test", req)
	if err != nil {
		t.Fatalf("create order: %v", err)
	}
	number := created.Order.Number
	c, err := svc.SubmitIdentityCheck(ctx, number, created.AccessCode, IDCard(created.Order.Holder, CardNumber, Expiry()))
	if err != nil || c.Status != selo.IdentityPending {
		t.Fatalf("identity check: %+v %v", c, err)
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
