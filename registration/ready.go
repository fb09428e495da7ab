package registration

import (
	"context"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/notify"
	"github.com/selo-qtsp/selo/worker"
)

// sendMail sends m and logs a failure without its body, which may hold a code.
func (s *Service) sendMail(ctx context.Context, m selo.Email) error {
	if err := s.cfg.Mailer.SendEmail(ctx, m); err != nil {
		s.log.Error("send e-mail", "to", m.To, "subject", m.Subject, "err", err)
		return err
	}
	return nil
}

// sendHolderMail writes message name to the order's holder from the
// templates, in the holder's language(s), and sends it.
func (s *Service) sendHolderMail(ctx context.Context, o *selo.Order, name string, data map[string]any) error {
	m, err := s.cfg.Templates.Email(o.Holder.Email, name, notify.HolderLanguages(o.Holder.Language, o.Holder.Mobile), data)
	if err != nil {
		s.log.Error("write e-mail", "message", name, "order", o.Number, "err", err)
		return err
	}
	return s.sendMail(ctx, m)
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
	mailErr := s.sendHolderMail(ctx, o, notify.MessageReady, map[string]any{"Number": o.Number, "Code": code,
		"BaseURL": s.cfg.PublicURL, "Delivery": string(o.Delivery), "Profile": o.Profile,
		"Renewal": renewal, "Email": o.Holder.Email, "Approval": string(o.Approval)})
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

// ReadyNoticeTask is RetryReadyNotices as a task of the worker role, which
// runs it on the one elected replica (worker.Run); how many e-mails it sent
// goes to the log.
func (s *Service) ReadyNoticeTask() worker.Task {
	return worker.Task{Name: "ready notices", Run: func(ctx context.Context) error {
		n, err := s.RetryReadyNotices(ctx)
		if n > 0 {
			s.log.Info("resent ready e-mails", "orders", n)
		}
		return err
	}}
}
