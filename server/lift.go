package server

import (
	"crypto/x509"
	"encoding/base64"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/pki"
	"github.com/selo-qtsp/selo/registration"
)

// The holder's lift flow (the "Certificate Emission Service"): public
// endpoints under /api/v1/lift/{number}/, authenticated by the order number
// in the path and the order's "ready to lift" code in the LiftCodeHeader
// header. The code never travels in the URL, where proxies and access logs
// would keep it, and no answer ever repeats it. Every route is rate limited
// per client address, and the service counts wrong codes against a lockout.

// LiftCodeHeader carries the order's "ready to lift" code on every lift request.
const LiftCodeHeader = "X-Selo-Lift-Code"

// Bounds of what a lift request may carry: real order numbers are
// "SO-2026-K7Q2M9XD", codes 12 characters (6 digits for the e-mail code);
// the bounds keep guesses and log lines short.
// (maxOrderNumberLength is in order.go.)
const maxLiftCodeLength = 64

// LiftStatus is where an order's lift stands: the answer of status, start,
// verify-email, key and delivered. Step says what the client does next
// (registration.Step*). KeyTypes and MinRSABits say which keys the profile
// accepts, so that a client makes a suitable one.
type LiftStatus struct {
	Number            string   `json:"number"`
	State             string   `json:"state"`
	Step              string   `json:"step"`
	Delivery          string   `json:"delivery"`
	Profile           string   `json:"profile"`
	KeyTypes          []string `json:"key_types"`
	MinRSABits        int      `json:"min_rsa_bits,omitempty"`
	PublicKeySHA256   string   `json:"public_key_sha256,omitempty"`
	CertificateSerial string   `json:"certificate_serial,omitempty"`
	// CredentialID is, for an issued cloud order, the signing credential
	// on the holder's account; AccountPasswordSet says whether that account
	// has a password yet (set the first one with POST .../account).
	CredentialID       string `json:"credential_id,omitempty"`
	AccountPasswordSet bool   `json:"account_password_set,omitempty"`
}

// LiftAccountRequest is the body of POST /api/v1/lift/{number}/account: the
// first password of the account a cloud order opened.
type LiftAccountRequest struct {
	Password string `json:"password"`
}

// LiftVerifyEmailRequest is the body of POST /api/v1/lift/{number}/verify-email.
type LiftVerifyEmailRequest struct {
	// Code is the verification code e-mailed by start.
	Code string `json:"code"`
}

// LiftKeyRequest is the body of POST /api/v1/lift/{number}/key.
type LiftKeyRequest struct {
	// CSR is the holder's PKCS#10 request in PEM, or its DER in base64; it
	// must be empty for cloud delivery, where Selo makes the key.
	CSR string `json:"csr,omitempty"`
}

// LiftCertificate is the answer of issue and certificate: the order's
// certificate and the chain to its root (issuing CA first, root last).
type LiftCertificate struct {
	Serial         string `json:"serial"`
	CertificatePEM string `json:"certificate_pem"`
	ChainPEM       string `json:"chain_pem"`
	// RevocationCode is set once, in the answer of the issue call that made
	// the certificate: it revokes the certificate without its key (POST
	// /api/v1/holder/revoke-with-code). Keep it apart from the key.
	RevocationCode string `json:"revocation_code,omitempty"`
}

// liftRoutes mounts the holder's lift flow, authenticated by the order
// number and its "ready to lift" code.
func (s *Server) liftRoutes(mux *http.ServeMux) {
	lift := func(h http.HandlerFunc) http.HandlerFunc { return s.limited(s.liftAuth(h)) }
	s.route(mux, "/api/v1/lift/{number}/status", lift, methods{http.MethodGet: s.handleLiftStatus})
	s.route(mux, "/api/v1/lift/{number}/start", lift, methods{http.MethodPost: s.handleLiftStart})
	s.route(mux, "/api/v1/lift/{number}/verify-email", lift, methods{http.MethodPost: s.handleLiftVerifyEmail})
	s.route(mux, "/api/v1/lift/{number}/key", lift, methods{http.MethodPost: s.handleLiftKey})
	s.route(mux, "/api/v1/lift/{number}/issue", lift, methods{http.MethodPost: s.handleLiftIssue})
	s.route(mux, "/api/v1/lift/{number}/certificate", lift, methods{http.MethodGet: s.handleLiftCertificate})
	s.route(mux, "/api/v1/lift/{number}/delivered", lift, methods{http.MethodPost: s.handleLiftDelivered})
	s.route(mux, "/api/v1/lift/{number}/account", lift, methods{http.MethodPost: s.handleLiftAccount})
	// The holder whose lift code is locked asks for a new one with the
	// renewal code of the "ready" e-mail; no lift code needed.
	s.route(mux, "/api/v1/lift/{number}/new-code", s.limited, methods{http.MethodPost: s.handleLiftNewCode})
}

