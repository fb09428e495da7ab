package registration

import (
	"context"
	"fmt"
	"net/mail"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/notify"
	"github.com/selo-qtsp/selo/pki"
)

// e164 matches an E.164 mobile number: "+", country code, at most 15 digits.
var e164 = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`) })

// OrderRequest is what an officer or an integrating shop asks for.
type OrderRequest struct {
	Holder   selo.Holder
	Profile  string
	Delivery selo.Delivery
	Subject  selo.OrderSubject
	// Approval is how the holder will approve signatures with the
	// credential a cloud order makes: sms, authenticator, wallet or
	// authorizer (e-seals), as the profile allows. Only for cloud delivery.
	Approval selo.ApprovalType
}

// CreatedOrder is a new order with its identity access code, which is shown
// here once and e-mailed to the holder; Selo keeps only its hash.
type CreatedOrder struct {
	Order      *selo.Order
	AccessCode string
}

// CreateOrder validates req, stores the order in state created and e-mails
// the holder the access code for the identity check. A failure to send the
// e-mail is logged and does not undo the order: the caller has the code.
func (s *Service) CreateOrder(ctx context.Context, actor string, req OrderRequest) (*CreatedOrder, error) {
	created, err := s.createOrder(ctx, actor, req)
	if err != nil {
		s.auditFailure(ctx, actor, "order.create", "profile/"+req.Profile, err)
		return nil, err
	}
	return created, nil
}

func (s *Service) createOrder(ctx context.Context, actor string, req OrderRequest) (*CreatedOrder, error) {
	if err := s.checkOrderRequest(&req); err != nil {
		return nil, err
	}
	now := s.clock.Now()
	for attempt := 0; ; attempt++ {
		id, err := newID(now)
		if err != nil {
			return nil, err
		}
		suffix, err := randomCode(codeAlphabet, 8)
		if err != nil {
			return nil, err
		}
		o := &selo.Order{
			ID: id, Number: fmt.Sprintf("SO-%d-%s", now.Year(), suffix), Holder: req.Holder, Profile: req.Profile,
			Delivery: req.Delivery, Subject: req.Subject, Approval: req.Approval, State: selo.OrderCreated, CreatedBy: actor, CreatedAt: now,
		}
		code, stored, err := s.newCode(orderObject(o), purposeAccess, codeAlphabet, 12, s.cfg.AccessCodeValidity)
		if err != nil {
			return nil, err
		}
		entry := s.audit(actor, "order.create", orderObject(o), selo.OutcomeSuccess, map[string]any{
			"number": o.Number, "profile": o.Profile, "delivery": o.Delivery, "approval": o.Approval, "email": o.Holder.Email,
		})
		err = s.store.CreateOrder(ctx, o, entry)
		if selo.ErrorCode(err) == selo.ECONFLICT && attempt < 3 {
			continue // an order number drawn twice
		} else if err != nil {
			return nil, err
		}
		if err := s.store.PutOneTimeCode(ctx, stored, s.audit(actor, "code.create", orderObject(o), selo.OutcomeSuccess,
			map[string]any{"purpose": purposeAccess, "expires_at": stored.ExpiresAt})); err != nil {
			return nil, err
		}
		s.sendHolderMail(ctx, o, notify.MessageOrderCreated, map[string]any{"Number": o.Number, "AccessCode": code})
		return &CreatedOrder{Order: o, AccessCode: code}, nil
	}
}

// checkOrderRequest validates the holder's data and that the profile exists
// and allows the delivery and the subject asked for.
func (s *Service) checkOrderRequest(req *OrderRequest) error {
	h := &req.Holder
	h.GivenNames, h.Surname, h.Email, h.Mobile = strings.TrimSpace(h.GivenNames), strings.TrimSpace(h.Surname), strings.TrimSpace(h.Email), strings.TrimSpace(h.Mobile)
	if h.GivenNames == "" || h.Surname == "" {
		return selo.Errorf(selo.EINVALID, "the holder's given names and surname are required")
	}
	if len(h.GivenNames) > 64 || len(h.Surname) > 64 {
		return selo.Errorf(selo.EINVALID, "the holder's names are at most 64 characters each")
	}
	if addr, err := mail.ParseAddress(h.Email); err != nil || addr.Address != h.Email || addr.Name != "" {
		return selo.Errorf(selo.EINVALID, "e-mail %q is not a plain e-mail address", h.Email)
	}
	if h.Language = strings.ToLower(strings.TrimSpace(h.Language)); h.Language != "" && (s.cfg.Templates == nil || !s.cfg.Templates.HasLanguage(h.Language)) {
		return selo.Errorf(selo.EINVALID, "language %q has no message templates (pt, en, or a folder an operator added)", h.Language)
	}
	if !e164().MatchString(h.Mobile) {
		return selo.Errorf(selo.EINVALID, "mobile %q is not an E.164 number such as +351912345678", h.Mobile)
	}
	if !h.BirthDate.IsZero() {
		h.BirthDate = time.Date(h.BirthDate.Year(), h.BirthDate.Month(), h.BirthDate.Day(), 0, 0, 0, 0, time.UTC)
	}
	profile, err := s.auth.Profile(req.Profile)
	if err != nil {
		return selo.Errorf(selo.EINVALID, "no profile named %q", req.Profile)
	}
	if !req.Delivery.Valid() {
		return selo.Errorf(selo.EINVALID, "delivery %q is not software, token or cloud", req.Delivery)
	}
	if req.Delivery == selo.DeliveryCloud && profile.Kind == pki.KindTLS {
		return selo.Errorf(selo.EINVALID, "profile %s is for servers and cannot be delivered as a cloud signing key", profile.Name)
	}
	if req.Delivery == selo.DeliveryCloud && (s.cfg.Keys == nil || s.cfg.Credentials == nil) {
		return selo.Errorf(selo.EINVALID, "cloud delivery is not available: no key store or remote signing is configured")
	}
	if err := checkOrderApproval(profile, req.Delivery, req.Approval); err != nil {
		return err
	}
	sub := &req.Subject
	switch profile.Kind {
	case pki.KindQualifiedLegal:
		if sub.Organization == "" || sub.OrganizationIdentifier == "" || sub.Country == "" {
			return selo.Errorf(selo.EINVALID, "profile %s needs the organisation, its identifier (e.g. VATPT-500000000) and its country", profile.Name)
		}
	case pki.KindTLS:
		if len(sub.DNSNames) == 0 {
			return selo.Errorf(selo.EINVALID, "profile %s needs at least one DNS name", profile.Name)
		}
	}
	// The subject as it will be certified must pass the profile's rules now,
	// not when the holder is halfway through the lift.
	probe := subjectRequest(&selo.Order{Holder: *h, Subject: *sub}, profile, nil)
	key, err := probeKey()
	if err != nil {
		return err
	}
	probe.PublicKey = key
	return profile.CheckRequest(probe)
}

// FindOrder returns an order by number (for officers and the API).
func (s *Service) FindOrder(ctx context.Context, number string) (*selo.Order, error) {
	return s.store.FindOrderByNumber(ctx, strings.TrimSpace(number))
}

// FindOrderByID returns an order by its internal ID, as identity checks and
// events name it (for officers and the API).
func (s *Service) FindOrderByID(ctx context.Context, id string) (*selo.Order, error) {
	return s.store.FindOrder(ctx, id)
}

// ListOrders returns orders, e.g. an officer's queue of one state.
func (s *Service) ListOrders(ctx context.Context, filter selo.OrderFilter) ([]*selo.Order, error) {
	return s.store.ListOrders(ctx, filter)
}

// OrderHistory returns the order's transitions, oldest first.
func (s *Service) OrderHistory(ctx context.Context, number string) ([]*selo.OrderEvent, error) {
	o, err := s.FindOrder(ctx, number)
	if err != nil {
		return nil, err
	}
	return s.store.ListOrderEvents(ctx, o.ID)
}

// CancelOrder ends an order that has no certificate yet (to cancelled), or
// with reject true, refuses it (to rejected). Repeating it is a no-op.
func (s *Service) CancelOrder(ctx context.Context, actor, number, reason string, reject bool) (*selo.Order, error) {
	to := selo.OrderCancelled
	if reject {
		to = selo.OrderRejected
	}
	o, err := s.FindOrder(ctx, number)
	if err != nil {
		return nil, err
	}
	if o.State == to {
		return o, nil
	}
	if !o.State.CanMoveTo(to) {
		err := selo.Errorf(selo.ECONFLICT, "order %s is %s and can no longer be %s", o.Number, o.State, to)
		s.auditFailure(ctx, actor, "order."+string(to), orderObject(o), err)
		return nil, err
	}
	if strings.TrimSpace(reason) == "" {
		return nil, selo.Errorf(selo.EINVALID, "a reason is required")
	}
	if err := s.store.UpdateOrder(ctx, s.transition(o, to, actor, reason, nil)); err != nil {
		return nil, err
	}
	return o, nil
}

// checkOrderApproval checks the approval method a cloud order chooses for
// its credential: required, allowed by the profile, and authorizers only
// for e-seals. Other deliveries make no credential and take none.
func checkOrderApproval(profile *pki.Profile, delivery selo.Delivery, approval selo.ApprovalType) error {
	if delivery != selo.DeliveryCloud {
		if approval != "" {
			return selo.Errorf(selo.EINVALID, "an approval method is chosen only for cloud delivery, not %s", delivery)
		}
		return nil
	}
	switch {
	case approval == "":
		return selo.Errorf(selo.EINVALID, "a cloud order needs the approval method of its credential (one of %s)", strings.Join(profile.Approvals, ", "))
	case !approval.Valid() || !slices.Contains(profile.Approvals, string(approval)):
		return selo.Errorf(selo.EINVALID, "profile %s does not allow %q approval (allowed: %s)", profile.Name, approval, strings.Join(profile.Approvals, ", "))
	case approval == selo.ApprovalAuthorizer && profile.Name != "qualified-seal":
		return selo.Errorf(selo.EINVALID, "authorizer approval is only for e-seal credentials (profile qualified-seal)")
	}
	return nil
}
