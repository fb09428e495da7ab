package signing

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"time"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/approval"
)

// orLimit returns *l, or def when l is nil.
func orLimit[T any](l *T, def T) T {
	if l == nil {
		return def
	}
	return *l
}

// Rate keys. E-mail addresses are hashed: the table also counts addresses
// that have no account, which Selo has no reason to keep in clear.
func credentialCodeKey(id string) string { return "code:credential:" + id }
func accountCodeKey(id string) string    { return "code:account:" + id }
func factorCodeKey(id string) string     { return "code:factor:" + id }
func loginAddressKey(addr string) string { return "login:address:" + addr }
func loginEmailKey(email string) string {
	h := sha256.Sum256([]byte(email))
	return "login:email:" + hex.EncodeToString(h[:])
}

// limitCode counts a code about to be texted for credential c against the
// credential's and the account's windows. A refusal sends nothing, is
// audited and is ETOOMANYREQUESTS with when to retry; it does not count.
func (s *Service) limitCode(ctx context.Context, c *selo.Credential, purpose string) error {
	return s.limitSend(ctx, c.AccountID, credentialCodeKey(c.ID), "credential/"+c.ID, purpose)
}

// limitSend counts a code about to be texted against the windows of its
// subject (subjectKey: a credential, an account's factor-change codes) and
// of the account; see limitCode.
func (s *Service) limitSend(ctx context.Context, accountID, subjectKey, object, purpose string) error {
	now := s.clock.Now()
	retryAt, ok, err := s.takeRate(ctx, subjectKey, now, s.codeLimit.SubjectWindows())
	if err != nil {
		return err
	}
	if ok {
		if retryAt, ok, err = s.takeRate(ctx, accountCodeKey(accountID), now, s.codeLimit.AccountWindows()); err != nil {
			return err
		}
		if !ok && len(s.codeLimit.SubjectWindows()) > 0 {
			// The subject's code was not sent: its place is free again.
			if err := s.store.ReturnRate(ctx, subjectKey, now); err != nil {
				return err
			}
		}
	}
	if ok {
		return nil
	}
	err = selo.RateLimited(retryAt.Sub(now), "too many codes were sent for this credential or account")
	s.auditFailure(ctx, holder(accountID), "approval.send", object, err,
		map[string]any{"purpose": purpose, "retry_at": retryAt})
	return err
}

// takeRate is the store's TakeRate; no windows allow everything.
func (s *Service) takeRate(ctx context.Context, key string, now time.Time, windows []selo.RateWindow) (time.Time, bool, error) {
	if len(windows) == 0 {
		return time.Time{}, true, nil
	}
	return s.store.TakeRate(ctx, key, now, windows)
}

// accountCode reports whether code is the current code of one of the
// account's confirmed authenticators, and consumes that code (its time step).
// Like a code anywhere else, a wrong one counts against the account's
// authenticators (action and object name the attempt in the audit log), and
// while they are locked no code is accepted.
func (s *Service) accountCode(ctx context.Context, accountID, code, action, object string) (bool, error) {
	as, err := s.store.ListAuthenticators(ctx, accountID)
	if err != nil {
		return false, err
	}
	now := s.clock.Now()
	confirmed := 0
	for _, a := range as {
		if a.Confirmed && a.AccountID == accountID {
			confirmed++
			if now.Before(a.LockedUntil) {
				return false, nil
			}
		}
	}
	for _, a := range as {
		if !a.Confirmed || a.AccountID != accountID {
			continue
		}
		secret, err := s.secrets.Open(a.SealedSecret, authenticatorAD(a.ID))
		if err != nil {
			return false, err
		}
		step, ok := approval.VerifyTOTP(secret, code, now, otpParams(a.Settings), -1)
		if !ok {
			continue
		}
		advanced, err := s.store.AdvanceAuthenticatorStep(ctx, a.ID, step, false)
		if err != nil || !advanced {
			return false, err
		}
		return true, s.store.ResetAuthenticatorFailures(ctx, accountID)
	}
	if confirmed > 0 && code != "" {
		f, err := s.store.RecordAuthenticatorFailure(ctx, accountID, now, MaxFailures, approval.CoolingOff,
			s.failureEntry(holder(accountID), action, object, selo.Errorf(selo.EUNAUTHORIZED, "wrong authenticator code"), nil))
		if err != nil {
			return false, err
		}
		if !f.LockedUntil.IsZero() {
			s.appendAudit(ctx, s.entry("system", "authenticator.lock", "account/"+accountID, selo.OutcomeSuccess,
				map[string]any{"until": f.LockedUntil, "lockouts": f.Lockouts}))
		}
	}
	return false, nil
}
