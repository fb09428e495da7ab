package server

import (
	"context"
	"encoding/base64"
	"encoding/pem"
	"net/http"
	"time"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/approval"
	"github.com/selo-qtsp/selo/pki"
	"github.com/selo-qtsp/selo/signing"
)

// The holder REST API: the holder's own account (login with e-mail and
// password, then a bearer token), and the wallet device endpoints, which a
// wallet authenticates with its device key, never with the password.

// MaxWalletWait bounds the long-poll of GET /api/v1/wallet/{id}/approvals,
// well inside the server's write timeout.
const MaxWalletWait = 60 * time.Second

// Headers of a wallet's signed request (signing.WalletRequestBytes).
const (
	WalletTimeHeader      = "X-Selo-Wallet-Time"      // RFC 3339, seconds
	WalletSignatureHeader = "X-Selo-Wallet-Signature" // base64 ASN.1 ECDSA P-256 SHA-256
)

// holderRoutes registers the holder and wallet routes.
func (s *Server) holderRoutes(mux *http.ServeMux) {
	h := s.holder
	route := func(path string, wrap func(http.HandlerFunc) http.HandlerFunc, m methods) {
		s.route(mux, path, wrap, m)
	}
	route("/api/v1/account/login", s.limited, methods{http.MethodPost: s.handleHolderLogin})
	route("/api/v1/account/logout", h, methods{http.MethodPost: s.handleHolderLogout})
	route("/api/v1/account/credentials", h, methods{http.MethodGet: s.handleHolderCredentials})
	route("/api/v1/account/approvals", h, methods{http.MethodGet: s.handleHolderApprovals})
	route("/api/v1/account/factor-code", h, methods{http.MethodPost: s.handleFactorCode})
	route("/api/v1/account/certificates/{serial}/revoke", h, methods{http.MethodPost: s.handleAccountRevoke})
	route("/api/v1/account/certificates/{serial}/revoke/code", h, methods{http.MethodPost: s.handleAccountRevokeCode})
	route("/api/v1/account/authenticators", h, methods{http.MethodGet: s.handleListAuthenticators, http.MethodPost: s.handleEnrollAuthenticator})
	route("/api/v1/account/authenticators/{id}", h, methods{http.MethodDelete: s.handleDeleteAuthenticator})
	route("/api/v1/account/authenticators/{id}/confirm", h, methods{http.MethodPost: s.handleConfirmAuthenticator})
	route("/api/v1/account/wallets", h, methods{http.MethodGet: s.handleListWallets, http.MethodPost: s.handleEnrollWallet})
	route("/api/v1/account/wallets/{id}", h, methods{http.MethodDelete: s.handleDeleteWallet})
	route("/api/v1/account/authorizers", h, methods{http.MethodGet: s.handleListAuthorizers, http.MethodPost: s.handleRegisterAuthorizer})
	route("/api/v1/account/authorizers/{id}/confirm", h, methods{http.MethodPost: s.handleConfirmAuthorizer})
	route("/api/v1/account/authorizers/{id}/renew", h, methods{http.MethodPost: s.handleRenewAuthorizer})
	route("/api/v1/account/authorizers/{id}/renew/confirm", h, methods{http.MethodPost: s.handleConfirmRenewal})
	route("/api/v1/account/authorizers/{id}/enable", h, methods{http.MethodPost: s.handleEnableAuthorizer(true)})
	route("/api/v1/account/authorizers/{id}/disable", h, methods{http.MethodPost: s.handleEnableAuthorizer(false)})
	// A registration proves the one-time enrolment secret: rate limited
	// like every other endpoint that guards a secret.
	route("/api/v1/wallet/register", s.limited, methods{http.MethodPost: s.handleWalletRegister})
	route("/api/v1/wallet/{id}/approvals", walletRoute, methods{http.MethodGet: s.handleWalletApprovals})
	// Not /api/v1/wallet/approvals/{id}: ServeMux cannot tell that from
	// /api/v1/wallet/{id}/approvals. The wallet ID is in the path instead.
	route("/api/v1/wallet/{wallet}/approvals/{id}", walletRoute, methods{http.MethodPost: s.handleWalletDecision})
}

// walletRoute marks wallet answers uncacheable; the handler checks the device signature.
func walletRoute(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		next(w, r)
	}
}

type holderKey struct{}

