package server

import (
	"net/http"
	"strings"

	"github.com/selo-qtsp/selo"
)

// The operator API over holder accounts and credentials (API key): disabling
// an account or a credential ends at once every session, SAD and pending
// approval it has, so nothing issued before goes on signing.

// accountAdminRoutes registers the operator routes of accounts and credentials.
func (s *Server) accountAdminRoutes(mux *http.ServeMux, api func(http.HandlerFunc) http.HandlerFunc) {
	s.route(mux, "/api/v1/accounts/{account}/disable", api, methods{http.MethodPost: s.handleAccountDisabled(true)})
	s.route(mux, "/api/v1/accounts/{account}/enable", api, methods{http.MethodPost: s.handleAccountDisabled(false)})
	s.route(mux, "/api/v1/credentials/{id}/disable", api, methods{http.MethodPost: s.handleCredentialStatus(selo.CredentialDisabled)})
	s.route(mux, "/api/v1/credentials/{id}/enable", api, methods{http.MethodPost: s.handleCredentialStatus(selo.CredentialActive)})
}

// AccountStatus is the answer of the account and credential switches.
type AccountStatus struct {
	ID       string `json:"id"`
	Disabled bool   `json:"disabled"`
}

// handleAccountDisabled serves POST /api/v1/accounts/{account}/disable and
// /enable; {account} is the account ID or its e-mail address.
func (s *Server) handleAccountDisabled(disabled bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("account")
		if strings.Contains(id, "@") {
			a, err := s.signing.AccountByEmail(r.Context(), id)
			if err != nil {
				s.writeError(w, r, err)
				return
			}
			id = a.ID
		}
		if err := s.signing.SetAccountDisabled(r.Context(), actorFrom(r.Context()), id, disabled); err != nil {
			s.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, AccountStatus{ID: id, Disabled: disabled})
	}
}

// handleCredentialStatus serves POST /api/v1/credentials/{id}/disable and /enable.
func (s *Server) handleCredentialStatus(status selo.CredentialStatus) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		if err := s.signing.SetCredentialStatus(r.Context(), actorFrom(r.Context()), id, status); err != nil {
			s.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, AccountStatus{ID: id, Disabled: status == selo.CredentialDisabled})
	}
}
