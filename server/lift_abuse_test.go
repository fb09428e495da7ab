package server_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/lift/lifttest"
	"github.com/selo-qtsp/selo/registration"
	"github.com/selo-qtsp/selo/server"
)

// TestLiftLockoutSameAnswer: wrong lift codes for a real order and for an
// unknown number get the same answer, also once the real order's code is
// locked; the holder gets a new lift code with the renewal code of the
// "ready" e-mail (the answer is the same whether or not number and renewal
// code are right) or from an officer; codes e-mailed per order are limited;
// wrong guesses are throttled per address (issue 13 items 12 and 3).
func TestLiftLockoutSameAnswer(t *testing.T) {
	onStores(t, func(t *testing.T, open openStore) {
		st := newAbuseStack(t, open)
		o := lifttest.ReadyOrder(t, st.reg, st.outbox, "qualified-sign", selo.DeliveryToken)
		const unknown = "SO-2026-NOSUCHXX"
		status := func(number, code string) answer {
			return send(t, st.srv, "GET", "/api/v1/lift/"+number+"/status", nil, server.LiftCodeHeader, code)
		}
		var real, none []answer
		for i := 0; i < registration.DefaultMaxCodeFailures; i++ {
			real = append(real, status(o.Number, "AAAAAAAAAAAA"))
			none = append(none, status(unknown, "AAAAAAAAAAAA"))
		}
		// The real order's code is locked now; even the right code is refused.
		real = append(real, status(o.Number, o.LiftCode))
		none = append(none, status(unknown, o.LiftCode))
		for i := range real {
			if real[i].status != 401 || none[i].status != real[i].status || none[i].message() != real[i].message() || none[i].errorCode() != real[i].errorCode() {
				t.Fatalf("try %d: real order %d %s; unknown number %d %s: must be the same 401", i+1, real[i].status, real[i].body, none[i].status, none[i].body)
			}
		}
		if n := st.audited(t, "code.wrong", selo.OutcomeFailure, "order-number/unknown"); n != len(none) {
			t.Fatalf("%d wrong tries of the unknown number audited, want %d", n, len(none))
		}

		// The holder asks for a new code with the renewal code of the ready e-mail.
		renewal := lifttest.Find(t, lifttest.Latest(t, st.outbox, o.Email, "ready"), `renewal code: ([A-Z0-9]+)`)
		newCode := func(number, renewal string) answer {
			return send(t, st.srv, "POST", "/api/v1/lift/"+number+"/new-code", server.LiftNewCodeRequest{RenewalCode: renewal})
		}
		wrong, stranger := newCode(o.Number, "BBBBBBBBBBBBBBBBBBBB"), newCode(unknown, renewal)
		st.clock.Add(30 * time.Second)
		right := newCode(o.Number, renewal)
		for _, a := range []answer{wrong, stranger, right} {
			if a.status != http.StatusAccepted || string(a.body) != string(right.body) {
				t.Fatalf("new-code: %d %s, want 202 %s for every try", a.status, a.body, right.body)
			}
		}
		if n := lifttest.Count(t, st.outbox, o.Email, "New code"); n != 1 {
			t.Fatalf("%d new-code e-mails, want 1 (only for the right renewal code)", n)
		}
		// A second request at once is refused: one code every 30 s per order.
		wantLimited(t, newCode(o.Number, renewal), "too_many_requests", 30*time.Second)
		lift := lifttest.Find(t, lifttest.Latest(t, st.outbox, o.Email, "New code"), `Code: ([A-Z0-9]+)`)
		if a := status(o.Number, lift); a.status != 200 {
			t.Fatalf("status with the new code: %d %s", a.status, a.body)
		}

		// An officer can have one sent too; the code before stops working.
		st.clock.Add(30 * time.Second)
		if a := send(t, st.srv, "POST", "/api/v1/orders/"+o.Number+"/lift-code", nil, "Authorization", "Bearer "+st.env.APIKey); a.status != 200 {
			t.Fatalf("officer's new code: %d %s", a.status, a.body)
		}
		if n := st.audited(t, "order.lift_code.renew", selo.OutcomeSuccess); n != 2 {
			t.Fatalf("%d lift code renewals audited, want 2", n)
		}
		if a := status(o.Number, lift); a.status != 401 {
			t.Fatalf("the replaced code still works: %d %s", a.status, a.body)
		}
		lift = lifttest.Find(t, lifttest.Latest(t, st.outbox, o.Email, "New code"), `Code: ([A-Z0-9]+)`)

		// E-mail verification codes: one every 30 s per order.
		st.clock.Add(30 * time.Second)
		start := func() answer {
			return send(t, st.srv, "POST", "/api/v1/lift/"+o.Number+"/start", nil, server.LiftCodeHeader, lift)
		}
		if a := start(); a.status != 200 {
			t.Fatalf("start: %d %s", a.status, a.body)
		}
		wantLimited(t, start(), "too_many_requests", 30*time.Second)
		if n := lifttest.Count(t, st.outbox, o.Email, "Verification code"); n != 1 {
			t.Fatalf("%d verification e-mails, want 1", n)
		}
		if n := st.audited(t, "code.send", selo.OutcomeFailure, "too_many_requests"); n != 2 {
			t.Fatalf("%d refused sends audited, want 2", n)
		}

		// Guessing from one address is throttled, whatever the number.
		var last answer
		for i := 0; i < 21; i++ {
			if last = status(unknown, "CCCCCCCCCCCC"); last.status == http.StatusTooManyRequests {
				break
			}
		}
		if last.status != http.StatusTooManyRequests || !strings.Contains(last.message(), "from your address") || last.header.Get("Retry-After") == "" {
			t.Fatalf("21 more wrong guesses from one address: %d %s, want 429", last.status, last.body)
		}
	})
}