// holder lets a request through only with a live holder session token (of
// scope account: never a CSC access token) and records "holder:<account ID>"
// as the actor.
func (s *Server) holder(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		token, ok := bearerToken(r.Header.Get("Authorization"))
		if !ok {
			s.writeError(w, r, selo.Errorf(selo.EUNAUTHORIZED, "log in first: send Authorization: Bearer <access token>"))
			return
		}
		sess, err := s.signing.Authenticate(r.Context(), token)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		// An integrator's CSC access token reaches the CSC API only.
		if err := s.signing.RequireAccountScope(r.Context(), sess, r.URL.Path); err != nil {
			s.writeError(w, r, err)
			return
		}
		if ri := infoFrom(r.Context()); ri != nil {
			ri.Actor = "holder:" + sess.AccountID
		}
		ctx := context.WithValue(r.Context(), holderKey{}, sess.AccountID)
		next(w, r.WithContext(ctx))
	}
}

// accountID is the holder's account, set by holder.
func accountID(r *http.Request) string {
	id, _ := r.Context().Value(holderKey{}).(string)
	return id
}

// LoginRequest is the body of POST /api/v1/account/login.
type LoginRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
	// OTP is a code of the account's authenticator app: needed only while
	// the e-mail is locked by too many failed logins (docs/holders.md).
	OTP string `json:"otp,omitempty"`
}

// LoginResponse carries a holder's bearer token.
type LoginResponse struct {
	AccessToken string    `json:"access_token"`
	TokenType   string    `json:"token_type"`
	ExpiresAt   time.Time `json:"expires_at"`
}

func (s *Server) handleHolderLogin(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	var req LoginRequest
	if err := s.readJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	token, sess, err := s.signing.LoginHolder(r.Context(), req.Email, req.Password, req.OTP)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, LoginResponse{AccessToken: token, TokenType: "Bearer", ExpiresAt: sess.ExpiresAt.UTC()})
}

func (s *Server) handleHolderLogout(w http.ResponseWriter, r *http.Request) {
	token, _ := bearerToken(r.Header.Get("Authorization"))
	if err := s.signing.Logout(r.Context(), token); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// HolderCredential is one of the holder's credentials.
type HolderCredential struct {
	ID          string `json:"id"`
	Description string `json:"description,omitempty"`
	Profile     string `json:"profile"`
	Approval    string `json:"approval"`
	Status      string `json:"status"`
	// CertificateStatus is the certificate's status as stored now: valid,
	// expired, not_yet_valid, revoked, suspended or superseded.
	CertificateStatus string   `json:"certificate_status"`
	LockedUntil       string   `json:"locked_until,omitempty"` // the last lock's end, past or future
	KeyAlgorithm      string   `json:"key_algorithm"`
	KeyBits           int      `json:"key_bits"`
	Subject           string   `json:"subject"`
	Serial            string   `json:"serial"`
	NotBefore         string   `json:"not_before"`
	NotAfter          string   `json:"not_after"`
	CertificatePEM    string   `json:"certificate_pem"`
	SignAlgorithms    []string `json:"sign_algorithms"`
}

func (s *Server) handleHolderCredentials(w http.ResponseWriter, r *http.Request) {
	cs, err := s.signing.ListCredentials(r.Context(), accountID(r))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := make([]HolderCredential, 0, len(cs))
	for _, c := range cs {
		hc := HolderCredential{
			ID: c.Credential.ID, Description: c.Credential.Description, Profile: c.Credential.Profile,
			Approval: string(c.Credential.ApprovalType), Status: string(c.Credential.Status), CertificateStatus: c.CertificateStatus,
			KeyAlgorithm: string(c.Credential.KeyAlgorithm), KeyBits: c.KeyBits,
			Subject: pki.NameString(c.Certificate.Subject), Serial: c.Credential.CertificateSerial,
			NotBefore: c.Certificate.NotBefore.UTC().Format(time.RFC3339), NotAfter: c.Certificate.NotAfter.UTC().Format(time.RFC3339),
			CertificatePEM: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Certificate.Raw})),
			SignAlgorithms: c.SignAlgorithms,
		}
		if !c.Credential.LockedUntil.IsZero() {
			hc.LockedUntil = c.Credential.LockedUntil.UTC().Format(time.RFC3339)
		}
		out = append(out, hc)
	}
	writeJSON(w, http.StatusOK, map[string]any{"credentials": out})
}

