package server

import (
	"encoding/pem"
	"net/http"
	"strings"
	"time"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/registration"
)

// UpdateChallengeRequest is the body of POST /api/v1/update/challenge: the
// certificate to update, in PEM or base64 DER.
type UpdateChallengeRequest struct {
	Certificate string `json:"certificate"`
}

// UpdateChallengeResponse carries the text the holder signs with the
// certificate's key (SHA-256; ECDSA ASN.1, RSA PKCS#1 v1.5 or RSA-PSS).
type UpdateChallengeResponse struct {
	Challenge string    `json:"challenge"`
	Serial    string    `json:"serial"`
	ExpiresAt time.Time `json:"expires_at"`
}

// UpdateCompleteRequest is the body of POST /api/v1/update/complete.
type UpdateCompleteRequest struct {
	Challenge string `json:"challenge"`
	// Signature is base64 (standard or URL alphabet, padded or not).
	Signature string `json:"signature"`
}

// UpdateCompleteResponse is the updated certificate and its chain in PEM
// (issuing CA first, root last).
type UpdateCompleteResponse struct {
	Serial         string    `json:"serial"`
	CA             string    `json:"ca"`
	NotAfter       time.Time `json:"not_after"`
	Certificate    string    `json:"certificate"`
	Chain          []string  `json:"chain"`
	Replaced       string    `json:"replaced"`
	AlreadyUpdated bool      `json:"already_updated"`
}

// updateRoutes mounts the certificate update under a new CA (the seed's
// "UpdateCertified"): the holder proves possession of the key by signing a
// server challenge. Both endpoints are public and rate limited: the
// signature is the holder's credential.
func (s *Server) updateRoutes(mux *http.ServeMux) {
	s.route(mux, "/api/v1/update/challenge", s.limited, methods{http.MethodPost: s.handleUpdateChallenge})
	s.route(mux, "/api/v1/update/complete", s.limited, methods{http.MethodPost: s.handleUpdateComplete})
}

func (s *Server) handleUpdateChallenge(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	var req UpdateChallengeRequest
	if err := s.readJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	cert := []byte(req.Certificate)
	switch {
	case strings.TrimSpace(req.Certificate) == "":
		s.writeError(w, r, selo.Errorf(selo.EINVALID, `field "certificate" is required: the certificate to update, in PEM`))
		return
	case !strings.Contains(req.Certificate, "-----BEGIN"):
		der, ok := decodeBase64(strings.Join(strings.Fields(req.Certificate), ""))
		if !ok {
			s.writeError(w, r, selo.Errorf(selo.EINVALID, `field "certificate" must be PEM or base64 DER`))
			return
		}
		cert = der
	}
	ch, err := s.registration.StartUpdate(r.Context(), cert)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, UpdateChallengeResponse{Challenge: ch.Challenge, Serial: ch.Serial, ExpiresAt: ch.ExpiresAt})
}

func (s *Server) handleUpdateComplete(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	var req UpdateCompleteRequest
	if err := s.readJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if req.Challenge == "" || req.Signature == "" {
		s.writeError(w, r, selo.Errorf(selo.EINVALID, `fields "challenge" and "signature" are required`))
		return
	}
	if len(req.Signature) > 2*registration.MaxUpdateSignatureBytes {
		s.writeError(w, r, selo.Errorf(selo.EINVALID, `field "signature" is longer than any signature`))
		return
	}
	sig, ok := decodeBase64(req.Signature)
	if !ok {
		s.writeError(w, r, selo.Errorf(selo.EINVALID, `field "signature" is not base64`))
		return
	}
	res, err := s.registration.CompleteUpdate(r.Context(), req.Challenge, sig)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := UpdateCompleteResponse{Serial: res.Certificate.Serial, CA: res.Certificate.CAID, NotAfter: res.Certificate.NotAfter,
		Certificate: pemCertificate(res.Certificate.DER), Replaced: res.Replaced, AlreadyUpdated: res.Already, Chain: []string{}}
	for _, c := range res.Chain {
		out.Chain = append(out.Chain, pemCertificate(c.Raw))
	}
	writeJSON(w, http.StatusOK, out)
}

func pemCertificate(der []byte) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}
