package signing

import (
	"context"
	"strings"
	"time"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/approval"
	"github.com/selo-qtsp/selo/notify"
)

// AuthorizerInfo is an authorizer with its authorizations, newest first.
type AuthorizerInfo struct {
	Authorizer     *selo.Authorizer // SealedSecret is never filled in
	Authorizations []*selo.Authorization
}

// AuthorizerSetup is shown to the holder once, when an authorizer is
// confirmed: what the integrator's ERP needs to generate signature codes.
type AuthorizerSetup struct {
	Authorizer    *selo.Authorizer
	Authorization *selo.Authorization
	URI           string // otpauth:// URI with the secret
	JSON          []byte // the same as a JSON document
}

// RegisterAuthorizer starts registering a named authorizer on one of the
// account's e-seal credentials and texts a confirmation code to the
// credential's mobile number. The authorizer approves nothing until
// ConfirmAuthorizer.
func (s *Service) RegisterAuthorizer(ctx context.Context, accountID, credentialID, name string) (*selo.Authorizer, error) {
	c, err := s.credential(ctx, accountID, credentialID)
	if err != nil {
		return nil, err
	}
	if c.ApprovalType != selo.ApprovalAuthorizer || c.Profile != "qualified-seal" {
		return nil, selo.Errorf(selo.EINVALID, "authorizers can be registered only on e-seal credentials approved by authorizers")
	}
	if err := s.signable(ctx, c); err != nil {
		return nil, err
	}
	if name, err = checkName(name); err != nil {
		return nil, err
	}
	setup, err := approval.NewAuthorizerSetup()
	if err != nil {
		return nil, err
	}
	a := &selo.Authorizer{ID: newID(), CredentialID: c.ID, AccountID: accountID, Name: name,
		Settings: otpSettings(setup.Params), LastStep: -1, CreatedAt: s.clock.Now()}
	if a.SealedSecret, err = s.secrets.Seal(setup.Secret, authorizerAD(a.ID)); err != nil {
		return nil, err
	}
	if err := s.store.CreateAuthorizer(ctx, a, s.entry(holder(accountID), "authorizer.register", "authorizer/"+a.ID, selo.OutcomeSuccess,
		map[string]any{"credential": c.ID, "name": name})); err != nil {
		return nil, err
	}
	if err := s.sendCode(ctx, c, purposeAuthorizerRegister, a.ID, notify.MessageSMSAuthorizerRegister); err != nil {
		return nil, err
	}
	a.SealedSecret = nil
	return a, nil
}

// ConfirmAuthorizer checks the SMS code, enables the authorizer with its
// first authorization (AuthorizationDays from now) and returns the set-up
// data once.
func (s *Service) ConfirmAuthorizer(ctx context.Context, accountID, authorizerID, smsCode string) (*AuthorizerSetup, error) {
	a, c, err := s.authorizer(ctx, accountID, authorizerID)
	if err != nil {
		return nil, err
	}
	if a.Confirmed {
		return nil, selo.Errorf(selo.ECONFLICT, "authorizer already confirmed")
	}
	if err := s.usable(c); err != nil {
		return nil, err
	}
	if err := s.checkCode(ctx, c, purposeAuthorizerRegister, a.ID, smsCode); err != nil {
		return nil, err
	}
	now := s.clock.Now()
	first := &selo.Authorization{ID: newID(), AuthorizerID: a.ID, NotBefore: now, NotAfter: now.AddDate(0, 0, s.authorizationDays), CreatedAt: now}
	if err := s.store.ConfirmAuthorizer(ctx, a.ID, first, s.entry(holder(accountID), "authorizer.confirm", "authorizer/"+a.ID, selo.OutcomeSuccess,
		map[string]any{"authorization": first.ID, "not_after": first.NotAfter})); err != nil {
		return nil, err
	}
	secret, err := s.secrets.Open(a.SealedSecret, authorizerAD(a.ID))
	if err != nil {
		return nil, err
	}
	setup := &approval.AuthorizerSetup{Secret: secret, Params: otpParams(a.Settings)}
	js, err := setup.JSON()
	if err != nil {
		return nil, err
	}
	a.Confirmed, a.Enabled, a.SealedSecret = true, true, nil
	if acct, err := s.account(ctx, accountID); err == nil {
		s.notifyFactorChange(ctx, acct, notify.ChangeAuthorizerRegistered, a.Name)
	}
	return &AuthorizerSetup{Authorizer: a, Authorization: first, URI: setup.URI(s.issuer, a.Name), JSON: js}, nil
}

