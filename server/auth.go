package server

import (
	"net/http"
	"strings"

	"github.com/selo-qtsp/selo"
)

// authenticate lets a request through only with a valid operator API key in
// "Authorization: Bearer selo_...", and records "api:<key name>" as the
// actor that the handlers pass to the authority for the audit log.
func (s *Server) authenticate(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		// Answers of the operator API are per key and may hold personal data:
		// no shared cache may keep them.
		w.Header().Set("Cache-Control", "no-store")
		token, ok := bearerToken(r.Header.Get("Authorization"))
		if !ok {
			s.writeError(w, r, selo.Errorf(selo.EUNAUTHORIZED, "an API key is required: send Authorization: Bearer <key>"))
			return
		}
		key, err := s.authority.AuthenticateAPIKey(r.Context(), token)
		if err != nil {
			if selo.ErrorCode(err) == selo.EUNAUTHORIZED {
				s.logger(r).Warn("api key refused", "path", r.URL.Path, "remote", r.RemoteAddr)
			}
			s.writeError(w, r, err)
			return
		}
		if ri := infoFrom(r.Context()); ri != nil {
			ri.Actor = "api:" + key.Name
			ri.Roles = key.Roles
		}
		next(w, r)
	}
}

// bearerToken returns the credentials of an RFC 6750 Bearer authorization
// header. The scheme is case-insensitive (RFC 9110 11.1).
func bearerToken(header string) (string, bool) {
	scheme, token, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}
