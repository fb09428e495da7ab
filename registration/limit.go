package registration

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/selo-qtsp/selo"
)

// Rate keys of the registration desk.
func orderCodeKey(number string) string  { return "code:order:" + number }
func guessAddressKey(addr string) string { return "guess:address:" + addr }

// unknownOrder names a number that is no order in the audit log.
const unknownOrder = "order-number/unknown"

// renewalCodeLength is the length of the renewal code: about 99 bits, too
// many to guess, so wrong tries are counted (and throttled) but never lock it.
const renewalCodeLength = 20

// guess is a try takeGuess counted: its rate key ("" when none) and time.
type guess struct {
	key string
	at  time.Time
}

// takeGuess counts one try of an order number and code from the client's
// address (selo.ClientAddress) and returns it, to give back when the try
// succeeds. Too many wrong tries from
// one address are ETOOMANYREQUESTS, audited, for that address alone.
func (s *Service) takeGuess(ctx context.Context) (guess, error) {
	addr := selo.ClientAddress(ctx)
	windows := s.cfg.GuessLimit.AddressWindows()
	if addr == "" || len(windows) == 0 {
		return guess{}, nil
	}
	now := s.clock.Now()
	key := guessAddressKey(addr)
	retryAt, ok, err := s.store.TakeRate(ctx, key, now, windows)
	if err != nil {
		return guess{}, err
	}
	if !ok {
		err := selo.RateLimited(retryAt.Sub(now), "too many wrong order numbers or codes from your address")
		s.auditFailure(ctx, "anonymous", "code.throttled", "address/"+addr, err)
		return guess{}, err
	}
	return guess{key: key, at: now}, nil
}

// giveBack returns the try takeGuess counted: it was right.
func (s *Service) giveBack(ctx context.Context, g guess) {
	if g.key == "" {
		return
	}
	if err := s.store.ReturnRate(ctx, g.key, g.at); err != nil {
		s.log.Error("return rate event", "err", err)
	}
}

// orderByCode finds the order by number and checks its code of purpose
// (the lift code, the identity access code). A number that is no order gets
// the answer a wrong code gets, after the same work: a counted try in the
// store, the code's HMAC and an audit entry, so neither the answer nor its
// time says whether the order exists. A code locked by too many wrong tries
// also answers as a wrong code does (checkCode).
func (s *Service) orderByCode(ctx context.Context, number, purpose, code string) (*selo.Order, error) {
	number = strings.TrimSpace(number)
	key, err := s.takeGuess(ctx)
	if err != nil {
		return nil, err
	}
	o, err := s.store.FindOrderByNumber(ctx, number)
	if selo.ErrorCode(err) == selo.ENOTFOUND {
		if _, err := s.store.TryOneTimeCode(ctx, unknownOrder, purpose, s.cfg.MaxCodeFailures); err != nil && selo.ErrorCode(err) != selo.ENOTFOUND {
			return nil, err
		}
		_ = s.codeHash(unknownOrder, purpose, code)
		if err := s.store.AppendAudit(ctx, s.audit("holder:"+number, "code.wrong", unknownOrder, selo.OutcomeFailure,
			map[string]any{"purpose": purpose})); err != nil {
			s.log.Error("append audit entry", "action", "code.wrong", "err", err)
		}
		return nil, errWrongCode
	} else if err != nil {
		return nil, err
	}
	if err := s.checkCode(ctx, "holder:"+o.Number, orderObject(o), purpose, code); err != nil {
		return nil, err
	}
	s.giveBack(ctx, key)
	return o, nil
}

// limitSend counts one code e-mailed for the order against its windows;
// a refusal sends nothing and is ETOOMANYREQUESTS, audited.
func (s *Service) limitSend(ctx context.Context, actor, number, object, purpose string) error {
	windows := s.cfg.CodeLimit.SubjectWindows()
	if len(windows) == 0 {
		return nil
	}
	now := s.clock.Now()
	retryAt, ok, err := s.store.TakeRate(ctx, orderCodeKey(number), now, windows)
	if err != nil {
		return err
	}
	if ok {
		return nil
	}
	err = selo.RateLimited(retryAt.Sub(now), "too many codes were sent for this order")
	if aerr := s.store.AppendAudit(ctx, s.audit(actor, "code.send", object, selo.OutcomeFailure,
		map[string]any{"purpose": purpose, "code": selo.ErrorCode(err), "reason": selo.ErrorMessage(err)})); aerr != nil {
		s.log.Error("append audit entry", "action", "code.send", "err", aerr)
	}
	return err
}