// renewable returns the holder's authorizer and its credential when a
// renewal code may be sent for it: confirmed, and its certificate can sign.
func (s *Service) renewable(ctx context.Context, accountID, authorizerID string) (*selo.Authorizer, *selo.Credential, error) {
	a, c, err := s.authorizer(ctx, accountID, authorizerID)
	if err != nil {
		return nil, nil, err
	}
	if !a.Confirmed {
		return nil, nil, selo.Errorf(selo.EINVALID, "confirm the authorizer first")
	}
	if err := s.signable(ctx, c); err != nil {
		return nil, nil, err
	}
	return a, c, nil
}

// RequestAuthorizationRenewal texts a code that renews an authorizer's authorization.
func (s *Service) RequestAuthorizationRenewal(ctx context.Context, accountID, authorizerID string) error {
	a, c, err := s.renewable(ctx, accountID, authorizerID)
	if err != nil {
		return err
	}
	return s.sendCode(ctx, c, purposeAuthorizerRenew, a.ID, notify.MessageSMSAuthorizerRenew)
}

// RequestAuthorizationRenewalByEmail is RequestAuthorizationRenewal with
// the code e-mailed to the account's address instead of texted (the seed's
// "code received by SMS/Email"); RenewAuthorization takes either.
func (s *Service) RequestAuthorizationRenewalByEmail(ctx context.Context, accountID, authorizerID string) error {
	a, c, err := s.renewable(ctx, accountID, authorizerID)
	if err != nil {
		return err
	}
	acct, err := s.account(ctx, accountID)
	if err != nil {
		return err
	}
	if s.mailer == nil || acct.Email == "" {
		return selo.Errorf(selo.EINVALID, "no e-mail can be sent: ask for the code by SMS")
	}
	return s.deliverCode(ctx, c, purposeAuthorizerRenew, a.ID, maskEmail(acct.Email), func(code string) error {
		m, err := s.templates.Email(acct.Email, notify.MessageEmailAuthorizerRenew, notify.HolderLanguages("", c.Mobile),
			map[string]any{"Code": code, "Minutes": int(s.codeLifetime / time.Minute), "Name": a.Name})
		if err != nil {
			return err
		}
		return s.mailer.SendEmail(ctx, m)
	})
}

// maskEmail shows an address's first letter and domain only.
func maskEmail(e string) string {
	local, domain, ok := strings.Cut(e, "@")
	if !ok || local == "" {
		return "***"
	}
	return local[:1] + "***@" + domain
}

// RenewAuthorization checks the SMS code and adds a new authorization of
// AuthorizationDays. It starts where the current one ends, so renewing early
// loses no days; after a lapse it starts now (no authorization is ever
// back-dated).
func (s *Service) RenewAuthorization(ctx context.Context, accountID, authorizerID, smsCode string) (*selo.Authorization, error) {
	a, c, err := s.authorizer(ctx, accountID, authorizerID)
	if err != nil {
		return nil, err
	}
	if !a.Confirmed {
		return nil, selo.Errorf(selo.EINVALID, "confirm the authorizer first")
	}
	if err := s.usable(c); err != nil {
		return nil, err
	}
	if err := s.checkCode(ctx, c, purposeAuthorizerRenew, a.ID, smsCode); err != nil {
		return nil, err
	}
	now := s.clock.Now()
	list, err := s.store.ListAuthorizations(ctx, a.ID)
	if err != nil {
		return nil, err
	}
	start := now
	for _, z := range list {
		if z.NotAfter.After(start) && !z.NotBefore.After(start) {
			start = z.NotAfter
		}
	}
	n := &selo.Authorization{ID: newID(), AuthorizerID: a.ID, NotBefore: start, NotAfter: start.AddDate(0, 0, s.authorizationDays), CreatedAt: now}
	if err := s.store.CreateAuthorization(ctx, n, s.entry(holder(accountID), "authorizer.renew", "authorizer/"+a.ID, selo.OutcomeSuccess,
		map[string]any{"authorization": n.ID, "not_before": n.NotBefore, "not_after": n.NotAfter})); err != nil {
		return nil, err
	}
	return n, nil
}