// liftAuth checks that the request carries a plausible order number and
// lift code (the service checks that they are right), marks the answer
// uncacheable and records "holder:<number>" as the actor.
func (s *Server) liftAuth(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		number := r.PathValue("number")
		if number == "" || len(number) > maxOrderNumberLength || !utf8.ValidString(number) {
			s.writeError(w, r, selo.Errorf(selo.EINVALID, "the path does not hold an order number"))
			return
		}
		code := r.Header.Get(LiftCodeHeader)
		switch {
		case strings.TrimSpace(code) == "":
			s.writeError(w, r, selo.Errorf(selo.EUNAUTHORIZED, "send the order's code from the \"ready to lift\" e-mail in the %s header", LiftCodeHeader))
			return
		case len(code) > maxLiftCodeLength:
			s.writeError(w, r, selo.Errorf(selo.EUNAUTHORIZED, "the order number or code is wrong or has expired"))
			return
		}
		if ri := infoFrom(r.Context()); ri != nil {
			ri.Actor = "holder:" + number
		}
		next(w, r)
	}
}

// LiftNewCodeRequest is the body of POST /api/v1/lift/{number}/new-code.
type LiftNewCodeRequest struct {
	// RenewalCode is the renewal code of the "ready to lift" e-mail.
	RenewalCode string `json:"renewal_code"`
}

// LiftNewCodeResponse is the one answer of new-code, right or wrong, so
// that it never says whether the order exists.
type LiftNewCodeResponse struct {
	Message string `json:"message"`
}

// LiftNewCodeMessage is LiftNewCodeResponse's message.
const LiftNewCodeMessage = "if the order number and renewal code are right, a new lift code has been e-mailed to the holder"

// handleLiftNewCode serves POST /api/v1/lift/{number}/new-code: 202 with
// the same body whether or not the number and renewal code are right.
func (s *Server) handleLiftNewCode(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	number := r.PathValue("number")
	if number == "" || len(number) > maxOrderNumberLength || !utf8.ValidString(number) {
		s.writeError(w, r, selo.Errorf(selo.EINVALID, "the path does not hold an order number"))
		return
	}
	var req LiftNewCodeRequest
	if err := s.readJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if len(req.RenewalCode) > maxLiftCodeLength {
		req.RenewalCode = ""
	}
	if err := s.registration.RequestLiftCode(r.Context(), number, req.RenewalCode); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, LiftNewCodeResponse{Message: LiftNewCodeMessage})
}

// liftCode is the code liftAuth let through.
func liftCode(r *http.Request) string { return r.Header.Get(LiftCodeHeader) }

// readOptionalJSON decodes a body that may be absent (a POST that only
// names the step); a body that is present must be JSON and hold only v's
// fields.
func (s *Server) readOptionalJSON(w http.ResponseWriter, r *http.Request, v any) error {
	if r.ContentLength == 0 {
		return nil
	}
	return s.readJSON(w, r, v)
}

// liftStatus describes st for the client, with the keys the profile takes.
func (s *Server) liftStatus(st *registration.LiftStatus) LiftStatus {
	out := LiftStatus{Number: st.Number, State: string(st.State), Step: st.Step, Delivery: string(st.Delivery),
		Profile: st.Profile, KeyTypes: []string{}, PublicKeySHA256: st.PublicKeySHA256, CertificateSerial: st.CertificateSerial,
		CredentialID: st.CredentialID, AccountPasswordSet: st.AccountPasswordSet}
	if p, err := s.authority.Profile(st.Profile); err == nil {
		out.KeyTypes = append(out.KeyTypes, p.KeyTypes...)
		for _, k := range p.KeyTypes {
			if k == "rsa" {
				out.MinRSABits = p.MinRSABits
			}
		}
	}
	return out
}

func (s *Server) answerLiftStatus(w http.ResponseWriter, r *http.Request, st *registration.LiftStatus, err error) {
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, s.liftStatus(st))
}

