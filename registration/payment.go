package registration

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/selo-qtsp/selo"
)

// MaxWebhookBody bounds a payment webhook's body.
const MaxWebhookBody = 16 << 10

// Payment is a payment to record on an order.
type Payment struct {
	Reference   string
	AmountCents int64
	Currency    string // ISO 4217, e.g. "EUR"
}

// RecordPayment records a payment an officer saw. It is a fact recorded
// whatever the order's state before issuance; when the identity is already
// validated the order moves to paid and the "ready to lift" e-mail goes out.
// Recording the same reference again is a no-op; another reference on a paid
// order is ECONFLICT (the order keeps its first payment).
func (s *Service) RecordPayment(ctx context.Context, actor, number string, p Payment) (*selo.Order, error) {
	o, err := s.recordPayment(ctx, actor, number, p, "")
	if err != nil {
		s.auditFailure(ctx, actor, "order.payment", "order-number/"+number, err)
		return nil, err
	}
	return o, nil
}

// webhookPayload is the payment provider's event, parsed strictly.
type webhookPayload struct {
	ID          string `json:"id"`
	Type        string `json:"type"`
	OrderNumber string `json:"order_number"`
	Reference   string `json:"reference"`
	AmountCents int64  `json:"amount_cents"`
	Currency    string `json:"currency"`
}

// HandlePaymentWebhook verifies and applies a payment provider's event. The
// header is "t=<unix seconds>,v1=<hex HMAC-SHA256(secret, t + "." + body)>";
// the timestamp must be within WebhookTolerance of the clock and each event
// ID is processed once (a replay is ECONFLICT). A payment.succeeded event
// for an order already paid is acknowledged when it carries the same
// reference (the provider's retry under a new event ID) and refused with
// ECONFLICT when it carries another; the order keeps its first payment
// either way. Only "payment.succeeded"
// events are applied; the others are acknowledged and ignored.
func (s *Service) HandlePaymentWebhook(ctx context.Context, body []byte, signatureHeader string) (*selo.Order, error) {
	const actor = "webhook:payment"
	if err := s.verifyWebhook(body, signatureHeader); err != nil {
		s.auditFailure(ctx, actor, "order.payment.webhook", "webhook", err)
		return nil, err
	}
	var p webhookPayload
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return nil, selo.Errorf(selo.EINVALID, "webhook body is not the expected JSON object")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, selo.Errorf(selo.EINVALID, "webhook body holds more than one JSON value")
	}
	if p.ID == "" || len(p.ID) > 200 || p.OrderNumber == "" {
		return nil, selo.Errorf(selo.EINVALID, "webhook event needs an id and an order_number")
	}
	if p.Type != "payment.succeeded" {
		return nil, nil
	}
	o, err := s.recordPayment(ctx, actor, p.OrderNumber, Payment{Reference: p.Reference, AmountCents: p.AmountCents, Currency: p.Currency}, p.ID)
	if err != nil {
		s.auditFailure(ctx, actor, "order.payment.webhook", "order-number/"+p.OrderNumber, err)
		return nil, err
	}
	return o, nil
}

// verifyWebhook checks the signature header against body.
func (s *Service) verifyWebhook(body []byte, header string) error {
	if len(s.cfg.WebhookSecret) == 0 {
		return selo.Errorf(selo.EFORBIDDEN, "payment webhooks are not configured")
	}
	if len(body) > MaxWebhookBody {
		return selo.Errorf(selo.ETOOLARGE, "webhook body is larger than %d bytes", MaxWebhookBody)
	}
	var ts string
	var sigs [][]byte
	for _, part := range strings.Split(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			continue
		}
		switch k {
		case "t":
			ts = v
		case "v1":
			if b, err := hex.DecodeString(v); err == nil {
				sigs = append(sigs, b)
			}
		}
	}
	unix, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(sigs) == 0 {
		return selo.Errorf(selo.EUNAUTHORIZED, "webhook signature header is missing or malformed")
	}
	sent := time.Unix(unix, 0)
	if d := s.clock.Now().Sub(sent); d > s.cfg.WebhookTolerance || d < -s.cfg.WebhookTolerance {
		return selo.Errorf(selo.EUNAUTHORIZED, "webhook timestamp is outside the %s tolerance", s.cfg.WebhookTolerance)
	}
	m := hmac.New(sha256.New, s.cfg.WebhookSecret)
	m.Write([]byte(ts))
	m.Write([]byte("."))
	m.Write(body)
	want := m.Sum(nil)
	for _, sig := range sigs {
		if hmac.Equal(sig, want) {
			return nil
		}
	}
	return selo.Errorf(selo.EUNAUTHORIZED, "webhook signature does not match")
}