// HolderApproval is a signature approval as the holder sees it.
type HolderApproval struct {
	ID               string    `json:"id"`
	CredentialID     string    `json:"credential_id"`
	Type             string    `json:"type"`
	Status           string    `json:"status"`
	Description      string    `json:"description,omitempty"`
	HashAlgorithmOID string    `json:"hash_algorithm_oid,omitempty"`
	Hashes           []string  `json:"hashes,omitempty"` // base64
	CreatedAt        time.Time `json:"created_at"`
	ExpiresAt        time.Time `json:"expires_at"`
}

func (s *Server) handleHolderApprovals(w http.ResponseWriter, r *http.Request) {
	status := selo.ApprovalStatus(r.URL.Query().Get("status"))
	as, err := s.signing.ListApprovals(r.Context(), accountID(r), status)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := make([]HolderApproval, 0, len(as))
	for _, a := range as {
		out = append(out, holderApproval(a))
	}
	writeJSON(w, http.StatusOK, map[string]any{"approvals": out})
}

func holderApproval(a *selo.Approval) HolderApproval {
	ha := HolderApproval{ID: a.ID, CredentialID: a.CredentialID, Type: string(a.Type), Status: string(a.Status),
		Description: a.Description, HashAlgorithmOID: a.HashAlgorithmOID, CreatedAt: a.CreatedAt.UTC(), ExpiresAt: a.ExpiresAt.UTC()}
	for _, h := range a.Hashes {
		ha.Hashes = append(ha.Hashes, base64.StdEncoding.EncodeToString(h))
	}
	return ha
}

// NameRequest names a new authenticator. FactorCode or FactorApproval
// proves an existing approval factor: a code from a confirmed authenticator
// or the code that POST /api/v1/account/factor-code texted; or the ID of a
// factor-change request (factor-code with "via": "wallet") the holder's
// wallet approved.
type NameRequest struct {
	Name           string `json:"name"`
	FactorCode     string `json:"factor_code,omitempty"`
	FactorApproval string `json:"factor_approval,omitempty"`
}

// FactorRequest carries the proof of an existing approval factor that
// enrolling or removing one needs (see NameRequest).
type FactorRequest struct {
	FactorCode     string `json:"factor_code,omitempty"`
	FactorApproval string `json:"factor_approval,omitempty"`
}

// FactorCodeRequest asks for the proof of an existing factor: by SMS (Via
// "" or "sms") to the phone of the credential CredentialID (its
// certificate's), or the account's when ""; or (Via "wallet") as a request
// the holder's wallet approves.
type FactorCodeRequest struct {
	CredentialID string `json:"credential_id,omitempty"`
	Via          string `json:"via,omitempty"`
}

// FactorApprovalResponse names a factor-change request sent to the wallet.
type FactorApprovalResponse struct {
	ApprovalID string    `json:"approval_id"`
	ExpiresAt  time.Time `json:"expires_at"`
}

// readFactor reads the optional FactorRequest body of an enrolment or a
// removal; no body at all is an empty proof, which the service refuses with
// a message that says what to send.
func (s *Server) readFactor(w http.ResponseWriter, r *http.Request) (signing.FactorProof, error) {
	var req FactorRequest
	if r.ContentLength == 0 && r.Header.Get("Content-Type") == "" {
		return signing.FactorProof{}, nil
	}
	if err := s.readJSON(w, r, &req); err != nil {
		return signing.FactorProof{}, err
	}
	return signing.FactorProof{Code: req.FactorCode, WalletApprovalID: req.FactorApproval}, nil
}

func (s *Server) handleFactorCode(w http.ResponseWriter, r *http.Request) {
	var req FactorCodeRequest
	if r.ContentLength != 0 || r.Header.Get("Content-Type") != "" {
		if err := s.readJSON(w, r, &req); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	switch req.Via {
	case "wallet":
		a, err := s.signing.RequestWalletFactorApproval(r.Context(), accountID(r))
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusAccepted, FactorApprovalResponse{ApprovalID: a.ID, ExpiresAt: a.ExpiresAt.UTC()})
		return
	case "", "sms":
	default:
		s.writeError(w, r, selo.Errorf(selo.EINVALID, "via is sms or wallet"))
		return
	}
	if err := s.signing.RequestFactorCode(r.Context(), accountID(r), req.CredentialID); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusAccepted)
}

