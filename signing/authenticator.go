package signing

import (
	"context"
	"strings"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/approval"
)

// AuthenticatorEnrollment is shown to the holder once: the otpauth:// URI
// (with the secret) for an authenticator app, as text and as QR codes.
type AuthenticatorEnrollment struct {
	Authenticator *selo.Authenticator
	URI           string
	QRPNG         []byte
	QRTerminal    string
}

// DefaultOTPParams are the parameters of new authenticator secrets: what every
// authenticator app understands.
var DefaultOTPParams = approval.OTPParams{Algorithm: approval.AlgSHA1, Digits: 6, Period: 30e9}

// EnrollAuthenticator makes a TOTP secret for a new authenticator app of the
// account, stores it sealed and returns the enrolment data once. The
// authenticator approves nothing until ConfirmAuthenticator proves a code.
func (s *Service) EnrollAuthenticator(ctx context.Context, accountID, name string) (*AuthenticatorEnrollment, error) {
	acct, err := s.account(ctx, accountID)
	if err != nil {
		return nil, err
	}
	name, err = checkName(name)
	if err != nil {
		return nil, err
	}
	p := DefaultOTPParams
	secret, err := approval.NewOTPSecret(p.Algorithm)
	if err != nil {
		return nil, err
	}
	a := &selo.Authenticator{ID: newID(), AccountID: acct.ID, Name: name, Settings: otpSettings(p), LastStep: -1, CreatedAt: s.clock.Now()}
	if a.SealedSecret, err = s.secrets.Seal(secret, authenticatorAD(a.ID)); err != nil {
		return nil, err
	}
	if err := s.store.CreateAuthenticator(ctx, a, s.entry(holder(acct.ID), "authenticator.enroll", "authenticator/"+a.ID, selo.OutcomeSuccess,
		map[string]any{"name": name})); err != nil {
		return nil, err
	}
	uri := approval.OTPAuthURI(s.issuer, acct.Email, secret, p)
	png, err := approval.QRPNG(uri, 256)
	if err != nil {
		return nil, err
	}
	return &AuthenticatorEnrollment{Authenticator: a, URI: uri, QRPNG: png, QRTerminal: approval.QRTerminal(uri)}, nil
}

// ConfirmAuthenticator proves an enrolment with a first code from the app.
func (s *Service) ConfirmAuthenticator(ctx context.Context, accountID, authenticatorID, code string) error {
	a, err := s.authenticator(ctx, accountID, authenticatorID)
	if err != nil {
		return err
	}
	if a.Confirmed {
		return selo.Errorf(selo.ECONFLICT, "authenticator already confirmed")
	}
	secret, err := s.secrets.Open(a.SealedSecret, authenticatorAD(a.ID))
	if err != nil {
		return err
	}
	step, ok := approval.VerifyTOTP(secret, code, s.clock.Now(), otpParams(a.Settings), a.LastStep)
	if !ok {
		err := selo.Errorf(selo.EUNAUTHORIZED, "wrong code")
		s.auditFailure(ctx, holder(accountID), "authenticator.confirm", "authenticator/"+a.ID, err, nil)
		return err
	}
	if ok, err := s.store.AdvanceAuthenticatorStep(ctx, a.ID, step, true); err != nil {
		return err
	} else if !ok {
		return selo.Errorf(selo.EUNAUTHORIZED, "this code was already used")
	}
	s.appendAudit(ctx, s.entry(holder(accountID), "authenticator.confirm", "authenticator/"+a.ID, selo.OutcomeSuccess, nil))
	return nil
}

// ListAuthenticators returns the account's authenticators (never their secrets).
func (s *Service) ListAuthenticators(ctx context.Context, accountID string) ([]*selo.Authenticator, error) {
	as, err := s.store.ListAuthenticators(ctx, accountID)
	if err != nil {
		return nil, err
	}
	out := as[:0]
	for _, a := range as {
		if a.AccountID == accountID {
			c := *a
			c.SealedSecret = nil
			out = append(out, &c)
		}
	}
	return out, nil
}

// DeleteAuthenticator removes one of the account's authenticators.
func (s *Service) DeleteAuthenticator(ctx context.Context, accountID, authenticatorID string) error {
	a, err := s.authenticator(ctx, accountID, authenticatorID)
	if err != nil {
		return err
	}
	return s.store.DeleteAuthenticator(ctx, a.ID, s.entry(holder(accountID), "authenticator.delete", "authenticator/"+a.ID, selo.OutcomeSuccess, nil))
}

func (s *Service) authenticator(ctx context.Context, accountID, id string) (*selo.Authenticator, error) {
	a, err := s.store.FindAuthenticator(ctx, id)
	if selo.ErrorCode(err) == selo.ENOTFOUND || (err == nil && a.AccountID != accountID) {
		return nil, selo.Errorf(selo.ENOTFOUND, "no such authenticator")
	}
	return a, err
}

// checkAuthenticatorCode accepts a code of any confirmed authenticator of the
// credential's account, once: a code whose step was already used is a replay.
func (s *Service) checkAuthenticatorCode(ctx context.Context, c *selo.Credential, code string) error {
	as, err := s.store.ListAuthenticators(ctx, c.AccountID)
	if err != nil {
		return err
	}
	now := s.clock.Now()
	for _, a := range as {
		if !a.Confirmed || a.AccountID != c.AccountID {
			continue
		}
		secret, err := s.secrets.Open(a.SealedSecret, authenticatorAD(a.ID))
		if err != nil {
			return err
		}
		// lastStep -1: a replay is told apart by the compare-and-set below,
		// so that it is counted as a failure and audited as one.
		step, ok := approval.VerifyTOTP(secret, code, now, otpParams(a.Settings), -1)
		if !ok {
			continue
		}
		advanced, err := s.store.AdvanceAuthenticatorStep(ctx, a.ID, step, false)
		if err != nil {
			return err
		}
		if !advanced {
			return s.failure(ctx, c, nil, "code already used")
		}
		return nil
	}
	return s.failure(ctx, c, nil, "wrong code")
}

// checkName validates a holder-chosen display name.
func checkName(name string) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" || len(name) > 100 {
		return "", selo.Errorf(selo.EINVALID, "a name of 1 to 100 characters is required")
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f {
			return "", selo.Errorf(selo.EINVALID, "the name has control characters")
		}
	}
	return name, nil
}