func (s *Service) recordPayment(ctx context.Context, actor, number string, p Payment, eventID string) (*selo.Order, error) {
	p.Reference, p.Currency = strings.TrimSpace(p.Reference), strings.ToUpper(strings.TrimSpace(p.Currency))
	if p.Reference == "" || len(p.Reference) > 200 || p.AmountCents <= 0 || len(p.Currency) != 3 {
		return nil, selo.Errorf(selo.EINVALID, "a payment needs a reference, a positive amount and a 3-letter currency")
	}
	for attempt := 0; ; attempt++ {
		o, err := s.store.FindOrderByNumber(ctx, strings.TrimSpace(number))
		if err != nil {
			return nil, err
		}
		samePayment := o.Paid() && o.PaymentReference == p.Reference
		if samePayment && eventID == "" {
			return o, nil // the same payment recorded again
		}
		if o.Paid() && !samePayment {
			// A second payment (another reference) never replaces or adds to
			// the first: the order keeps the payment it has.
			return nil, selo.Errorf(selo.ECONFLICT, "order %s already has a payment (%s)", o.Number, o.PaymentReference)
		}
		if o.State.Terminal() || o.State.Reached(selo.OrderPaid) && !o.Paid() {
			return nil, selo.Errorf(selo.ECONFLICT, "order %s is %s and takes no payment", o.Number, o.State)
		}
		details := map[string]any{"reference": p.Reference, "amount_cents": p.AmountCents, "currency": p.Currency, "event": eventID}
		var u *selo.OrderUpdate
		switch {
		case samePayment:
			// The provider sent the same payment again under a new event
			// ID: acknowledged as it was, the event noted so that its own
			// replay is refused, the order unchanged.
			u = &selo.OrderUpdate{Order: o, Audit: s.audit(actor, "order.payment.duplicate", orderObject(o), selo.OutcomeSuccess, details)}
		case o.State == selo.OrderIdentityValidated:
			o.PaidAt, o.PaymentReference, o.PaymentAmountCents, o.PaymentCurrency = s.clock.Now(), p.Reference, p.AmountCents, p.Currency
			u = s.transition(o, selo.OrderPaid, actor, "payment recorded", details)
		default:
			// Identity not validated yet: the fact is recorded, the state waits.
			o.PaidAt, o.PaymentReference, o.PaymentAmountCents, o.PaymentCurrency = s.clock.Now(), p.Reference, p.AmountCents, p.Currency
			u = &selo.OrderUpdate{Order: o, Audit: s.audit(actor, "order.payment", orderObject(o), selo.OutcomeSuccess, details)}
		}
		u.WebhookEventID = eventID
		err = s.store.UpdateOrder(ctx, u)
		if selo.ErrorCode(err) == selo.ECONFLICT && attempt < 3 {
			if eventID != "" && strings.Contains(selo.ErrorMessage(err), "already processed") {
				return nil, err
			}
			continue // the order moved meanwhile (identity approved): read it again
		} else if err != nil {
			return nil, err
		}
		if o.State == selo.OrderPaid {
			return s.notifyReady(ctx, actor, o)
		}
		return o, nil
	}
}
