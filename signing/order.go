package signing

import (
	"context"
	"strings"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/pki"
)

// isQualified reports whether a profile certifies qualified signatures or
// seals: credentials of those are made only through an order, which checks
// the holder's identity.
func isQualified(p *pki.Profile) bool {
	return p.Kind == pki.KindQualifiedNatural || p.Kind == pki.KindQualifiedLegal
}

// AttachOrderCredential puts the credential an order made on the account of
// the order's e-mail, opening the account (without a password, which the
// holder sets through the order) on first use. It is idempotent: a retry
// finds the credential made before, provided it is the same key and
// certificate. Audited as actor.
func (s *Service) AttachOrderCredential(ctx context.Context, actor string, oc selo.OrderCredential) (*selo.AttachedCredential, error) {
	if oc.ID == "" || oc.KeyID == "" || oc.CertificateSerial == "" || oc.OrderNumber == "" {
		return nil, selo.Errorf(selo.EINVALID, "an order credential needs an ID, a key, a certificate and its order")
	}
	if !oc.Approval.Valid() {
		return nil, selo.Errorf(selo.EINVALID, "unknown approval type %q", oc.Approval)
	}
	profile, err := s.authority.Profile(oc.Profile)
	if err != nil {
		return nil, selo.Errorf(selo.EINVALID, "no profile named %q", oc.Profile)
	}
	if err := checkApproval(profile, oc.Approval); err != nil {
		return nil, err
	}
	out := &selo.AttachedCredential{CredentialID: oc.ID}
	email := normalizeEmail(oc.Email)
	acct, err := s.store.FindAccountByEmail(ctx, email)
	if selo.ErrorCode(err) == selo.ENOTFOUND {
		acct = &selo.Account{ID: newID(), Email: email, Name: strings.TrimSpace(oc.Name), Mobile: oc.Mobile, CreatedAt: s.clock.Now()}
		err = s.store.CreateAccount(ctx, acct, s.entry(actor, "account.create", "account/"+acct.ID, selo.OutcomeSuccess,
			map[string]any{"email": email, "order": oc.OrderNumber, "password": "unset"}))
		if selo.ErrorCode(err) == selo.ECONFLICT {
			acct, err = s.store.FindAccountByEmail(ctx, email) // opened by a concurrent retry
		} else if err == nil {
			out.AccountCreated = true
		}
	}
	if err != nil {
		return nil, err
	}
	out.AccountID, out.PasswordSet = acct.ID, acct.PasswordHash != ""
	c := &selo.Credential{
		ID: oc.ID, AccountID: acct.ID, KeyID: oc.KeyID, KeyAlgorithm: oc.KeyAlgorithm, CertificateSerial: oc.CertificateSerial,
		Profile: oc.Profile, ApprovalType: oc.Approval, Mobile: oc.Mobile, Description: "order " + oc.OrderNumber,
		Status: selo.CredentialActive, CreatedAt: s.clock.Now(),
	}
	err = s.store.CreateCredential(ctx, c, s.entry(actor, "credential.create", "credential/"+c.ID, selo.OutcomeSuccess, map[string]any{
		"account": acct.ID, "order": oc.OrderNumber, "profile": oc.Profile, "approval": oc.Approval, "key": oc.KeyAlgorithm,
		"certificate": oc.CertificateSerial,
	}))
	if selo.ErrorCode(err) == selo.ECONFLICT {
		prev, ferr := s.store.FindCredential(ctx, c.ID)
		if ferr != nil {
			return nil, ferr
		}
		if prev.KeyID != c.KeyID || prev.AccountID != acct.ID {
			return nil, selo.Errorf(selo.ECONFLICT, "credential %s exists for another key or account", c.ID)
		}
		return out, nil // made by an earlier attempt
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

// SetInitialPassword sets the password of an account an order opened, once:
// ECONFLICT when the account already has one (the holder signs in with it,
// or asks an operator to reset it); EFORBIDDEN, audited, when an operator
// disabled the account. The caller has authenticated the holder
// (the order's lift code and verified e-mail).
func (s *Service) SetInitialPassword(ctx context.Context, actor, email, password string) error {
	if len(password) < MinPasswordLength || len(password) > maxPasswordLength {
		return selo.Errorf(selo.EINVALID, "password must have %d to %d characters", MinPasswordLength, maxPasswordLength)
	}
	acct, err := s.store.FindAccountByEmail(ctx, normalizeEmail(email))
	if err != nil {
		return err
	}
	if acct.PasswordHash != "" {
		return selo.Errorf(selo.ECONFLICT, "the account %s already has a password: sign in with it", acct.Email)
	}
	// The store enables an account when its password is set: an operator's
	// disabling must not be undone by the holder's first password.
	if acct.Disabled {
		err := selo.Errorf(selo.EFORBIDDEN, "account disabled: ask the registration desk")
		s.auditFailure(ctx, actor, "account.password.set", "account/"+acct.ID, err, nil)
		return err
	}
	hash, err := HashPassword(password, s.password)
	if err != nil {
		return err
	}
	return s.store.UpdateAccountPassword(ctx, acct.ID, hash, s.entry(actor, "account.password.set", "account/"+acct.ID, selo.OutcomeSuccess,
		map[string]any{"reason": "first password, set through the order"}))
}
