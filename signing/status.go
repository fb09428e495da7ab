package signing

import (
	"context"

	"github.com/selo-qtsp/selo"
)

// Certificate statuses as CredentialInfo.CertificateStatus reports them:
// the CSC API's names, plus superseded (re-issued under another CA).
const (
	CertificateValid       = "valid"
	CertificateExpired     = "expired"
	CertificateNotYetValid = "not_yet_valid"
	CertificateRevoked     = "revoked"
	CertificateSuspended   = "suspended" // revoked with reason certificateHold
	CertificateSuperseded  = "superseded"
)

// certificateStatus reads the status of the credential's certificate as it
// is now in the store (never from the cache): revoked, on hold or superseded
// there, else expired or not yet valid by the clock, else valid.
func (s *Service) certificateStatus(ctx context.Context, c *selo.Credential) (string, error) {
	if c.CertificateSerial == "" {
		return CertificateNotYetValid, nil
	}
	rec, err := s.store.FindCertificate(ctx, c.CertificateSerial)
	if err != nil {
		return "", err
	}
	switch rec.Status {
	case selo.CertRevoked:
		rev, err := s.store.FindRevocation(ctx, rec.Serial)
		if err == nil && rev.Reason == selo.ReasonCertificateHold {
			return CertificateSuspended, nil
		} else if err != nil && selo.ErrorCode(err) != selo.ENOTFOUND {
			return "", err
		}
		return CertificateRevoked, nil
	case selo.CertSuperseded:
		return CertificateSuperseded, nil
	case selo.CertValid:
	default:
		return string(rec.Status), nil
	}
	now := s.clock.Now()
	switch {
	case now.Before(rec.NotBefore):
		return CertificateNotYetValid, nil
	case !now.Before(rec.NotAfter):
		return CertificateExpired, nil
	}
	return CertificateValid, nil
}

// signable refuses, before any code is sent or consumed, a credential that
// could not sign now: disabled, locked, its account disabled, or its
// certificate revoked, on hold, superseded, expired or not yet valid.
func (s *Service) signable(ctx context.Context, c *selo.Credential) error {
	if err := s.usable(c); err != nil {
		return err
	}
	acct, err := s.account(ctx, c.AccountID)
	if err != nil {
		return err
	}
	if acct.Disabled {
		return selo.Errorf(selo.EFORBIDDEN, "account disabled")
	}
	status, err := s.certificateStatus(ctx, c)
	if err != nil {
		return err
	}
	if status != CertificateValid {
		return selo.Errorf(selo.EFORBIDDEN, "the certificate of credential %s is %s", c.ID, status)
	}
	return nil
}

// withStatus returns a copy of info with CertificateStatus read now.
func (s *Service) withStatus(ctx context.Context, info *CredentialInfo) (*CredentialInfo, error) {
	status, err := s.certificateStatus(ctx, info.Credential)
	if err != nil {
		return nil, err
	}
	out := *info
	out.CertificateStatus = status
	return &out, nil
}

// SetAccountDisabled disables or enables a holder account (an operator's
// act, audited as actor). Disabling ends at once every session of the
// account (CSC access tokens included), its unused SADs and its pending
// approvals; the account can no longer log in. Enabling lets it log in
// again; nothing that was ended comes back. ENOTFOUND when absent.
func (s *Service) SetAccountDisabled(ctx context.Context, actor, accountID string, disabled bool) error {
	a, err := s.account(ctx, accountID)
	if err != nil {
		return err
	}
	action := "account.enable"
	if disabled {
		action = "account.disable"
	}
	return s.store.SetAccountDisabled(ctx, a.ID, disabled, s.clock.Now(),
		s.entry(actor, action, "account/"+a.ID, selo.OutcomeSuccess, map[string]any{"email": a.Email}))
}

// SetCredentialStatus disables or enables a credential (an operator's act,
// audited as actor). Disabling ends its unused SADs and pending approvals at
// once. ENOTFOUND when absent.
func (s *Service) SetCredentialStatus(ctx context.Context, actor, credentialID string, status selo.CredentialStatus) error {
	c, err := s.store.FindCredential(ctx, credentialID)
	if selo.ErrorCode(err) == selo.ENOTFOUND {
		return selo.Errorf(selo.ENOTFOUND, "no such credential")
	} else if err != nil {
		return err
	}
	action := "credential.enable"
	switch status {
	case selo.CredentialActive:
	case selo.CredentialDisabled:
		action = "credential.disable"
	default:
		return selo.Errorf(selo.EINVALID, "unknown credential status %q", status)
	}
	if err := s.store.SetCredentialStatus(ctx, c.ID, status, s.entry(actor, action, "credential/"+c.ID, selo.OutcomeSuccess,
		map[string]any{"account": c.AccountID})); err != nil {
		return err
	}
	s.credentials.Delete(c.ID)
	return nil
}