func (s *Server) handleLiftStatus(w http.ResponseWriter, r *http.Request) {
	st, err := s.registration.CheckLift(r.Context(), r.PathValue("number"), liftCode(r))
	s.answerLiftStatus(w, r, st, err)
}

func (s *Server) handleLiftStart(w http.ResponseWriter, r *http.Request) {
	if err := s.readOptionalJSON(w, r, &struct{}{}); err != nil {
		s.writeError(w, r, err)
		return
	}
	st, err := s.registration.StartLift(r.Context(), r.PathValue("number"), liftCode(r))
	s.answerLiftStatus(w, r, st, err)
}

func (s *Server) handleLiftVerifyEmail(w http.ResponseWriter, r *http.Request) {
	var req LiftVerifyEmailRequest
	if err := s.readJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	switch {
	case strings.TrimSpace(req.Code) == "":
		s.writeError(w, r, selo.Errorf(selo.EINVALID, `field "code" is required: the verification code e-mailed to you`))
		return
	case len(req.Code) > maxLiftCodeLength:
		s.writeError(w, r, selo.Errorf(selo.EINVALID, `field "code" is too long to be a verification code`))
		return
	}
	st, err := s.registration.VerifyEmail(r.Context(), r.PathValue("number"), liftCode(r), req.Code)
	s.answerLiftStatus(w, r, st, err)
}

func (s *Server) handleLiftKey(w http.ResponseWriter, r *http.Request) {
	var req LiftKeyRequest
	if err := s.readOptionalJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	csr, err := liftCSR(req.CSR)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	st, err := s.registration.SubmitKey(r.Context(), r.PathValue("number"), liftCode(r), csr)
	s.answerLiftStatus(w, r, st, err)
}

// liftCSR turns the csr field into what SubmitKey takes: PEM as it is,
// base64 DER decoded, nothing as nothing.
func liftCSR(field string) ([]byte, error) {
	if strings.TrimSpace(field) == "" {
		return nil, nil
	}
	if strings.Contains(field, "-----BEGIN") {
		return []byte(field), nil
	}
	der, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(field), ""))
	if err != nil {
		return nil, selo.Errorf(selo.EINVALID, `field "csr" must be a PKCS#10 request in PEM ("-----BEGIN CERTIFICATE REQUEST-----") or base64 DER`)
	}
	return der, nil
}

func (s *Server) handleLiftIssue(w http.ResponseWriter, r *http.Request) {
	if err := s.readOptionalJSON(w, r, &struct{}{}); err != nil {
		s.writeError(w, r, err)
		return
	}
	cert, code, err := s.registration.IssueCertificateWithCode(r.Context(), r.PathValue("number"), liftCode(r))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	chain, err := s.authority.Chain(r.Context(), cert.CAID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.answerLiftCertificate(w, r, cert, chain, code)
}

func (s *Server) handleLiftCertificate(w http.ResponseWriter, r *http.Request) {
	cert, chain, err := s.registration.FetchCertificate(r.Context(), r.PathValue("number"), liftCode(r))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.answerLiftCertificate(w, r, cert, chain, "")
}

func (s *Server) answerLiftCertificate(w http.ResponseWriter, r *http.Request, cert *selo.Certificate, chain []*x509.Certificate, revocationCode string) {
	leaf, err := x509.ParseCertificate(cert.DER)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, LiftCertificate{Serial: cert.Serial, CertificatePEM: string(pki.EncodePEM(leaf)),
		ChainPEM: string(pki.EncodePEM(chain...)), RevocationCode: revocationCode})
}

func (s *Server) handleLiftDelivered(w http.ResponseWriter, r *http.Request) {
	if err := s.readOptionalJSON(w, r, &struct{}{}); err != nil {
		s.writeError(w, r, err)
		return
	}
	st, err := s.registration.ConfirmDelivery(r.Context(), r.PathValue("number"), liftCode(r))
	s.answerLiftStatus(w, r, st, err)
}

// handleLiftAccount serves POST /api/v1/lift/{number}/account: the holder of
// an issued cloud order sets the first password of the account it opened.
func (s *Server) handleLiftAccount(w http.ResponseWriter, r *http.Request) {
	var req LiftAccountRequest
	if err := s.readJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	st, err := s.registration.SetAccountPassword(r.Context(), r.PathValue("number"), liftCode(r), req.Password)
	s.answerLiftStatus(w, r, st, err)
}
