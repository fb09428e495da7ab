package server

import (
	"encoding/json"
	"net/http"

	"github.com/selo-qtsp/selo"
)

// Every operator API route states the roles that may call it (see
// docs/operators.md, "Roles and dual control"). Reads (GET, HEAD) are also
// open to auditors, who read everything and write nothing; any other
// method needs one of the route's roles. A key without them gets 403, and
// the refusal goes into the audit log.

// role authenticates the API key and lets the request through when the key
// holds one of roles, or when it is a read and the key holds the auditor
// role.
func (s *Server) role(roles ...selo.Role) func(http.HandlerFunc) http.HandlerFunc {
	return s.needRoles(true, roles)
}

// officerRoute is role(selo.RoleOfficer), for the registration desk's
// routes.
func (s *Server) officerRoute(next http.HandlerFunc) http.HandlerFunc {
	return s.role(selo.RoleOfficer)(next)
}

// only is role without the auditors' reads: for answers that hold secrets
// meant for one role (the outbox holds one-time codes).
func (s *Server) only(roles ...selo.Role) func(http.HandlerFunc) http.HandlerFunc {
	return s.needRoles(false, roles)
}

func (s *Server) needRoles(auditorsRead bool, roles []selo.Role) func(http.HandlerFunc) http.HandlerFunc {
	return func(next http.HandlerFunc) http.HandlerFunc {
		return s.authenticate(func(w http.ResponseWriter, r *http.Request) {
			have := rolesFrom(r)
			read := r.Method == http.MethodGet || r.Method == http.MethodHead
			if selo.HasRole(have, roles...) || (auditorsRead && read && selo.HasRole(have, selo.RoleAuditor)) {
				next(w, r)
				return
			}
			err := selo.Errorf(selo.EFORBIDDEN, "this API key's roles (%s) do not allow %s %s: it needs %s",
				roleList(have), truncate(r.Method, 16), truncate(r.URL.Path, 200), roleList(roles))
			s.auditForbidden(r, roles, have)
			s.writeError(w, r, err)
		})
	}
}

// auditForbidden records a request refused for its roles.
func (s *Server) auditForbidden(r *http.Request, need, have []selo.Role) {
	details, _ := json.Marshal(map[string]string{"method": truncate(r.Method, 16), "path": truncate(r.URL.Path, 200),
		"needs": selo.JoinRoles(need), "has": selo.JoinRoles(have)})
	entry := &selo.AuditEntry{Time: s.now().UTC(), Actor: actorFrom(r.Context()), Action: "api.forbidden",
		Object: "api" + truncate(r.URL.Path, 200), Outcome: selo.OutcomeFailure, Details: string(details)}
	if err := s.authority.RecordDecision(r.Context(), entry); err != nil {
		s.logger(r).Error("append audit entry", "action", "api.forbidden", "err", err)
	}
}

func rolesFrom(r *http.Request) []selo.Role {
	if ri := infoFrom(r.Context()); ri != nil {
		return ri.Roles
	}
	return nil
}

func roleList(roles []selo.Role) string {
	if len(roles) == 0 {
		return "none"
	}
	s := ""
	for i, r := range roles {
		switch {
		case i == 0:
		case i == len(roles)-1:
			s += " or "
		default:
			s += ", "
		}
		s += string(r)
	}
	return s
}
