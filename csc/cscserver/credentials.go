package cscserver

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"net/http"
	"time"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/csc"
	"github.com/selo-qtsp/selo/pki"
)

// generalizedTime is how CSC formats validFrom and validTo.
const generalizedTime = "20060102150405Z"

// certificatesMode checks the certificates parameter: none, single (default) or chain.
func certificatesMode(v string) (string, *csc.Error) {
	switch v {
	case "":
		return "single", nil
	case "none", "single", "chain":
		return v, nil
	}
	return "", newError(csc.ErrInvalidRequest, "Invalid parameter certificates: want none, single or chain")
}

func (h *handler) list(w http.ResponseWriter, r *http.Request, sess *selo.Session) {
	var req csc.CredentialsListRequest
	if e := decodeBody(r, h.cfg.MaxBodyBytes, &req); e != nil {
		h.writeError(w, r, e)
		return
	}
	mode, e := certificatesMode(req.Certificates)
	if e != nil {
		h.writeError(w, r, e)
		return
	}
	if req.UserID != "" && req.UserID != sess.AccountID {
		// The access token names the user; another userID is not a way
		// to see someone else's credentials.
		h.writeError(w, r, newError(csc.ErrInvalidRequest, "Invalid parameter userID"))
		return
	}
	infos, err := h.cfg.Backend.ListCredentials(r.Context(), sess.AccountID)
	if err != nil {
		h.backendError(w, r, opOther, err)
		return
	}
	now := h.cfg.Clock.Now()
	resp := csc.CredentialsListResponse{CredentialIDs: []string{}, OnlyValid: req.OnlyValid}
	for _, ci := range infos {
		if ci.Credential.AccountID != sess.AccountID {
			continue // defence in depth: never list another account's credential
		}
		d := h.detail(ci, now, mode, req.CertInfo, req.AuthInfo)
		if req.OnlyValid && (d.Key.Status != "enabled" || d.Cert.Status != "valid") {
			continue
		}
		resp.CredentialIDs = append(resp.CredentialIDs, ci.Credential.ID)
		if req.CredentialInfo {
			d.CredentialID = ci.Credential.ID
			resp.CredentialInfos = append(resp.CredentialInfos, d)
		}
	}
	writeJSON(w, http.StatusOK, resp)
}

func (h *handler) credentialInfo(w http.ResponseWriter, r *http.Request, sess *selo.Session) {
	var req csc.CredentialsInfoRequest
	if e := decodeBody(r, h.cfg.MaxBodyBytes, &req); e != nil {
		h.writeError(w, r, e)
		return
	}
	if e := checkID("credentialID", req.CredentialID); e != nil {
		h.writeError(w, r, e)
		return
	}
	mode, e := certificatesMode(req.Certificates)
	if e != nil {
		h.writeError(w, r, e)
		return
	}
	ci, err := h.cfg.Backend.CredentialInfo(r.Context(), sess.AccountID, req.CredentialID)
	if err != nil {
		h.backendError(w, r, opCredential, err)
		return
	}
	if ci.Credential.AccountID != sess.AccountID {
		h.writeError(w, r, newError(csc.ErrInvalidRequest, "Invalid parameter credentialID"))
		return
	}
	writeJSON(w, http.StatusOK, h.detail(ci, h.cfg.Clock.Now(), mode, req.CertInfo, true))
}

// signatureQualifier names the kind of signature a profile makes, as CSC's
// signatureQualifier values do.
func signatureQualifier(profile string) string {
	switch profile {
	case "qualified-sign":
		return "eu_eidas_qes"
	case "qualified-seal":
		return "eu_eidas_qeseal"
	case "advanced-invoice", "advanced-email":
		return "eu_eidas_aes"
	}
	return ""
}