// CodeRequest carries a code: from an authenticator app or an SMS.
type CodeRequest struct {
	Code string `json:"code"`
}

// EnrollmentResponse is shown once: the URI holds a secret.
type EnrollmentResponse struct {
	ID        string     `json:"id"`
	URI       string     `json:"uri"`
	QRPNG     string     `json:"qr_png"` // base64 PNG
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
}

// HolderAuthenticator is an authenticator app of the holder.
type HolderAuthenticator struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Confirmed bool      `json:"confirmed"`
	CreatedAt time.Time `json:"created_at"`
}

func (s *Server) handleListAuthenticators(w http.ResponseWriter, r *http.Request) {
	as, err := s.signing.ListAuthenticators(r.Context(), accountID(r))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := make([]HolderAuthenticator, 0, len(as))
	for _, a := range as {
		out = append(out, HolderAuthenticator{ID: a.ID, Name: a.Name, Confirmed: a.Confirmed, CreatedAt: a.CreatedAt.UTC()})
	}
	writeJSON(w, http.StatusOK, map[string]any{"authenticators": out})
}

func (s *Server) handleEnrollAuthenticator(w http.ResponseWriter, r *http.Request) {
	var req NameRequest
	if err := s.readJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	e, err := s.signing.EnrollAuthenticator(r.Context(), accountID(r), req.Name, signing.FactorProof{Code: req.FactorCode, WalletApprovalID: req.FactorApproval})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, EnrollmentResponse{ID: e.Authenticator.ID, URI: e.URI, QRPNG: base64.StdEncoding.EncodeToString(e.QRPNG)})
}

