package signing

import (
	"context"
	"net/mail"
	"regexp"
	"strings"
	"time"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/approval"
)

// CreateAccountRequest describes a new holder account.
type CreateAccountRequest struct {
	Email    string
	Name     string
	Mobile   string // E.164, e.g. "+351912345678"
	Password string // at least 12 characters
}

// MinPasswordLength is the shortest password an account accepts.
const MinPasswordLength = 12

var e164 = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)

// CreateAccount makes a holder account (an operator's act, audited as actor).
func (s *Service) CreateAccount(ctx context.Context, actor string, req CreateAccountRequest) (*selo.Account, error) {
	email := normalizeEmail(req.Email)
	if addr, err := mail.ParseAddress(email); err != nil || addr.Address != email {
		return nil, selo.Errorf(selo.EINVALID, "%q is not an e-mail address", req.Email)
	}
	if req.Mobile != "" && !e164.MatchString(req.Mobile) {
		return nil, selo.Errorf(selo.EINVALID, "mobile number must be in E.164 form, e.g. +351912345678")
	}
	if len(req.Password) < MinPasswordLength || len(req.Password) > maxPasswordLength {
		return nil, selo.Errorf(selo.EINVALID, "password must have %d to %d characters", MinPasswordLength, maxPasswordLength)
	}
	hash, err := HashPassword(req.Password, s.password)
	if err != nil {
		return nil, err
	}
	a := &selo.Account{ID: newID(), Email: email, Name: strings.TrimSpace(req.Name), Mobile: req.Mobile,
		PasswordHash: hash, CreatedAt: s.clock.Now()}
	if err := s.store.CreateAccount(ctx, a, s.entry(actor, "account.create", "account/"+a.ID, selo.OutcomeSuccess,
		map[string]any{"email": email})); err != nil {
		return nil, err
	}
	return a, nil
}

func normalizeEmail(e string) string { return strings.ToLower(strings.TrimSpace(e)) }

// errBadLogin is the one answer for an unknown e-mail and a wrong password.
func errBadLogin() error { return selo.Errorf(selo.EUNAUTHORIZED, "invalid e-mail or password") }

// login checks an e-mail and password and opens a session. The token is
// returned once; only its SHA-256 is stored. An unknown e-mail costs one
// argon2id verification like a known one, and gets the same answer as a
// wrong password. MaxFailures wrong passwords lock the account for
// approval.CoolingOff(lockouts), which grows with each lockout and is capped.
// The session has the given scope (see Login and LoginHolder).
func (s *Service) login(ctx context.Context, email, password string, scope selo.SessionScope) (string, *selo.Session, error) {
	now := s.clock.Now()
	a, err := s.store.FindAccountByEmail(ctx, normalizeEmail(email))
	if selo.ErrorCode(err) == selo.ENOTFOUND {
		VerifyPassword(password, s.dummyHash)
		s.auditFailure(ctx, "anonymous", "account.login", "account/unknown", errBadLogin(), nil)
		return "", nil, errBadLogin()
	} else if err != nil {
		return "", nil, err
	}
	object := "account/" + a.ID
	if now.Before(a.LockedUntil) {
		err := selo.Errorf(selo.EFORBIDDEN, "too many wrong passwords: account locked until %s", a.LockedUntil.UTC().Format(time.RFC3339))
		s.auditFailure(ctx, holder(a.ID), "account.login", object, err, nil)
		return "", nil, err
	}
	if !VerifyPassword(password, a.PasswordHash) {
		attempt, err := s.store.RecordLoginFailure(ctx, a.ID, now, MaxFailures, approval.CoolingOff,
			s.entry(holder(a.ID), "account.login", object, selo.OutcomeFailure, map[string]any{"code": selo.EUNAUTHORIZED, "reason": "wrong password"}))
		if err != nil {
			return "", nil, err
		}
		if !attempt.LockedUntil.IsZero() {
			s.appendAudit(ctx, s.entry("system", "account.lock", object, selo.OutcomeSuccess,
				map[string]any{"until": attempt.LockedUntil, "lockouts": attempt.Lockouts}))
			// The attempt that locks says so, so the holder knows why the
			// next ones will be refused and until when.
			return "", nil, selo.Errorf(selo.EFORBIDDEN, "invalid e-mail or password; too many wrong passwords: account locked until %s",
				attempt.LockedUntil.UTC().Format(time.RFC3339))
		}
		return "", nil, errBadLogin()
	}
	if a.Disabled {
		err := selo.Errorf(selo.EFORBIDDEN, "account disabled")
		s.auditFailure(ctx, holder(a.ID), "account.login", object, err, nil)
		return "", nil, err
	}
	token := randomToken()
	sess := &selo.Session{TokenHash: tokenHash(token), AccountID: a.ID, Scope: scope, CreatedAt: now, ExpiresAt: now.Add(s.sessionLifetime)}
	if err := s.store.CreateSession(ctx, sess, s.entry(holder(a.ID), "account.login", object, selo.OutcomeSuccess,
		map[string]any{"expires_at": sess.ExpiresAt, "scope": scope})); err != nil {
		return "", nil, err
	}
	return token, sess, nil
}

// Authenticate returns the live session of a bearer token; EUNAUTHORIZED for
// an unknown or expired one.
func (s *Service) Authenticate(ctx context.Context, token string) (*selo.Session, error) {
	if token == "" || len(token) > 256 {
		return nil, selo.Errorf(selo.EUNAUTHORIZED, "invalid or expired access token")
	}
	sess, err := s.store.FindSession(ctx, tokenHash(token), s.clock.Now())
	if selo.ErrorCode(err) == selo.ENOTFOUND {
		return nil, selo.Errorf(selo.EUNAUTHORIZED, "invalid or expired access token")
	}
	return sess, err
}

// Logout ends the session of a bearer token; EUNAUTHORIZED when there is none.
func (s *Service) Logout(ctx context.Context, token string) error {
	sess, err := s.Authenticate(ctx, token)
	if err != nil {
		return err
	}
	err = s.store.DeleteSession(ctx, sess.TokenHash, s.entry(holder(sess.AccountID), "account.logout", "account/"+sess.AccountID, selo.OutcomeSuccess, nil))
	if selo.ErrorCode(err) == selo.ENOTFOUND {
		return selo.Errorf(selo.EUNAUTHORIZED, "invalid or expired access token")
	}
	return err
}

// account returns an account or ENOTFOUND.
func (s *Service) account(ctx context.Context, id string) (*selo.Account, error) {
	a, err := s.store.FindAccount(ctx, id)
	if selo.ErrorCode(err) == selo.ENOTFOUND {
		return nil, selo.Errorf(selo.ENOTFOUND, "no such account")
	}
	return a, err
}

// AccountByEmail returns the account with this e-mail (any case), or
// ENOTFOUND; for operators' tools, not for holders.
func (s *Service) AccountByEmail(ctx context.Context, email string) (*selo.Account, error) {
	a, err := s.store.FindAccountByEmail(ctx, normalizeEmail(email))
	if err != nil {
		return nil, err
	}
	a.PasswordHash = ""
	return a, nil
}
