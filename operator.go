package selo

import (
	"context"
	"sort"
	"strings"
	"time"
)

// Role is what an API key or an operator account may do. Roles are not
// ranked: an admin is not also an officer, so that duties stay separate
// (ETSI EN 319 401 7.2); a person who does both holds both.
type Role string

// The roles of API keys and operator accounts.
const (
	// RoleAdmin manages CAs, profiles, key-store operations (all under dual
	// control), operators and API keys, and revokes CAs.
	RoleAdmin Role = "admin"
	// RoleOfficer is the registration officer: orders, identity checks,
	// issuance, revocation, holder accounts.
	RoleOfficer Role = "officer"
	// RoleAuditor reads everything an officer or admin can read and writes
	// nothing.
	RoleAuditor Role = "auditor"
	// RoleIntegrator is a program that issues and reads certificates (for
	// example a hosting platform asking for TLS certificates).
	RoleIntegrator Role = "integrator"
)

// Roles lists every role, in the order docs and help texts give them.
var Roles = []Role{RoleAdmin, RoleOfficer, RoleAuditor, RoleIntegrator}

// ParseRoles reads role names (each item may also be a comma-separated
// list) and returns them sorted without duplicates. EINVALID for an unknown
// role or none at all.
func ParseRoles(names []string) ([]Role, error) {
	seen := map[Role]bool{}
	for _, item := range names {
		for _, n := range strings.Split(item, ",") {
			n = strings.TrimSpace(n)
			if n == "" {
				continue
			}
			r := Role(n)
			if !r.Valid() {
				return nil, Errorf(EINVALID, "unknown role %q: use admin, officer, auditor or integrator", truncateRole(n))
			}
			seen[r] = true
		}
	}
	if len(seen) == 0 {
		return nil, Errorf(EINVALID, "at least one role is needed: admin, officer, auditor or integrator")
	}
	out := make([]Role, 0, len(seen))
	for r := range seen {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out, nil
}

func truncateRole(s string) string {
	if len(s) > 32 {
		return s[:32] + "…"
	}
	return s
}

// Valid reports whether r is one of Roles.
func (r Role) Valid() bool {
	for _, k := range Roles {
		if r == k {
			return true
		}
	}
	return false
}

// HasRole reports whether roles holds any of want.
func HasRole(roles []Role, want ...Role) bool {
	for _, r := range roles {
		for _, w := range want {
			if r == w {
				return true
			}
		}
	}
	return false
}

// JoinRoles writes roles as the comma-separated list stores keep.
func JoinRoles(roles []Role) string {
	s := make([]string, len(roles))
	for i, r := range roles {
		s[i] = string(r)
	}
	return strings.Join(s, ",")
}

// SplitRoles reads a list JoinRoles wrote. Unknown names are dropped, so a
// row changed by hand to hold a made-up role grants nothing.
func SplitRoles(s string) []Role {
	var out []Role
	for _, n := range strings.Split(s, ",") {
		if r := Role(strings.TrimSpace(n)); r.Valid() {
			out = append(out, r)
		}
	}
	return out
}

// Operator is a back-office account of a person (officer, admin, auditor):
// a user name, an argon2id password hash and roles. The back office signs
// operators in; API keys are for programs.
type Operator struct {
	ID           string
	Username     string
	PasswordHash string // argon2id PHC string; never shown
	Roles        []Role
	Disabled     bool
	CreatedAt    time.Time
}

// OperatorStore persists operator accounts and manages API keys.
type OperatorStore interface {
	// CreateOperator inserts an account; ECONFLICT when the ID or user name
	// exists. A zero CreatedAt is set from the store's clock.
	CreateOperator(ctx context.Context, op *Operator, audit *AuditEntry) error
	// FindOperator returns the account with this user name, disabled or
	// not, or ENOTFOUND.
	FindOperator(ctx context.Context, username string) (*Operator, error)
	// ListOperators returns every account by user name.
	ListOperators(ctx context.Context) ([]*Operator, error)
	// SetOperatorDisabled disables or enables an account; ENOTFOUND when
	// there is none.
	SetOperatorDisabled(ctx context.Context, username string, disabled bool, audit *AuditEntry) error
	// CountAdmins counts the enabled operator accounts and enabled API keys
	// holding the admin role.
	CountAdmins(ctx context.Context) (int, error)
	// ListAPIKeys returns every API key (hashes included) by name.
	ListAPIKeys(ctx context.Context) ([]*APIKey, error)
	// SetAPIKeyDisabled disables or enables the API key named name;
	// ENOTFOUND when there is none.
	SetAPIKeyDisabled(ctx context.Context, name string, disabled bool, audit *AuditEntry) error
}
