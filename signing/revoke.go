package signing

import (
	"context"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/authority"
	"github.com/selo-qtsp/selo/notify"
)

// purposeRevoke is the purpose of an SMS code that confirms a revocation
// from the holder account; its subject is the certificate's serial.
const purposeRevoke = "certificate.revoke"

// holderRevocationReasons are the reasons a holder may give, as with the
// key (authority.RevokeByHolder).
var holderRevocationReasons = map[selo.RevocationReason]bool{
	selo.ReasonUnspecified: true, selo.ReasonKeyCompromise: true, selo.ReasonAffiliationChanged: true,
	selo.ReasonSuperseded: true, selo.ReasonCessationOfOperation: true,
}

// accountCertificate returns the credential of the account whose
// certificate has this serial, or ENOTFOUND.
func (s *Service) accountCertificate(ctx context.Context, accountID, serial string) (*selo.Credential, string, error) {
	norm, err := authority.NormalizeSerial(serial)
	if err != nil {
		return nil, "", err
	}
	cs, err := s.store.ListCredentials(ctx, accountID)
	if err != nil {
		return nil, "", err
	}
	for _, c := range cs {
		if c.AccountID == accountID && c.CertificateSerial == norm {
			return c, norm, nil
		}
	}
	return nil, "", selo.Errorf(selo.ENOTFOUND, "no certificate %s on this account", norm)
}

// SendRevocationCode texts the holder a one-time code that confirms the
// revocation of the certificate of one of the account's credentials (to the
// credential's phone), within the code limits. Holders with an
// authenticator app may use its code instead.
func (s *Service) SendRevocationCode(ctx context.Context, accountID, serial string) error {
	c, norm, err := s.accountCertificate(ctx, accountID, serial)
	if err != nil {
		return err
	}
	if c.Mobile == "" {
		return selo.Errorf(selo.EINVALID, "credential %s has no phone number: use a code of your authenticator app", c.ID)
	}
	return s.sendCode(ctx, c, purposeRevoke, norm, notify.MessageSMSRevoke)
}

// RevokeCertificate revokes the certificate of one of the account's
// credentials from the holder account, for a holder without the key's
// proof: it needs the account's password again and a one-time code (the one
// SendRevocationCode texted, or a code of the account's authenticator app).
// Failures are counted per account (Config.LoginLimit's PerEmail in its
// Window) and audited; the revocation itself is audited by the authority.
func (s *Service) RevokeCertificate(ctx context.Context, accountID, serial, password, code string, reason selo.RevocationReason) (*selo.Revocation, bool, error) {
	now := s.clock.Now()
	object := "certificate/" + serial
	if !holderRevocationReasons[reason] {
		err := selo.Errorf(selo.EFORBIDDEN, "a holder may not revoke with reason %s; ask the registration desk", reason)
		s.auditFailure(ctx, holder(accountID), "certificate.revoke", object, err, nil)
		return nil, false, err
	}
	key := "revoke:account:" + accountID
	retryAt, ok, err := s.takeRate(ctx, key, now, s.loginLimit.EmailWindows())
	if err != nil {
		return nil, false, err
	}
	if !ok {
		err := selo.RateLimited(retryAt.Sub(now), "too many failed revocations from this account")
		s.auditFailure(ctx, holder(accountID), "certificate.revoke", object, err, nil)
		return nil, false, err
	}
	fail := func(err error) (*selo.Revocation, bool, error) {
		s.auditFailure(ctx, holder(accountID), "certificate.revoke", object, err, nil)
		return nil, false, err
	}
	a, err := s.account(ctx, accountID)
	if err != nil {
		return nil, false, err
	}
	if !VerifyPassword(password, a.PasswordHash) {
		return fail(selo.Errorf(selo.EUNAUTHORIZED, "wrong password"))
	}
	c, norm, err := s.accountCertificate(ctx, accountID, serial)
	if err != nil {
		return fail(err)
	}
	object = "certificate/" + norm
	if p, err := s.pendingCode(ctx, c, purposeRevoke, norm); err != nil {
		return nil, false, err
	} else if p != nil {
		if err := s.checkCode(ctx, c, purposeRevoke, norm, code); err != nil {
			return fail(err)
		}
	} else if ok, err := s.accountCode(ctx, accountID, code, "certificate.revoke", object); err != nil {
		return nil, false, err
	} else if !ok {
		return fail(selo.Errorf(selo.EUNAUTHORIZED, "wrong one-time code: use the code texted for this revocation or one of your authenticator app"))
	}
	if len(s.loginLimit.EmailWindows()) > 0 {
		if err := s.store.ReturnRate(ctx, key, now); err != nil {
			return nil, false, err
		}
	}
	return s.authority.Revoke(ctx, holder(accountID), authority.RevokeRequest{Serial: norm, Reason: reason})
}
