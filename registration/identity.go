package registration

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/selo-qtsp/selo"
)

// IdentitySubmission is what the holder submits for a remote identity check.
type IdentitySubmission struct {
	DocumentType   string // "passport", "id-card", ...
	Country        string
	DocumentNumber string
	ExpiryDate     time.Time
	MRZ            string
	Copy           bool
}

// DocumentVerdict is what the machine checks found in a document they
// accepted: the parsed MRZ (any JSON-encodable value) and what only an
// officer can judge.
type DocumentVerdict struct {
	MRZ     any
	Pending []string
}

// DocumentChecker runs the machine checks of an identity document against
// the order's holder: MRZ check digits, the accepted-documents catalogue,
// expiry, copies. An EINVALID error is a refusal whose message the holder
// may read; any other error is an internal failure.
// idcheck.Catalogue is the production checker (see idcheck.go).
type DocumentChecker interface {
	CheckDocument(sub IdentitySubmission, holder selo.Holder, now time.Time) (*DocumentVerdict, error)
}

// SubmitIdentityCheck runs the machine checks on the holder's submission,
// authenticated by the order number and access code. A refusal is recorded
// with its reason (the holder may submit again, up to MaxIdentityChecks); a
// pass joins the officers' queue. It returns the recorded check.
func (s *Service) SubmitIdentityCheck(ctx context.Context, number, accessCode string, sub IdentitySubmission) (*selo.IdentityCheck, error) {
	actor := "holder:" + number
	o, err := s.orderByCode(ctx, number, purposeAccess, accessCode)
	if err != nil {
		return nil, err
	}
	return s.submitCheck(ctx, actor, o, sub, nil, nil)
}

// submitCheck runs the machine checks on a submission for o and records the
// check; photos (already checked by checkPhotos) are sealed and stored with
// a check that passed, never with a refused one. A non-nil refusal (an
// EINVALID found before the machine checks) is recorded as their refusal.
func (s *Service) submitCheck(ctx context.Context, actor string, o *selo.Order, sub IdentitySubmission, photos []Photo, refusal error) (*selo.IdentityCheck, error) {
	switch {
	case o.State != selo.OrderCreated:
		return nil, selo.Errorf(selo.ECONFLICT, "order %s is %s: its identity check is over", o.Number, o.State)
	case o.IdentityStatus == selo.IdentityPending:
		return nil, selo.Errorf(selo.ECONFLICT, "an identity check of order %s already waits for an officer", o.Number)
	case o.IdentityAttempts >= s.cfg.MaxIdentityChecks:
		err := selo.Errorf(selo.EFORBIDDEN, "order %s has used all %d identity check attempts; contact support", o.Number, s.cfg.MaxIdentityChecks)
		s.auditFailure(ctx, actor, "identity.submit", orderObject(o), err)
		return nil, err
	case s.cfg.Documents == nil:
		return nil, selo.Errorf(selo.ENOTIMPLEMENTED, "remote identity checks are not configured")
	case len(photos) > 0 && s.cfg.Secrets == nil:
		return nil, selo.Errorf(selo.ENOTIMPLEMENTED, "identity photos need the master key to be sealed: this server has none")
	}
	now := s.clock.Now()
	id, err := newID(now)
	if err != nil {
		return nil, err
	}
	c := &selo.IdentityCheck{
		ID: id, OrderID: o.ID, DocumentType: sub.DocumentType, Country: strings.ToUpper(sub.Country),
		DocumentNumber: sub.DocumentNumber, DocumentExpiry: sub.ExpiryDate, MRZ: sub.MRZ, Copy: sub.Copy, SubmittedAt: now,
	}
	verdict, err := (*DocumentVerdict)(nil), refusal
	if refusal == nil {
		verdict, err = s.cfg.Documents.CheckDocument(sub, o.Holder, now)
	}
	switch selo.ErrorCode(err) {
	case "":
		c.Status, c.Pending = selo.IdentityPending, verdict.Pending
		if verdict.MRZ != nil {
			b, err := json.Marshal(verdict.MRZ)
			if err != nil {
				return nil, err
			}
			c.MRZResult = string(b)
		}
	case selo.EINVALID:
		c.Status, c.MachineReason, c.DecidedAt = selo.IdentityRefused, selo.ErrorMessage(err), now
	default:
		return nil, err
	}
	o.IdentityStatus, o.IdentityAttempts = c.Status, o.IdentityAttempts+1
	outcome := selo.OutcomeSuccess
	if c.Status == selo.IdentityRefused {
		outcome = selo.OutcomeFailure
	}
	details := map[string]any{
		"check": c.ID, "status": c.Status, "reason": c.MachineReason, "document_type": c.DocumentType, "country": c.Country,
		"attempt": o.IdentityAttempts,
	}
	u := &selo.OrderUpdate{Order: o, CreateCheck: c}
	if c.Status == selo.IdentityPending && len(photos) > 0 {
		evidence, err := s.sealPhotos(c.ID, photos, now)
		if err != nil {
			return nil, err
		}
		u.Evidence = evidence
		kinds := make([]string, len(evidence))
		for i, e := range evidence {
			kinds[i] = string(e.Kind)
		}
		details["photos"] = kinds
	}
	u.Audit = s.audit(actor, "identity.submit", orderObject(o), outcome, details)
	if err := s.store.UpdateOrder(ctx, u); err != nil {
		return nil, err
	}
	return c, nil
}

