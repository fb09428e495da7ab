package signing

import (
	"context"

	"github.com/selo-qtsp/selo"
)

// Login checks an e-mail and password and opens a CSC session: the access
// token of CSC auth/login, which an integrator holds. It reaches the CSC API
// only; the holder account API (where approval factors are managed) refuses
// it (RequireAccountScope). See login for lockouts and timing.
func (s *Service) Login(ctx context.Context, email, password string) (string, *selo.Session, error) {
	return s.login(ctx, email, password, "", selo.SessionCSC)
}

// LoginHolder checks an e-mail and password and opens a holder session
// (POST /api/v1/account/login): it reaches the holder account API and the
// CSC API. Changing an approval factor still needs an existing factor.
// code, a current code of one of the account's authenticators, is needed only
// while the e-mail is locked by failed logins (see login).
func (s *Service) LoginHolder(ctx context.Context, email, password, code string) (string, *selo.Session, error) {
	return s.login(ctx, email, password, code, selo.SessionAccount)
}

// RequireAccountScope refuses a session that may not use the holder account
// API: a CSC access token. The refusal is audited.
func (s *Service) RequireAccountScope(ctx context.Context, sess *selo.Session, path string) error {
	if sess.Scope == selo.SessionAccount {
		return nil
	}
	err := selo.Errorf(selo.EFORBIDDEN, "a CSC access token cannot use the holder account API: log in with POST /api/v1/account/login")
	s.auditFailure(ctx, holder(sess.AccountID), "account.access", "account/"+sess.AccountID, err, map[string]any{"path": path, "scope": sess.Scope})
	return err
}
