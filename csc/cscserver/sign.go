package cscserver

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/csc"
)

// maxOTPLength bounds a code: real ones are 6 to 8 digits.
const maxOTPLength = 64

func (h *handler) authorize(w http.ResponseWriter, r *http.Request, sess *selo.Session) {
	var req csc.CredentialsAuthorizeRequest
	if e := decodeBody(r, h.cfg.MaxBodyBytes, &req); e != nil {
		h.writeError(w, r, e)
		return
	}
	breq, e := h.authorizeRequest(sess.AccountID, &req)
	if e != nil {
		h.writeError(w, r, e)
		return
	}
	res, err := h.cfg.Backend.Authorize(r.Context(), *breq)
	if err != nil {
		h.backendError(w, r, opAuthorize, err)
		return
	}
	h.writeAuthorizeResult(w, r, res)
}

// authorizeRequest checks a credentials/authorize body and turns it into
// the backend's request.
func (h *handler) authorizeRequest(accountID string, req *csc.CredentialsAuthorizeRequest) (*selo.AuthorizeRequest, *csc.Error) {
	if e := checkID("credentialID", req.CredentialID); e != nil {
		return nil, e
	}
	if req.PIN != "" {
		return nil, newError(csc.ErrInvalidRequest, "Invalid parameter PIN: credentials here are authorized with an OTP, not a PIN")
	}
	if req.NumSignatures < 1 {
		return nil, newError(csc.ErrInvalidRequest, "Missing (or invalid type) integer parameter numSignatures")
	}
	if req.NumSignatures > h.cfg.MaxHashes {
		e := newError(csc.ErrInvalidRequest, "Invalid parameter numSignatures: at most %d in one request", h.cfg.MaxHashes)
		e.Status = http.StatusRequestEntityTooLarge
		return nil, e
	}
	if len(req.Hashes) == 0 {
		return nil, newError(csc.ErrInvalidRequest, "Missing (or invalid type) array parameter hashes: SCAL2 binds the SAD to the hashes")
	}
	hashes, e := decodeHashes("hashes", req.Hashes, req.HashAlgorithmOID, h.cfg.MaxHashes)
	if e != nil {
		return nil, e
	}
	if len(hashes) != req.NumSignatures {
		return nil, newError(csc.ErrInvalidRequest, "Invalid parameter numSignatures: %d hashes were sent for %d signatures", len(hashes), req.NumSignatures)
	}
	otp := req.OTP
	for _, a := range req.AuthData {
		if !strings.EqualFold(a.ID, "OTP") {
			return nil, newError(csc.ErrInvalidRequest, "Invalid parameter authData: unknown object %q", truncate(a.ID, 32))
		}
		if otp != "" && otp != a.Value {
			return nil, newError(csc.ErrInvalidRequest, "Invalid parameter authData: two different OTPs")
		}
		otp = a.Value
	}
	if len(otp) > maxOTPLength {
		return nil, newError(csc.ErrInvalidRequest, "Invalid parameter OTP")
	}
	if len(req.Description) > 500 {
		return nil, newError(csc.ErrInvalidRequest, "Invalid parameter description: at most 500 characters")
	}
	return &selo.AuthorizeRequest{
		AccountID: accountID, CredentialID: req.CredentialID, HashAlgorithmOID: req.HashAlgorithmOID,
		Hashes: hashes, NumSignatures: req.NumSignatures, OTP: otp, Description: req.Description,
	}, nil
}

func (h *handler) authorizeCheck(w http.ResponseWriter, r *http.Request, sess *selo.Session) {
	var req csc.AuthorizeCheckRequest
	if e := decodeBody(r, h.cfg.MaxBodyBytes, &req); e != nil {
		h.writeError(w, r, e)
		return
	}
	if e := checkID("responseID", req.ResponseID); e != nil {
		h.writeError(w, r, e)
		return
	}
	res, err := h.cfg.Backend.AuthorizeCheck(r.Context(), sess.AccountID, req.ResponseID)
	if err != nil {
		h.backendError(w, r, opAuthorizeCheck, err)
		return
	}
	if req.CredentialID != "" && res.Pending != nil && res.Pending.CredentialID != req.CredentialID {
		h.writeError(w, r, newError(csc.ErrInvalidRequest, "Invalid parameter credentialID"))
		return
	}
	h.writeAuthorizeResult(w, r, res)
}