func (s *Server) handleConfirmAuthenticator(w http.ResponseWriter, r *http.Request) {
	var req CodeRequest
	if err := s.readJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.signing.ConfirmAuthenticator(r.Context(), accountID(r), r.PathValue("id"), req.Code); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) handleDeleteAuthenticator(w http.ResponseWriter, r *http.Request) {
	proof, err := s.readFactor(w, r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.signing.DeleteAuthenticator(r.Context(), accountID(r), r.PathValue("id"), proof); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// HolderWallet is a wallet device of the holder.
type HolderWallet struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Disabled  bool      `json:"disabled"`
	CreatedAt time.Time `json:"created_at"`
}

func (s *Server) handleListWallets(w http.ResponseWriter, r *http.Request) {
	ws, err := s.signing.ListWallets(r.Context(), accountID(r))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := make([]HolderWallet, 0, len(ws))
	for _, x := range ws {
		out = append(out, HolderWallet{ID: x.ID, Name: x.Name, Disabled: x.Disabled, CreatedAt: x.CreatedAt.UTC()})
	}
	writeJSON(w, http.StatusOK, map[string]any{"wallets": out})
}

func (s *Server) handleEnrollWallet(w http.ResponseWriter, r *http.Request) {
	proof, err := s.readFactor(w, r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	o, err := s.signing.StartWalletEnrollment(r.Context(), accountID(r), proof)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	exp := o.ExpiresAt.UTC()
	writeJSON(w, http.StatusCreated, EnrollmentResponse{ID: o.EnrollmentID, URI: o.URI, QRPNG: base64.StdEncoding.EncodeToString(o.QRPNG), ExpiresAt: &exp})
}

func (s *Server) handleDeleteWallet(w http.ResponseWriter, r *http.Request) {
	proof, err := s.readFactor(w, r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.signing.DeleteWallet(r.Context(), accountID(r), r.PathValue("id"), proof); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// RegisterAuthorizerRequest names an authorizer for one e-seal credential.
type RegisterAuthorizerRequest struct {
	CredentialID string `json:"credential_id"`
	Name         string `json:"name"`
}

// HolderAuthorizer is an authorizer with its authorizations.
type HolderAuthorizer struct {
	ID             string                `json:"id"`
	CredentialID   string                `json:"credential_id"`
	Name           string                `json:"name"`
	Confirmed      bool                  `json:"confirmed"`
	Enabled        bool                  `json:"enabled"`
	CreatedAt      time.Time             `json:"created_at"`
	Authorizations []HolderAuthorization `json:"authorizations"`
}

// HolderAuthorization is a period in which an authorizer may approve.
type HolderAuthorization struct {
	ID        string    `json:"id"`
	NotBefore time.Time `json:"not_before"`
	NotAfter  time.Time `json:"not_after"`
}

// AuthorizerSetupResponse is shown once: it holds the authorizer's secret.
type AuthorizerSetupResponse struct {
	Authorizer HolderAuthorizer `json:"authorizer"`
	URI        string           `json:"uri"`
	Setup      any              `json:"setup"` // {"secret","algorithm","digits","period"}
}

func holderAuthorizer(a *selo.Authorizer, zs []*selo.Authorization) HolderAuthorizer {
	h := HolderAuthorizer{ID: a.ID, CredentialID: a.CredentialID, Name: a.Name, Confirmed: a.Confirmed, Enabled: a.Enabled,
		CreatedAt: a.CreatedAt.UTC(), Authorizations: []HolderAuthorization{}}
	for _, z := range zs {
		h.Authorizations = append(h.Authorizations, HolderAuthorization{ID: z.ID, NotBefore: z.NotBefore.UTC(), NotAfter: z.NotAfter.UTC()})
	}
	return h
}

func (s *Server) handleListAuthorizers(w http.ResponseWriter, r *http.Request) {
	ids := []string{r.URL.Query().Get("credential")}
	if ids[0] == "" {
		cs, err := s.signing.ListCredentials(r.Context(), accountID(r))
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		ids = ids[:0]
		for _, c := range cs {
			if c.Credential.ApprovalType == selo.ApprovalAuthorizer {
				ids = append(ids, c.Credential.ID)
			}
		}
	}
	out := []HolderAuthorizer{}
	for _, id := range ids {
		as, err := s.signing.ListAuthorizers(r.Context(), accountID(r), id)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		for _, a := range as {
			out = append(out, holderAuthorizer(a.Authorizer, a.Authorizations))
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"authorizers": out})
}

func (s *Server) handleRegisterAuthorizer(w http.ResponseWriter, r *http.Request) {
	var req RegisterAuthorizerRequest
	if err := s.readJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	a, err := s.signing.RegisterAuthorizer(r.Context(), accountID(r), req.CredentialID, req.Name)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, holderAuthorizer(a, nil))
}

func (s *Server) handleConfirmAuthorizer(w http.ResponseWriter, r *http.Request) {
	var req CodeRequest
	if err := s.readJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	setup, err := s.signing.ConfirmAuthorizer(r.Context(), accountID(r), r.PathValue("id"), req.Code)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, AuthorizerSetupResponse{
		Authorizer: holderAuthorizer(setup.Authorizer, []*selo.Authorization{setup.Authorization}),
		URI:        setup.URI, Setup: rawJSON(setup.JSON),
	})
}

func (s *Server) handleRenewAuthorizer(w http.ResponseWriter, r *http.Request) {
	if err := s.signing.RequestAuthorizationRenewal(r.Context(), accountID(r), r.PathValue("id")); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusAccepted)
}

func (s *Server) handleConfirmRenewal(w http.ResponseWriter, r *http.Request) {
	var req CodeRequest
	if err := s.readJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	z, err := s.signing.RenewAuthorization(r.Context(), accountID(r), r.PathValue("id"), req.Code)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, HolderAuthorization{ID: z.ID, NotBefore: z.NotBefore.UTC(), NotAfter: z.NotAfter.UTC()})
}