// RenewLiftCode replaces the lift code of an order that is ready to lift and
// e-mails the holder the new one: an officer's answer to a holder whose code
// was locked by someone else's wrong tries. The order stays where it is.
func (s *Service) RenewLiftCode(ctx context.Context, actor, number string) (*selo.Order, error) {
	o, err := s.store.FindOrderByNumber(ctx, strings.TrimSpace(number))
	if err != nil {
		return nil, err
	}
	if err := s.limitSend(ctx, actor, o.Number, orderObject(o), purposeLift); err != nil {
		return nil, err
	}
	if err := s.sendLiftCode(ctx, actor, o); err != nil {
		s.auditFailure(ctx, actor, "order.lift_code.renew", orderObject(o), err)
		return nil, err
	}
	return o, nil
}

// RequestLiftCode e-mails the holder a new lift code when number and
// renewalCode (from the "ready" e-mail) are right. It answers the same
// (nil) when they are wrong, so that it tells nobody whether an order
// exists; wrong tries are throttled by the client address only. Only a
// right renewal code counts against the order's code e-mails (limitSend,
// ETOOMANYREQUESTS past them), so that whoever knows just the number
// cannot use them up and keep the holder from lifting.
func (s *Service) RequestLiftCode(ctx context.Context, number, renewalCode string) error {
	number = strings.TrimSpace(number)
	actor := "holder:" + number
	key, err := s.takeGuess(ctx)
	if err != nil {
		return err
	}
	o, err := s.store.FindOrderByNumber(ctx, number)
	if selo.ErrorCode(err) == selo.ENOTFOUND {
		if _, err := s.store.TryOneTimeCode(ctx, unknownOrder, purposeRenewal, math.MaxInt32); err != nil && selo.ErrorCode(err) != selo.ENOTFOUND {
			return err
		}
		_ = s.codeHash(unknownOrder, purposeRenewal, renewalCode)
		s.auditFailure(ctx, actor, "order.lift_code.request", unknownOrder, errWrongCode)
		return nil
	} else if err != nil {
		return err
	}
	if err := s.checkRenewalCode(ctx, o, renewalCode); err != nil {
		s.auditFailure(ctx, actor, "order.lift_code.request", orderObject(o), err)
		return nil
	}
	s.giveBack(ctx, key)
	if err := s.limitSend(ctx, actor, o.Number, orderObject(o), purposeLift); err != nil {
		return err
	}
	if err := s.sendLiftCode(ctx, actor, o); err != nil {
		s.auditFailure(ctx, actor, "order.lift_code.request", orderObject(o), err)
		if selo.ErrorCode(err) == selo.EINTERNAL {
			return err
		}
	}
	return nil
}

// checkRenewalCode compares the renewal code in constant time; wrong tries
// are counted (for the audit log) but never lock it.
func (s *Service) checkRenewalCode(ctx context.Context, o *selo.Order, code string) error {
	stored, err := s.store.TryOneTimeCode(ctx, orderObject(o), purposeRenewal, math.MaxInt32)
	if selo.ErrorCode(err) == selo.ENOTFOUND {
		return errWrongCode
	} else if err != nil {
		return err
	}
	if !s.clock.Now().Before(stored.ExpiresAt) || !hmacEqual(stored.Hash, s.codeHash(orderObject(o), purposeRenewal, code)) {
		return errWrongCode
	}
	return s.store.ReleaseOneTimeCodeTry(ctx, orderObject(o), purposeRenewal)
}

// sendLiftCode stores a fresh lift code for an order between ready and
// issued and e-mails it to the holder.
func (s *Service) sendLiftCode(ctx context.Context, actor string, o *selo.Order) error {
	if !o.State.Reached(selo.OrderReady) || o.State.Terminal() || o.State == selo.OrderDelivered {
		return selo.Errorf(selo.ECONFLICT, "order %s is %s: it has no lift code to renew", o.Number, o.State)
	}
	code, stored, err := s.newCode(orderObject(o), purposeLift, codeAlphabet, 12, s.cfg.LiftCodeValidity)
	if err != nil {
		return err
	}
	if err := s.store.PutOneTimeCode(ctx, stored, s.audit(actor, "order.lift_code.renew", orderObject(o), selo.OutcomeSuccess,
		map[string]any{"expires_at": stored.ExpiresAt, "to": o.Holder.Email})); err != nil {
		return err
	}
	if err := s.sendMail(ctx, selo.Email{To: o.Holder.Email, Subject: "New code for order " + o.Number,
		Body: fmt.Sprintf("A new code to lift your certificate was asked for.\n\nOrder number: %s\nCode: %s\n\nThe code sent before no longer works.\n", o.Number, code)}); err != nil {
		return selo.Errorf(selo.EINTERNAL, "the e-mail with the new code could not be sent; try again")
	}
	return nil
}