func (h *handler) writeAuthorizeResult(w http.ResponseWriter, r *http.Request, res *selo.AuthorizeResult) {
	switch {
	case res.SAD != "":
		writeJSON(w, http.StatusOK, csc.AuthorizeResponse{SAD: res.SAD, ExpiresIn: int64(res.ExpiresIn.Seconds())})
	case res.Pending != nil:
		left := int64(res.Pending.ExpiresAt.Sub(h.cfg.Clock.Now()).Seconds())
		if left < 0 {
			left = 0
		}
		writeJSON(w, http.StatusOK, csc.AuthorizeResponse{ResponseID: res.Pending.ID, ExpiresIn: left})
	default:
		h.backendError(w, r, opAuthorize, errEmptyResult)
	}
}

var errEmptyResult = selo.Errorf(selo.EINTERNAL, "backend answered neither a SAD nor a pending approval")

func (h *handler) signHash(w http.ResponseWriter, r *http.Request, sess *selo.Session) {
	body, e := readBody(r, h.cfg.MaxBodyBytes)
	if e != nil {
		h.writeError(w, r, e)
		return
	}
	var req csc.SignaturesSignHashRequest
	if !decodeSignHashFast(string(body), &req) {
		if e := decodeJSON(body, &req); e != nil {
			h.writeError(w, r, e)
			return
		}
	}
	breq, e := h.signHashRequest(sess.AccountID, &req)
	if e != nil {
		h.writeError(w, r, e)
		return
	}
	sigs, err := h.cfg.Backend.SignHash(r.Context(), *breq)
	if err != nil {
		h.backendError(w, r, opSignHash, err)
		return
	}
	if len(sigs) != len(breq.Hashes) {
		h.backendError(w, r, opSignHash, errSignatureCount)
		return
	}
	// What writeJSON would write for csc.SignaturesSignHashResponse, without
	// a string per signature and reflection (see fastjson.go).
	out := appendSignatureList(make([]byte, 0, signatureListSize(sigs)), sigs)
	hd := w.Header()
	hd.Set("Content-Type", "application/json")
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Content-Length", strconv.Itoa(len(out)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(out)
}

var errSignatureCount = selo.Errorf(selo.EINTERNAL, "backend returned a different number of signatures than hashes")

// signHashRequest checks a signatures/signHash body and turns it into the
// backend's request.
func (h *handler) signHashRequest(accountID string, req *csc.SignaturesSignHashRequest) (*selo.SignHashRequest, *csc.Error) {
	if e := checkID("credentialID", req.CredentialID); e != nil {
		return nil, e
	}
	if req.SAD == "" {
		return nil, newError(csc.ErrInvalidRequest, "Missing (or invalid type) string parameter SAD")
	}
	if len(req.SAD) > 512 {
		return nil, newError(csc.ErrInvalidRequest, "Invalid SAD")
	}
	if req.OperationMode != "" && req.OperationMode != "S" {
		return nil, newError(csc.ErrInvalidRequest, "Invalid parameter operationMode: only synchronous (S) signing is offered")
	}
	if req.SignAlgo == "" {
		return nil, newError(csc.ErrInvalidRequest, "Missing (or invalid type) string parameter signAlgo")
	}
	hashAlg := req.HashAlgorithmOID
	if implied, ok := impliedHash[req.SignAlgo]; ok {
		if hashAlg == "" {
			hashAlg = implied
		} else if hashAlg != implied {
			return nil, newError(csc.ErrInvalidRequest, "Invalid parameter hashAlgorithmOID: signAlgo %s signs %s hashes", req.SignAlgo, implied)
		}
	} else if hashAlg == "" {
		return nil, newError(csc.ErrInvalidRequest, "Missing (or invalid type) string parameter hashAlgorithmOID: signAlgo %s does not imply one", truncate(req.SignAlgo, 64))
	}
	hashes, e := decodeHashes("hashes", req.Hashes, hashAlg, h.cfg.MaxHashes)
	if e != nil {
		return nil, e
	}
	var params []byte
	if req.SignAlgoParams != "" {
		var err error
		if params, err = strictBase64.DecodeString(req.SignAlgoParams); err != nil {
			return nil, newError(csc.ErrInvalidRequest, "Invalid parameter signAlgoParams: not base64")
		}
	}
	return &selo.SignHashRequest{
		AccountID: accountID, CredentialID: req.CredentialID, SAD: req.SAD, HashAlgorithmOID: hashAlg,
		Hashes: hashes, SignAlgo: req.SignAlgo, SignAlgoParams: params, Integrator: req.ClientData,
	}, nil
}