func (s *Server) handleEnableAuthorizer(enabled bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := s.signing.SetAuthorizerEnabled(r.Context(), accountID(r), r.PathValue("id"), enabled); err != nil {
			s.writeError(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

// WalletRegisterRequest is a wallet's registration (approval.WalletRegistration),
// byte fields in base64.
type WalletRegisterRequest struct {
	EnrollmentID string `json:"enrollment_id"`
	DeviceName   string `json:"device_name"`
	PublicKey    string `json:"public_key"` // PKIX DER
	Proof        string `json:"proof"`
	Signature    string `json:"signature"`
}

func (s *Server) handleWalletRegister(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	var req WalletRegisterRequest
	if err := s.readJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	reg := &approval.WalletRegistration{EnrollmentID: req.EnrollmentID, DeviceName: req.DeviceName}
	for _, f := range []struct {
		name string
		in   string
		out  *[]byte
	}{{"public_key", req.PublicKey, &reg.PublicKey}, {"proof", req.Proof, &reg.Proof}, {"signature", req.Signature, &reg.Signature}} {
		b, ok := decodeBase64(f.in)
		if !ok || len(b) == 0 {
			s.writeError(w, r, selo.Errorf(selo.EINVALID, "%s is not base64", f.name))
			return
		}
		*f.out = b
	}
	wl, err := s.signing.RegisterWallet(r.Context(), reg)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, HolderWallet{ID: wl.ID, Name: wl.Name, CreatedAt: wl.CreatedAt.UTC()})
}

// WalletChallenge is a pending approval as a wallet receives it: every field
// it signs, and the same as a selo-wallet://approve URI.
type WalletChallenge struct {
	ApprovalID       string    `json:"approval_id"`
	CredentialID     string    `json:"credential_id"`
	Description      string    `json:"description"`
	HashAlgorithmOID string    `json:"hash_algorithm_oid"`
	Hashes           []string  `json:"hashes"` // base64
	Nonce            string    `json:"nonce"`  // base64
	ExpiresAt        time.Time `json:"expires_at"`
	URI              string    `json:"uri"`
}

// ToChallenge returns the approval.WalletChallenge that c describes.
func (c *WalletChallenge) ToChallenge() (*approval.WalletChallenge, error) {
	return approval.ParseWalletChallengeURI(c.URI)
}

func (s *Server) handleWalletApprovals(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	at, err := time.Parse(time.RFC3339, r.Header.Get(WalletTimeHeader))
	sig, ok := decodeBase64(r.Header.Get(WalletSignatureHeader))
	if err != nil || !ok {
		s.writeError(w, r, selo.Errorf(selo.EUNAUTHORIZED, "a wallet request is signed: send %s and %s", WalletTimeHeader, WalletSignatureHeader))
		return
	}
	var wait time.Duration
	if q := r.URL.Query().Get("wait"); q != "" {
		if wait, err = time.ParseDuration(q); err != nil || wait < 0 {
			s.writeError(w, r, selo.Errorf(selo.EINVALID, "wait is a duration such as 30s"))
			return
		}
		wait = min(wait, MaxWalletWait)
	}
	wl, err := s.signing.AuthenticateWallet(r.Context(), id, at, sig)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	// Subscribe before reading, so that an approval created in between wakes us.
	news, stop := s.signing.WaitApprovals(wl.AccountID)
	defer stop()
	cs, err := s.signing.PendingApprovals(r.Context(), wl)
	if err == nil && len(cs) == 0 && wait > 0 {
		t := time.NewTimer(wait)
		select {
		case <-news:
			cs, err = s.signing.PendingApprovals(r.Context(), wl)
		case <-t.C:
		case <-r.Context().Done():
		}
		t.Stop()
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := make([]WalletChallenge, 0, len(cs))
	for _, c := range cs {
		wc := WalletChallenge{ApprovalID: c.ApprovalID, CredentialID: c.CredentialID, Description: c.Description,
			HashAlgorithmOID: c.HashAlgorithmOID, Nonce: base64.StdEncoding.EncodeToString(c.Nonce), ExpiresAt: c.ExpiresAt.UTC(), URI: c.URI()}
		for _, h := range c.Hashes {
			wc.Hashes = append(wc.Hashes, base64.StdEncoding.EncodeToString(h))
		}
		out = append(out, wc)
	}
	writeJSON(w, http.StatusOK, map[string]any{"approvals": out})
}

// WalletDecisionRequest is a wallet's signed answer to a challenge.
type WalletDecisionRequest struct {
	Approve   bool   `json:"approve"`
	Signature string `json:"signature"` // base64, approval.SignWalletDecision
}

func (s *Server) handleWalletDecision(w http.ResponseWriter, r *http.Request) {
	var req WalletDecisionRequest
	if err := s.readJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	sig, ok := decodeBase64(req.Signature)
	if !ok || len(sig) == 0 {
		s.writeError(w, r, selo.Errorf(selo.EINVALID, "signature is not base64"))
		return
	}
	if err := s.signing.DecideWalletApproval(r.Context(), r.PathValue("id"), r.PathValue("wallet"), req.Approve, sig); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// rawJSON embeds an already encoded JSON document in a response.
type rawJSON []byte

// MarshalJSON returns the document as it is.
func (j rawJSON) MarshalJSON() ([]byte, error) { return j, nil }
