package control

import (
	"context"
	"regexp"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/signing"
)

// Password bounds of operator accounts.
const (
	MinOperatorPassword = 12
	maxOperatorPassword = 1024
)

// BootstrapAdmins is how many enabled admins may be made without a
// proposal: the first ones, so that there is someone to approve. Past it a
// new admin starts disabled and an approved admin.grant proposal enables it.
const BootstrapAdmins = 2

var usernamePattern = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`) })

// CreateOperator makes a back-office account with an argon2id password
// hash. by needs the admin role. Once BootstrapAdmins admins exist, an
// account with the admin role starts disabled until an admin.grant proposal
// is approved and executed (unless by breaks glass), so that no admin can
// make a second admin and approve their own proposals.
func (s *Service) CreateOperator(ctx context.Context, by Principal, username, password string, roles []selo.Role) (*selo.Operator, error) {
	object := "operator/" + username
	if err := s.requireAdmin(ctx, by, "operator.create", object); err != nil {
		return nil, err
	}
	op, err := s.newOperator(ctx, by, username, password, roles)
	if err != nil {
		s.auditFailure(ctx, by.Actor, "operator.create", object, err, nil)
		return nil, err
	}
	return op, nil
}

func (s *Service) newOperator(ctx context.Context, by Principal, username, password string, roles []selo.Role) (*selo.Operator, error) {
	if !usernamePattern().MatchString(username) {
		return nil, selo.Errorf(selo.EINVALID, "a user name is 1 to 64 lower-case letters, digits, dots, dashes or underscores, starting with a letter or digit")
	}
	if n := utf8.RuneCountInString(password); n < MinOperatorPassword || len(password) > maxOperatorPassword {
		return nil, selo.Errorf(selo.EINVALID, "an operator password has %d to %d characters", MinOperatorPassword, maxOperatorPassword)
	}
	roles, err := selo.ParseRoles(rolesToStrings(roles))
	if err != nil {
		return nil, err
	}
	disabled, err := s.gateAdmin(ctx, by, roles, "operator.create", "operator/"+username)
	if err != nil {
		return nil, err
	}
	hash, err := signing.HashPassword(password, s.params)
	if err != nil {
		return nil, err
	}
	id, err := newID()
	if err != nil {
		return nil, err
	}
	op := &selo.Operator{ID: id, Username: username, PasswordHash: hash, Roles: roles, Disabled: disabled, CreatedAt: s.clock.Now()}
	entry := s.audit(by.Actor, "operator.create", "operator/"+username, selo.OutcomeSuccess,
		map[string]any{"roles": selo.JoinRoles(roles), "disabled": disabled})
	if err := s.store.CreateOperator(ctx, op, entry); err != nil {
		return nil, err
	}
	return op, nil
}

// gateAdmin says whether a new account or key with roles must start
// disabled, waiting for an admin.grant proposal.
func (s *Service) gateAdmin(ctx context.Context, by Principal, roles []selo.Role, action, object string) (bool, error) {
	if !selo.HasRole(roles, selo.RoleAdmin) {
		return false, nil
	}
	n, err := s.store.CountAdmins(ctx)
	if err != nil {
		return false, err
	}
	if n < BootstrapAdmins {
		return false, nil
	}
	if by.BreakGlass {
		return false, s.breakGlass(ctx, by, action, object, map[string]string{"roles": selo.JoinRoles(roles)})
	}
	return true, nil
}

func rolesToStrings(roles []selo.Role) []string {
	out := make([]string, len(roles))
	for i, r := range roles {
		out[i] = string(r)
	}
	return out
}

// AuthenticateOperator returns the enabled account whose password this is,
// or EUNAUTHORIZED with one message for every cause. Both outcomes are
// audited (operator.login). Throttling is the caller's (the back office
// uses the rate limits of the holder's login).
func (s *Service) AuthenticateOperator(ctx context.Context, username, password string) (*selo.Operator, error) {
	refused := selo.Errorf(selo.EUNAUTHORIZED, "wrong user name or password")
	object := "operator/" + truncate(username, 64)
	op, err := s.store.FindOperator(ctx, username)
	switch {
	case selo.ErrorCode(err) == selo.ENOTFOUND:
		signing.VerifyPassword(password, s.dummyHash) // same time as a real check
		s.auditFailure(ctx, "operator:"+truncate(username, 64), "operator.login", object, refused, map[string]string{"why": "unknown user"})
		return nil, refused
	case err != nil:
		return nil, err
	}
	if !signing.VerifyPassword(password, op.PasswordHash) {
		s.auditFailure(ctx, "operator:"+op.Username, "operator.login", object, refused, map[string]string{"why": "wrong password"})
		return nil, refused
	}
	if op.Disabled {
		s.auditFailure(ctx, "operator:"+op.Username, "operator.login", object, refused, map[string]string{"why": "disabled"})
		return nil, refused
	}
	if err := s.store.AppendAudit(ctx, s.audit("operator:"+op.Username, "operator.login", object, selo.OutcomeSuccess,
		map[string]string{"roles": selo.JoinRoles(op.Roles)})); err != nil {
		return nil, err
	}
	return op, nil
}

// OperatorPrincipal is how an authenticated operator acts.
func OperatorPrincipal(op *selo.Operator) Principal {
	return Principal{Actor: "operator:" + op.Username, Roles: op.Roles}
}

// APIKeyPrincipal is how a program with an API key acts.
func APIKeyPrincipal(key *selo.APIKey) Principal {
	return Principal{Actor: "api:" + key.Name, Roles: key.Roles}
}

// ListOperators returns every account (password hashes included: callers
// never show them).
func (s *Service) ListOperators(ctx context.Context) ([]*selo.Operator, error) {
	return s.store.ListOperators(ctx)
}

// SignInOperator is AuthenticateOperator for the back office's sign-in
// form, throttled: each wrong password counts against the client address
// and the user name (whether or not the account exists) for LoginLimit's
// window, and past either limit every attempt is refused with
// ETOOMANYREQUESTS (audited) before the password is even checked. A right
// password takes back the attempts it counted.
func (s *Service) SignInOperator(ctx context.Context, username, password, clientAddr string) (*selo.Operator, error) {
	now := s.clock.Now()
	keys := []struct {
		key     string
		windows []selo.RateWindow
	}{
		{"operator-login-addr:" + truncate(clientAddr, 64), s.login.AddressWindows()},
		{"operator-login-user:" + truncate(strings.ToLower(username), 64), s.login.EmailWindows()},
	}
	var taken []string
	for _, k := range keys {
		if len(k.windows) == 0 {
			continue
		}
		retryAt, ok, err := s.store.TakeRate(ctx, k.key, now, k.windows)
		if err != nil {
			return nil, err
		}
		if !ok {
			for _, t := range taken {
				_ = s.store.ReturnRate(ctx, t, now)
			}
			err := selo.RateLimited(retryAt.Sub(now), "too many wrong sign-ins")
			s.auditFailure(ctx, "operator:"+truncate(username, 64), "operator.login", "operator/"+truncate(username, 64), err,
				map[string]string{"why": "throttled", "address": truncate(clientAddr, 64)})
			return nil, err
		}
		taken = append(taken, k.key)
	}
	op, err := s.AuthenticateOperator(ctx, username, password)
	if err == nil {
		for _, t := range taken {
			if err := s.store.ReturnRate(ctx, t, now); err != nil {
				return nil, err
			}
		}
	}
	return op, err
}

// ActiveOperator returns the enabled account with this user name, as it is
// now (roles included), or EUNAUTHORIZED: a signed-in back-office session
// asks on every request, so that disabling an account or changing its roles
// takes effect at once.
func (s *Service) ActiveOperator(ctx context.Context, username string) (*selo.Operator, error) {
	op, err := s.store.FindOperator(ctx, username)
	switch {
	case selo.ErrorCode(err) == selo.ENOTFOUND || err == nil && op.Disabled:
		return nil, selo.Errorf(selo.EUNAUTHORIZED, "operator %s is not an enabled account", truncate(username, 64))
	case err != nil:
		return nil, err
	}
	return op, nil
}

// RecordSignOut records that an operator signed out of the back office.
func (s *Service) RecordSignOut(ctx context.Context, username string) error {
	return s.store.AppendAudit(ctx, s.audit("operator:"+username, "operator.logout", "operator/"+username, selo.OutcomeSuccess, nil))
}

// SetOperatorDisabled disables or enables an account; by needs the admin
// role. Enabling an admin once BootstrapAdmins admins exist goes through an
// admin.grant proposal instead (EFORBIDDEN here), unless by breaks glass.
func (s *Service) SetOperatorDisabled(ctx context.Context, by Principal, username string, disabled bool) error {
	action := "operator.enable"
	if disabled {
		action = "operator.disable"
	}
	object := "operator/" + username
	if err := s.requireAdmin(ctx, by, action, object); err != nil {
		return err
	}
	if !disabled {
		op, err := s.store.FindOperator(ctx, username)
		if err != nil {
			return err
		}
		if gated, err := s.gateAdmin(ctx, by, op.Roles, action, object); err != nil {
			return err
		} else if gated {
			err := selo.Errorf(selo.EFORBIDDEN, "operator %s holds the admin role: enable it with an approved admin.grant proposal", username)
			s.auditFailure(ctx, by.Actor, action, object, err, nil)
			return err
		}
	}
	return s.store.SetOperatorDisabled(ctx, username, disabled, s.audit(by.Actor, action, object, selo.OutcomeSuccess, nil))
}

// CreateAPIKey makes an API key with roles and returns its secret (shown
// once). by needs the admin role; a key with the admin role starts disabled
// past the bootstrap, as CreateOperator's accounts do.
func (s *Service) CreateAPIKey(ctx context.Context, by Principal, name string, roles []selo.Role) (string, *selo.APIKey, error) {
	object := "apikey/" + name
	if err := s.requireAdmin(ctx, by, "apikey.create", object); err != nil {
		return "", nil, err
	}
	roles, err := selo.ParseRoles(rolesToStrings(roles))
	if err != nil {
		s.auditFailure(ctx, by.Actor, "apikey.create", object, err, nil)
		return "", nil, err
	}
	disabled, err := s.gateAdmin(ctx, by, roles, "apikey.create", object)
	if err != nil {
		return "", nil, err
	}
	secret, key, err := s.authority.CreateAPIKeyWithRoles(ctx, by.Actor, name, roles)
	if err != nil {
		return "", nil, err
	}
	if disabled {
		if err := s.store.SetAPIKeyDisabled(ctx, name, true, s.audit(by.Actor, "apikey.disable", "apikey/"+key.ID, selo.OutcomeSuccess,
			map[string]string{"why": "admin key waits for an admin.grant proposal"})); err != nil {
			return "", nil, err
		}
		key.Disabled = true
	}
	return secret, key, nil
}

// SetAPIKeyDisabled disables or enables the key named name, under the same
// rule as SetOperatorDisabled.
func (s *Service) SetAPIKeyDisabled(ctx context.Context, by Principal, name string, disabled bool) error {
	action := "apikey.enable"
	if disabled {
		action = "apikey.disable"
	}
	object := "apikey/" + name
	if err := s.requireAdmin(ctx, by, action, object); err != nil {
		return err
	}
	if !disabled {
		key, err := s.findAPIKey(ctx, name)
		if err != nil {
			return err
		}
		if gated, err := s.gateAdmin(ctx, by, key.Roles, action, object); err != nil {
			return err
		} else if gated {
			err := selo.Errorf(selo.EFORBIDDEN, "API key %s holds the admin role: enable it with an approved admin.grant proposal", name)
			s.auditFailure(ctx, by.Actor, action, object, err, nil)
			return err
		}
	}
	return s.store.SetAPIKeyDisabled(ctx, name, disabled, s.audit(by.Actor, action, object, selo.OutcomeSuccess, nil))
}

// ListAPIKeys returns every API key.
func (s *Service) ListAPIKeys(ctx context.Context) ([]*selo.APIKey, error) {
	return s.store.ListAPIKeys(ctx)
}

func (s *Service) findAPIKey(ctx context.Context, name string) (*selo.APIKey, error) {
	keys, err := s.store.ListAPIKeys(ctx)
	if err != nil {
		return nil, err
	}
	for _, k := range keys {
		if k.Name == name {
			return k, nil
		}
	}
	return nil, selo.Errorf(selo.ENOTFOUND, "API key %s not found", name)
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