// TestLiftNewCodeStrangerCannotBlock: someone who knows only an order number
// and asks for new lift codes with wrong renewal codes does not use up the
// order's code e-mails: the holder still gets the verification code of the
// lift and a new lift code with the right renewal code (issue 13 items 12
// and 3: no one locks a holder out by knowing the number).
func TestLiftNewCodeStrangerCannotBlock(t *testing.T) {
	onStores(t, func(t *testing.T, open openStore) {
		st := newAbuseStack(t, open)
		o := lifttest.ReadyOrder(t, st.reg, st.outbox, "qualified-sign", selo.DeliveryToken)
		renewal := lifttest.Find(t, lifttest.Latest(t, st.outbox, o.Email, "ready"), `renewal code: ([A-Z0-9]+)`)
		newCode := func(renewal string) answer {
			return send(t, st.srv, "POST", "/api/v1/lift/"+o.Number+"/new-code", server.LiftNewCodeRequest{RenewalCode: renewal})
		}
		// The stranger's tries, spread over the hour as the limits allow.
		for i := 0; i < 6; i++ {
			if a := newCode("BBBBBBBBBBBBBBBBBBBB"); a.status != http.StatusAccepted {
				t.Fatalf("stranger's try %d: %d %s", i+1, a.status, a.body)
			}
			st.clock.Add(5 * time.Second)
		}
		if a := send(t, st.srv, "POST", "/api/v1/lift/"+o.Number+"/start", nil, server.LiftCodeHeader, o.LiftCode); a.status != http.StatusOK {
			t.Fatalf("the holder's start after a stranger's tries: %d %s", a.status, a.body)
		}
		if n := lifttest.Count(t, st.outbox, o.Email, "Verification code"); n != 1 {
			t.Fatalf("%d verification e-mails, want 1", n)
		}
		st.clock.Add(30 * time.Second)
		if a := newCode(renewal); a.status != http.StatusAccepted {
			t.Fatalf("the holder's new-code: %d %s", a.status, a.body)
		}
		if n := lifttest.Count(t, st.outbox, o.Email, "New code"); n != 1 {
			t.Fatalf("%d new-code e-mails, want 1", n)
		}
	})
}
