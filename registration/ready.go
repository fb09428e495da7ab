package registration

import (
	"context"
	"fmt"
	"strings"

	"github.com/selo-qtsp/selo"
)

// sendMail sends m and logs a failure without its body, which may hold a code.
func (s *Service) sendMail(ctx context.Context, m selo.Email) error {
	if err := s.cfg.Mailer.SendEmail(ctx, m); err != nil {
		s.log.Error("send e-mail", "to", m.To, "subject", m.Subject, "err", err)
		return err
	}
	return nil
}

// notifyReady moves a paid order to ready with a fresh lift code and e-mails
// the holder the order number and the code. The transition is the gate: of
// two callers only one wins it and sends the e-mail. When sending fails the
// order goes back to paid, so that RetryReadyNotices (or the next event)
// sends it again; the order is returned either way.
func (s *Service) notifyReady(ctx context.Context, actor string, o *selo.Order) (*selo.Order, error) {
	if o.State != selo.OrderPaid {
		return o, nil
	}
	code, stored, err := s.newCode(orderObject(o), purposeLift, codeAlphabet, 12, s.cfg.LiftCodeValidity)
	if err != nil {
		return nil, err
	}
	// The renewal code lets the holder ask for a new lift code when the
	// first is locked by someone else's wrong tries (RequestLiftCode).
	renewal, renewalStored, err := s.newCode(orderObject(o), purposeRenewal, codeAlphabet, renewalCodeLength, s.cfg.LiftCodeValidity)
	if err != nil {
		return nil, err
	}
	u := s.transition(o, selo.OrderReady, actor, "validated and paid: ready to lift", map[string]any{"lift_code_expires_at": stored.ExpiresAt})
	u.PutCodes = []*selo.OneTimeCode{stored, renewalStored}
	if err := s.store.UpdateOrder(ctx, u); err != nil {
		if selo.ErrorCode(err) == selo.ECONFLICT {
			// Another caller won the gate and sends the e-mail.
			return s.store.FindOrder(ctx, o.ID)
		}
		return nil, err
	}
	ready := selo.Email{To: o.Holder.Email, Subject: "Your certificate is ready: order " + o.Number,
		Body: fmt.Sprintf("Your certificate is ready to lift.\n\nOrder number: %s\nCode: %s\n\nEnter both in the issuance application and click Validate.\n", o.Number, code) + renewalText(o.Number, renewal)}
	ready.Body += s.cloudReadyNote(o)
	mailErr := s.sendMail(ctx, ready)
	if mailErr != nil {
		back := s.transition(o, selo.OrderPaid, "system", "the ready e-mail could not be sent; it will be sent again", nil)
		back.Audit.Outcome = selo.OutcomeFailure
		if err := s.store.UpdateOrder(ctx, back); err != nil {
			return nil, err
		}
		return o, nil
	}
	o.ReadyNotifiedAt = s.clock.Now()
	if err := s.store.UpdateOrder(ctx, &selo.OrderUpdate{Order: o,
		Audit: s.audit(actor, "order.ready.notified", orderObject(o), selo.OutcomeSuccess, map[string]any{"to": o.Holder.Email})}); err != nil {
		// The e-mail went out; only the note of it is missing.
		s.log.Error("record ready notice", "order", o.Number, "err", err)
		return s.store.FindOrder(ctx, o.ID)
	}
	return o, nil
}

// renewalText is the part of the "ready" e-mail that tells the holder how to
// get a new lift code without a new order.
func renewalText(number, renewal string) string {
	return fmt.Sprintf("\nIf the code stops working (five wrong tries block it), ask for a new one with this renewal code: %s\n"+
		"  selo lift new-code %s --renewal-code %s\n"+
		"or POST /api/v1/lift/%s/new-code with {\"renewal_code\": \"%s\"}, or ask the registration desk.\n", renewal, number, renewal, number, renewal)
}

// RetryReadyNotices sends the "ready to lift" e-mail of every order left in
// paid (its e-mail failed, or the process stopped before sending it). A
// worker calls it periodically; it returns how many were sent.
func (s *Service) RetryReadyNotices(ctx context.Context) (int, error) {
	sent, after := 0, ""
	for {
		page, err := s.store.ListOrders(ctx, selo.OrderFilter{State: selo.OrderPaid, AfterID: after, Limit: 100})
		if err != nil || len(page) == 0 {
			return sent, err
		}
		for _, o := range page {
			after = o.ID
			got, err := s.notifyReady(ctx, "system", o)
			if err != nil {
				return sent, err
			}
			if got.State == selo.OrderReady {
				sent++
			}
		}
	}
}

// cloudReadyNote tells the holder of a cloud order what lifting does and how
// signing follows; "" for other deliveries.
func (s *Service) cloudReadyNote(o *selo.Order) string {
	if o.Delivery != selo.DeliveryCloud {
		return ""
	}
	url := strings.TrimRight(s.cfg.PublicURL, "/")
	return fmt.Sprintf("\nYour key will be made in Selo's key store, where it stays: lift it with\n"+
		"   selo lift --server %s --order %s\n"+
		"It makes the key and the certificate, puts the signing credential on your account %s (approved by %s) "+
		"and, the first time, asks for the password of that account. Then sign with\n"+
		"   selo csc login --server %s --email %s\n", url, o.Number, o.Holder.Email, o.Approval, url, o.Holder.Email)
}
