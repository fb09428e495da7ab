package signing

import (
	"context"
	"net/mail"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/selo-qtsp/selo"
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

var e164 = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`) })

// CreateAccount makes a holder account (an operator's act, audited as actor).
func (s *Service) CreateAccount(ctx context.Context, actor string, req CreateAccountRequest) (*selo.Account, error) {
	email := normalizeEmail(req.Email)
	if addr, err := mail.ParseAddress(email); err != nil || addr.Address != email {
		return nil, selo.Errorf(selo.EINVALID, "%q is not an e-mail address", req.Email)
	}
	if req.Mobile != "" && !e164().MatchString(req.Mobile) {
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

// errEmailLocked is the one answer for an e-mail address with too many
// failed logins, whether or not it has an account.
func errEmailLocked(retryAfter time.Duration) error {
	return selo.RateLimited(retryAfter, "too many failed logins for this e-mail address: log in with the password and a code of your authenticator app")
}

// login checks an e-mail and password (and, when the e-mail is
// locked, code, the current code of one of the account's authenticators) and
// opens a session. The token is returned once; only its SHA-256 is stored.
//
// Nothing in the answer or its timing tells whether the e-mail has an
// account: an unknown e-mail costs one argon2id verification (of a dummy
// hash) like a known one, gets the same answer as a wrong password, and is
// locked the same way. Failures are counted first per client address (the
// attacker's), then per e-mail address (selo.LoginLimit, in the store so that
// every replica counts them): too many from one address is
// ETOOMANYREQUESTS for that address alone; too many for one e-mail locks the
// e-mail until its window has room, except for the right password with an
// authenticator code, so that whoever locks a holder out on purpose does not
// keep a holder with an authenticator out. A successful login does not count.
// The session has the given scope (see Login and LoginHolder).
func (s *Service) login(ctx context.Context, email, password, code string, scope selo.SessionScope) (string, *selo.Session, error) {
	a, secondFactor, err := s.checkLogin(ctx, email, password, code)
	if err != nil {
		return "", nil, err
	}
	now := s.clock.Now()
	token := randomToken()
	sess := &selo.Session{TokenHash: tokenHash(token), AccountID: a.ID, Scope: scope, CreatedAt: now, ExpiresAt: now.Add(s.sessionLifetime)}
	details := map[string]any{"expires_at": sess.ExpiresAt, "scope": scope}
	if secondFactor {
		details["second_factor"] = "authenticator"
	}
	if err := s.store.CreateSession(ctx, sess, s.entry(holder(a.ID), "account.login", "account/"+a.ID, selo.OutcomeSuccess, details)); err != nil {
		return "", nil, err
	}
	return token, sess, nil
}

// checkLogin is the password check of login (and of the portal's sign-in,
// CheckSignInPassword), with its limits and its audited refusals: it
// returns the account and whether an authenticator code let a locked e-mail
// in. A right password returns the rate events the attempt took.
func (s *Service) checkLogin(ctx context.Context, email, password, code string) (*selo.Account, bool, error) {
	now := s.clock.Now()
	email = normalizeEmail(email)
	var counted []string // the rate events this attempt took, returned if it succeeds
	if addr := selo.ClientAddress(ctx); addr != "" {
		key := loginAddressKey(addr)
		retryAt, ok, err := s.takeRate(ctx, key, now, s.loginLimit.AddressWindows())
		if err != nil {
			return nil, false, err
		}
		if !ok {
			err := selo.RateLimited(retryAt.Sub(now), "too many failed logins from your address")
			s.auditFailure(ctx, "anonymous", "account.login", "address/"+addr, err, nil)
			return nil, false, err
		}
		if len(s.loginLimit.AddressWindows()) > 0 {
			counted = append(counted, key)
		}
	}
	emailKey := loginEmailKey(email)
	lockedUntil, open, err := s.takeRate(ctx, emailKey, now, s.loginLimit.EmailWindows())
	if err != nil {
		return nil, false, err
	}
	if open && len(s.loginLimit.EmailWindows()) > 0 {
		counted = append(counted, emailKey)
	}
	a, err := s.store.FindAccountByEmail(ctx, email)
	known := err == nil
	if err != nil && selo.ErrorCode(err) != selo.ENOTFOUND {
		return nil, false, err
	}
	actor, object, hash := "anonymous", "account/unknown", s.dummyHash
	if known {
		actor, object, hash = holder(a.ID), "account/"+a.ID, a.PasswordHash
	}
	passwordOK := VerifyPassword(password, hash) && known
	secondFactor := false
	if !open {
		if passwordOK && code != "" {
			if secondFactor, err = s.accountCode(ctx, a.ID, code, "account.login", object); err != nil {
				return nil, false, err
			}
		}
		if !secondFactor {
			err := errEmailLocked(lockedUntil.Sub(now))
			s.auditFailure(ctx, actor, "account.login", object, err, nil)
			return nil, false, err
		}
	} else if !passwordOK {
		reason := "wrong password"
		if !known {
			reason = "unknown e-mail"
		}
		s.auditFailure(ctx, actor, "account.login", object, errBadLogin(), map[string]any{"cause": reason})
		return nil, false, errBadLogin()
	}
	if a.Disabled {
		err := selo.Errorf(selo.EFORBIDDEN, "account disabled")
		s.auditFailure(ctx, holder(a.ID), "account.login", object, err, nil)
		return nil, false, err
	}
	for _, key := range counted {
		if err := s.store.ReturnRate(ctx, key, now); err != nil {
			return nil, false, err
		}
	}
	return a, secondFactor, nil
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
