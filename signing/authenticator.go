package signing

import (
	"context"
	"strings"
	"time"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/approval"
	"github.com/selo-qtsp/selo/notify"
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
// proof must show an existing factor (FactorProof); the holder is told by
// e-mail and SMS.
func (s *Service) EnrollAuthenticator(ctx context.Context, accountID, name string, proof FactorProof) (*AuthenticatorEnrollment, error) {
	acct, err := s.account(ctx, accountID)
	if err != nil {
		return nil, err
	}
	name, err = checkName(name)
	if err != nil {
		return nil, err
	}
	if err := s.proveFactor(ctx, acct, proof, "authenticator.enroll", "account/"+acct.ID); err != nil {
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
	s.notifyFactorChange(ctx, acct, notify.ChangeAuthenticatorAdded, name)
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

// DeleteAuthenticator removes one of the account's authenticators. proof
// must show an existing factor (the authenticator's own code will do); the
// holder is told by e-mail and SMS.
func (s *Service) DeleteAuthenticator(ctx context.Context, accountID, authenticatorID string, proof FactorProof) error {
	a, err := s.authenticator(ctx, accountID, authenticatorID)
	if err != nil {
		return err
	}
	acct, err := s.account(ctx, accountID)
	if err != nil {
		return err
	}
	if err := s.proveFactor(ctx, acct, proof, "authenticator.delete", "authenticator/"+a.ID); err != nil {
		return err
	}
	if err := s.store.DeleteAuthenticator(ctx, a.ID, s.entry(holder(accountID), "authenticator.delete", "authenticator/"+a.ID, selo.OutcomeSuccess,
		map[string]any{"identity_checked_by": proof.IdentityCheckedBy})); err != nil {
		return err
	}
	s.notifyFactorChange(ctx, acct, notify.ChangeAuthenticatorRemoved, a.Name)
	return nil
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
// A wrong code is a guess at every secret of the account, so it counts
// against each of them, not against the credential: an account whose N
// credentials share one app still allows MaxFailures guesses, not N times
// as many, and a locked secret refuses codes for every credential.
func (s *Service) checkAuthenticatorCode(ctx context.Context, c *selo.Credential, code string) error {
	as, err := s.store.ListAuthenticators(ctx, c.AccountID)
	if err != nil {
		return err
	}
	now := s.clock.Now()
	for _, a := range as {
		if a.Confirmed && a.AccountID == c.AccountID && now.Before(a.LockedUntil) {
			err := selo.Errorf(selo.EFORBIDDEN, "too many wrong codes: authenticator locked until %s", a.LockedUntil.UTC().Format(time.RFC3339))
			s.auditFailure(ctx, holder(c.AccountID), "signature.authorize", "credential/"+c.ID, err, map[string]any{"authenticator": a.ID})
			return err
		}
	}
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
			return s.authenticatorFailure(ctx, c, "code already used")
		}
		return s.store.ResetAuthenticatorFailures(ctx, c.AccountID)
	}
	return s.authenticatorFailure(ctx, c, "wrong code")
}

// authenticatorFailure counts a wrong authenticator code against every
// confirmed authenticator of the credential's account, locks them at
// MaxFailures and answers EUNAUTHORIZED.
func (s *Service) authenticatorFailure(ctx context.Context, c *selo.Credential, reason string) error {
	f, err := s.store.RecordAuthenticatorFailure(ctx, c.AccountID, s.clock.Now(), MaxFailures, approval.CoolingOff,
		s.entry(holder(c.AccountID), "approval.failure", "credential/"+c.ID, selo.OutcomeFailure,
			map[string]any{"code": selo.EUNAUTHORIZED, "reason": reason, "counted_on": "authenticators of account " + c.AccountID}))
	if err != nil {
		return err
	}
	if f.LockedUntil.IsZero() {
		return selo.Errorf(selo.EUNAUTHORIZED, "%s", reason)
	}
	s.appendAudit(ctx, s.entry("system", "authenticator.lock", "account/"+c.AccountID, selo.OutcomeSuccess,
		map[string]any{"until": f.LockedUntil, "lockouts": f.Lockouts}))
	return selo.Errorf(selo.EUNAUTHORIZED, "%s: authenticator locked until %s", reason, f.LockedUntil.UTC().Format(time.RFC3339))
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