// detail renders a credential as credentials/info describes it.
func (h *handler) detail(ci *selo.CredentialInfo, now time.Time, certificates string, certInfo, authInfo bool) csc.CredentialDetail {
	c := ci.Credential
	d := csc.CredentialDetail{
		Description:        c.Description,
		SignatureQualifier: signatureQualifier(c.Profile),
		SCAL:               "2",
		Multisign:          ci.MaxHashes,
		Lang:               h.cfg.Lang,
		PIN:                &csc.PINPresent{Presence: "false"},
	}
	if d.Multisign <= 0 || d.Multisign > h.cfg.MaxHashes {
		d.Multisign = h.cfg.MaxHashes
	}
	d.Key = csc.KeyInfo{Status: "enabled", Algo: ci.SignAlgorithms, Len: ci.KeyBits}
	if d.Key.Algo == nil {
		d.Key.Algo = []string{}
	}
	locked := !c.LockedUntil.IsZero() && now.Before(c.LockedUntil)
	if c.Status != selo.CredentialActive || locked {
		d.Key.Status = "disabled"
	}
	if cert := ci.Certificate; cert != nil {
		if pub, ok := cert.PublicKey.(*ecdsa.PublicKey); ok {
			d.Key.Curve = curveOID(pub.Curve)
		}
		switch {
		case ci.CertificateStatus != "" && ci.CertificateStatus != "valid":
			// The status in the store (revoked, suspended, superseded) or
			// by the clock, as the backend read it for this request.
			d.Cert.Status = ci.CertificateStatus
		case now.Before(cert.NotBefore):
			d.Cert.Status = "not_yet_valid"
		case !now.Before(cert.NotAfter):
			d.Cert.Status = "expired"
		default:
			d.Cert.Status = "valid"
		}
		if d.Cert.Status != "valid" {
			d.Key.Status = "disabled" // the key cannot sign under this certificate
		}
		switch certificates {
		case "single":
			d.Cert.Certificates = []string{b64.EncodeToString(cert.Raw)}
		case "chain":
			d.Cert.Certificates = encodeChain(cert, ci.Chain)
		}
		if certInfo {
			d.Cert.IssuerDN = cert.Issuer.String()
			d.Cert.SubjectDN = pki.NameString(cert.Subject)
			d.Cert.SerialNumber = cert.SerialNumber.Text(16)
			d.Cert.ValidFrom = cert.NotBefore.UTC().Format(generalizedTime)
			d.Cert.ValidTo = cert.NotAfter.UTC().Format(generalizedTime)
		}
	} else {
		d.Cert.Status = "not_yet_valid" // the credential's certificate is not issued yet
		d.Key.Status = "disabled"
	}
	d.Auth = csc.AuthInfo{Mode: "explicit", Approval: string(c.ApprovalType)}
	d.AuthMode = "explicit"
	if authInfo {
		if obj, otp := authObject(c.ApprovalType); obj != nil {
			d.Auth.Expression = "OTP"
			d.Auth.Objects = []csc.AuthObject{*obj}
			d.OTP = otp
		}
	}
	return d
}

// authObject is the OTP a credential's approval type asks for; nil for
// wallet approvals, which need no code.
func authObject(t selo.ApprovalType) (*csc.AuthObject, *csc.OTPInfo) {
	var label, desc, kind, generator string
	switch t {
	case selo.ApprovalSMS:
		label, desc, kind, generator = "SMS code", "A code sent by SMS to the holder's mobile: call credentials/sendOTP first", "online", "sms"
	case selo.ApprovalAuthenticator:
		label, desc, kind, generator = "Authenticator code", "A code from the holder's authenticator app (RFC 6238 TOTP)", "offline", "totp"
	case selo.ApprovalAuthorizer:
		label, desc, kind, generator = "Authorizer code", "A signature code generated from the authorizer's secret", "offline", "totp"
	default:
		return nil, nil
	}
	return &csc.AuthObject{Type: "OTP", ID: "OTP", Format: "N", Label: label, Description: desc, Generator: generator},
		&csc.OTPInfo{Presence: "true", Type: kind, Format: "N", Label: label, Description: desc, ID: "OTP", Provider: "selo"}
}

func encodeChain(leaf *x509.Certificate, chain []*x509.Certificate) []string {
	out := []string{b64.EncodeToString(leaf.Raw)}
	for _, c := range chain {
		out = append(out, b64.EncodeToString(c.Raw))
	}
	return out
}

func curveOID(c elliptic.Curve) string {
	switch c {
	case elliptic.P256():
		return csc.OIDCurveP256
	case elliptic.P384():
		return csc.OIDCurveP384
	case elliptic.P521():
		return csc.OIDCurveP521
	}
	return ""
}