// ListPendingIdentityChecks returns the officers' queue: checks the machine
// passed, oldest first, a page at a time.
func (s *Service) ListPendingIdentityChecks(ctx context.Context, afterID string, limit int) ([]*selo.IdentityCheck, error) {
	return s.store.ListIdentityChecks(ctx, selo.IdentityCheckFilter{Status: selo.IdentityPending, AfterID: afterID, Limit: limit})
}

// DecideIdentityCheck records an officer's decision on a pending check, with
// reasons. Approval validates the order's identity, and when its payment is
// already recorded moves it on to paid and sends the "ready to lift" e-mail.
// A rejection lets the holder submit again within the attempts allowed.
func (s *Service) DecideIdentityCheck(ctx context.Context, officer, checkID string, approve bool, reasons string) (*selo.Order, error) {
	o, err := s.decideIdentityCheck(ctx, officer, checkID, approve, reasons)
	if err != nil {
		s.auditFailure(ctx, officer, "identity.decide", "identity_check/"+checkID, err)
		return nil, err
	}
	if o.State == selo.OrderPaid {
		return s.notifyReady(ctx, officer, o)
	}
	return o, nil
}

func (s *Service) decideIdentityCheck(ctx context.Context, officer, checkID string, approve bool, reasons string) (*selo.Order, error) {
	if strings.TrimSpace(reasons) == "" {
		return nil, selo.Errorf(selo.EINVALID, "an officer's decision needs its reasons")
	}
	c, err := s.store.FindIdentityCheck(ctx, checkID)
	if err != nil {
		return nil, err
	}
	if c.Status != selo.IdentityPending {
		return nil, selo.Errorf(selo.ECONFLICT, "identity check %s is %s, not pending", c.ID, c.Status)
	}
	o, err := s.store.FindOrder(ctx, c.OrderID)
	if err != nil {
		return nil, err
	}
	if o.State != selo.OrderCreated {
		return nil, selo.Errorf(selo.ECONFLICT, "order %s is %s", o.Number, o.State)
	}
	c.Officer, c.DecisionReasons, c.DecidedAt = officer, reasons, s.clock.Now()
	details := map[string]any{"check": c.ID, "approved": approve, "reasons": reasons}
	var u *selo.OrderUpdate
	if approve {
		c.Status = selo.IdentityApproved
		o.IdentityStatus = selo.IdentityApproved
		u = s.transition(o, selo.OrderIdentityValidated, officer, "identity approved: "+reasons, details)
		if o.Paid() {
			o.State = selo.OrderPaid
			u.Events = append(u.Events, &selo.OrderEvent{From: selo.OrderIdentityValidated, To: selo.OrderPaid, Actor: officer,
				Reason: "payment recorded before the identity check", Time: s.clock.Now()})
		}
	} else {
		c.Status = selo.IdentityRejected
		o.IdentityStatus = selo.IdentityRejected
		u = &selo.OrderUpdate{Order: o, Audit: s.audit(officer, "identity.reject", orderObject(o), selo.OutcomeSuccess, details)}
	}
	u.DecideCheck = c
	if err := s.store.UpdateOrder(ctx, u); err != nil {
		return nil, err
	}
	return o, nil
}
