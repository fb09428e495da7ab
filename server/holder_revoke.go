package server

import (
	"net/http"

	"github.com/selo-qtsp/selo"
)

// AccountRevokeRequest is the body of POST
// /api/v1/account/certificates/{serial}/revoke: the holder revokes a
// certificate of one of the account's credentials without the key's proof,
// with the password again and a one-time code.
type AccountRevokeRequest struct {
	Password string `json:"password"`
	// OTP is the code texted by .../revoke/code, or a code of the account's
	// authenticator app.
	OTP string `json:"otp"`
	// Reason is one of unspecified, keyCompromise, affiliationChanged,
	// superseded, cessationOfOperation.
	Reason string `json:"reason,omitempty"`
}

// handleAccountRevokeCode serves POST
// /api/v1/account/certificates/{serial}/revoke/code: texts the code that
// confirms the revocation (204).
func (s *Server) handleAccountRevokeCode(w http.ResponseWriter, r *http.Request) {
	if err := s.readOptionalJSON(w, r, &struct{}{}); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.signing.SendRevocationCode(r.Context(), accountID(r), r.PathValue("serial")); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// handleAccountRevoke serves POST /api/v1/account/certificates/{serial}/revoke.
func (s *Server) handleAccountRevoke(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	var req AccountRevokeRequest
	if err := s.readJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	reason, err := selo.ParseRevocationReason(req.Reason)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	rev, created, err := s.signing.RevokeCertificate(r.Context(), accountID(r), r.PathValue("serial"), req.Password, req.OTP, reason)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, createdStatus(created), revocationResponse(rev, created))
}