// SetAuthorizerEnabled enables or disables one of the account's authorizers.
func (s *Service) SetAuthorizerEnabled(ctx context.Context, accountID, authorizerID string, enabled bool) error {
	a, _, err := s.authorizer(ctx, accountID, authorizerID)
	if err != nil {
		return err
	}
	if !a.Confirmed {
		return selo.Errorf(selo.EINVALID, "confirm the authorizer first")
	}
	action := "authorizer.disable"
	if enabled {
		action = "authorizer.enable"
	}
	// Disabling also ends the SADs its codes approved that are not used yet.
	return s.store.SetAuthorizerEnabled(ctx, a.ID, enabled, s.clock.Now(), s.entry(holder(accountID), action, "authorizer/"+a.ID, selo.OutcomeSuccess, nil))
}

// ListAuthorizers returns the authorizers of one of the account's
// credentials with their authorizations.
func (s *Service) ListAuthorizers(ctx context.Context, accountID, credentialID string) ([]*AuthorizerInfo, error) {
	c, err := s.credential(ctx, accountID, credentialID)
	if err != nil {
		return nil, err
	}
	as, err := s.store.ListAuthorizers(ctx, c.ID)
	if err != nil {
		return nil, err
	}
	var out []*AuthorizerInfo
	for _, a := range as {
		if a.AccountID != accountID || a.CredentialID != c.ID {
			continue
		}
		zs, err := s.store.ListAuthorizations(ctx, a.ID)
		if err != nil {
			return nil, err
		}
		copyA := *a
		copyA.SealedSecret = nil
		out = append(out, &AuthorizerInfo{Authorizer: &copyA, Authorizations: zs})
	}
	return out, nil
}

// authorizer returns one of the account's authorizers and its credential, or ENOTFOUND.
func (s *Service) authorizer(ctx context.Context, accountID, id string) (*selo.Authorizer, *selo.Credential, error) {
	a, err := s.store.FindAuthorizer(ctx, id)
	if selo.ErrorCode(err) == selo.ENOTFOUND || (err == nil && a.AccountID != accountID) {
		return nil, nil, selo.Errorf(selo.ENOTFOUND, "no such authorizer")
	} else if err != nil {
		return nil, nil, err
	}
	c, err := s.credential(ctx, accountID, a.CredentialID)
	if err != nil {
		return nil, nil, selo.Errorf(selo.ENOTFOUND, "no such authorizer")
	}
	return a, c, nil
}

// active reports whether one of the authorizations covers now.
func active(zs []*selo.Authorization, now time.Time) bool {
	for _, z := range zs {
		if !now.Before(z.NotBefore) && now.Before(z.NotAfter) {
			return true
		}
	}
	return false
}

// checkAuthorizerCode accepts a code from one of this credential's own
// authorizers (no other credential's), only while the authorizer is enabled
// and inside an authorization, and each code once. It returns the ID of the
// authorizer whose code it was.
func (s *Service) checkAuthorizerCode(ctx context.Context, c *selo.Credential, code string) (string, error) {
	as, err := s.store.ListAuthorizers(ctx, c.ID)
	if err != nil {
		return "", err
	}
	now := s.clock.Now()
	for _, a := range as {
		if !a.Confirmed || a.CredentialID != c.ID {
			continue
		}
		secret, err := s.secrets.Open(a.SealedSecret, authorizerAD(a.ID))
		if err != nil {
			return "", err
		}
		step, ok := approval.VerifyTOTP(secret, code, now, otpParams(a.Settings), -1)
		if !ok {
			continue
		}
		if !a.Enabled {
			return "", selo.Errorf(selo.EFORBIDDEN, "authorizer %q is disabled", a.Name)
		}
		zs, err := s.store.ListAuthorizations(ctx, a.ID)
		if err != nil {
			return "", err
		}
		if !active(zs, now) {
			return "", selo.Errorf(selo.EFORBIDDEN, "authorizer %q has no valid authorization: the holder must renew it", a.Name)
		}
		advanced, err := s.store.AdvanceAuthorizerStep(ctx, a.ID, step)
		if err != nil {
			return "", err
		}
		if !advanced {
			return "", s.failure(ctx, c, nil, "code already used")
		}
		return a.ID, nil
	}
	return "", s.failure(ctx, c, nil, "wrong code")
}
