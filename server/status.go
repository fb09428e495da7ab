package server

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/authority"
	"github.com/selo-qtsp/selo/pki"
)

// Media types of certificate status.
const (
	mediaCRL          = "application/pkix-crl"
	mediaOCSPRequest  = "application/ocsp-request"
	mediaOCSPResponse = "application/ocsp-response"
)

// handleCRL serves GET /crl/{id}.crl: the CA's current full CRL in DER, at
// the URL its certificates name as CRL distribution point. It carries
// validators (ETag from the CRL number, Last-Modified from thisUpdate), so
// that clients and caches revalidate cheaply, and may be cached until
// nextUpdate but not longer than the server's cache max-age, so that a
// revocation reaches cached copies soon.
func (s *Server) handleCRL(w http.ResponseWriter, r *http.Request) {
	file := r.PathValue("file")
	id, ok := strings.CutSuffix(file, ".crl")
	if !ok || !validCAID(id) {
		s.writeError(w, r, selo.Errorf(selo.ENOTFOUND, "no such file: /crl/%s (want /crl/ID.crl)", file))
		return
	}
	crl, err := s.authority.CurrentCRL(r.Context(), id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", mediaCRL)
	h.Set("ETag", `"`+id+"-"+strconv.FormatInt(crl.Number, 10)+`"`)
	setCacheHeaders(h, time.Now(), crl.NextUpdate, s.cacheMaxAge)
	http.ServeContent(w, r, "", crl.ThisUpdate, bytes.NewReader(crl.DER))
}

// setCacheHeaders lets caches keep a status answer until nextUpdate, but at
// most maxAge.
func setCacheHeaders(h http.Header, now, nextUpdate time.Time, maxAge time.Duration) {
	age := nextUpdate.Sub(now)
	if maxAge > 0 && age > maxAge {
		age = maxAge
	}
	if age < 0 {
		age = 0
	}
	h.Set("Cache-Control", "public, max-age="+strconv.Itoa(int(age/time.Second))+", no-transform, must-revalidate")
	h.Set("Expires", now.Add(age).UTC().Format(http.TimeFormat))
}

// handleOCSPGet serves GET /ocsp/{request}: the DER request in base64, as
// RFC 6960 appendix A.1 and RFC 5019 5 describe, URL-escaped or not.
func (s *Server) handleOCSPGet(w http.ResponseWriter, r *http.Request) {
	// net/http has already unescaped the path (%2B, %2F, %3D), and the mux
	// is bypassed, so "//" inside the base64 survives.
	der, err := decodeOCSPPath(strings.TrimPrefix(r.URL.Path, "/ocsp/"))
	if err != nil {
		s.writeOCSP(w, r, authority.OCSPErrorAnswer(pki.OCSPMalformedRequest))
		return
	}
	s.writeOCSP(w, r, s.authority.RespondOCSP(r.Context(), der))
}

// decodeOCSPPath reads the base64 of a GET request. Clients escape it
// (%2B, %2F, %3D) or not; some turn '+' into a space; a few use the URL-safe
// alphabet.
func decodeOCSPPath(raw string) ([]byte, error) {
	if raw == "" || len(raw) > 4*pki.MaxOCSPRequestSize {
		return nil, errors.New("no request")
	}
	s := raw
	if strings.IndexByte(s, ' ') >= 0 {
		s = strings.ReplaceAll(s, " ", "+")
	}
	if der, ok := decodeBase64(s); ok {
		return der, nil
	}
	return nil, errors.New("not base64")
}

// decodeBase64 reads base64 in the standard or the URL alphabet, padded or
// not: clients write all four.
func decodeBase64(s string) ([]byte, bool) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, true
		}
	}
	return nil, false
}

// handleOCSPPost serves POST /ocsp with a DER request body.
func (s *Server) handleOCSPPost(w http.ResponseWriter, r *http.Request) {
	if r.ContentLength > pki.MaxOCSPRequestSize {
		s.writeOCSP(w, r, authority.OCSPErrorAnswer(pki.OCSPMalformedRequest))
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, pki.MaxOCSPRequestSize+1))
	if err != nil || len(body) > pki.MaxOCSPRequestSize {
		s.writeOCSP(w, r, authority.OCSPErrorAnswer(pki.OCSPMalformedRequest))
		return
	}
	s.writeOCSP(w, r, s.authority.RespondOCSP(r.Context(), body))
}

// writeOCSP writes an OCSP answer with the headers of RFC 5019 6: a response
// without a nonce may be cached until its nextUpdate, with validators; one
// with a nonce, or an error, may not be cached at all. OCSP errors are
// answered with HTTP 200: the status is inside the response, and OpenSSL
// reads it only with the right Content-Type.
func (s *Server) writeOCSP(w http.ResponseWriter, r *http.Request, ans authority.OCSPAnswer) {
	// Header keys are written in canonical form directly: this runs for
	// every relying party's request, and Header.Set canonicalizes each time.
	h := w.Header()
	h["Content-Type"] = ocspContentType
	if ans.Status == pki.OCSPSuccessful && ans.Cacheable {
		h["Etag"] = []string{ans.ETag}
		h["Last-Modified"] = []string{ans.LastModified}
		age := time.Until(ans.NextUpdate) / time.Second
		if age < 0 {
			age = 0
		}
		h["Cache-Control"] = []string{"public, max-age=" + strconv.FormatInt(int64(age), 10) + ", no-transform, must-revalidate"}
		h["Expires"] = []string{ans.Expires}
		if match := r.Header["If-None-Match"]; len(match) > 0 && match[0] == ans.ETag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
	} else {
		h["Cache-Control"] = noStore
	}
	h["Content-Length"] = []string{strconv.Itoa(len(ans.DER))}
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(ans.DER)
	}
}

var (
	ocspContentType = []string{mediaOCSPResponse}
	noStore         = []string{"no-store"}
)

// RevokeRequest is the JSON body of POST /api/v1/certificates/{serial}/revoke.
type RevokeRequest struct {
	// Reason is an RFC 5280 reason name, e.g. "keyCompromise"; empty is unspecified.
	Reason string `json:"reason,omitempty"`
	// InvalidityDate is when the key was, or may have been, compromised.
	InvalidityDate *time.Time `json:"invalidity_date,omitempty"`
}

// RevocationResponse describes a revocation.
type RevocationResponse struct {
	Serial         string     `json:"serial"`
	CA             string     `json:"ca"`
	Reason         string     `json:"reason"`
	RevokedAt      time.Time  `json:"revoked_at"`
	InvalidityDate *time.Time `json:"invalidity_date,omitempty"`
	// Created is false when the certificate was already revoked: the answer
	// is then the first revocation, unchanged.
	Created bool `json:"created"`
}

func revocationResponse(rev *selo.Revocation, created bool) *RevocationResponse {
	out := &RevocationResponse{Serial: rev.Serial, CA: rev.CAID, Reason: rev.Reason.String(), RevokedAt: rev.RevokedAt.UTC(), Created: created}
	if !rev.InvalidityDate.IsZero() {
		t := rev.InvalidityDate.UTC()
		out.InvalidityDate = &t
	}
	return out
}

// readJSON checks the media type and size of a JSON body and decodes it into v.
func (s *Server) readJSON(w http.ResponseWriter, r *http.Request, v any) error {
	if err := s.limitJSONBody(w, r); err != nil {
		return err
	}
	return decodeJSON(r.Body, v)
}

// limitJSONBody checks that a request body says it is JSON and refuses an
// announced oversized body before reading a byte of it; the MaxBytesReader
// it puts on r.Body catches bodies that lie or are chunked.
func (s *Server) limitJSONBody(w http.ResponseWriter, r *http.Request) error {
	if err := checkJSONContentType(r); err != nil {
		return err
	}
	if r.ContentLength > s.maxBodyBytes {
		return selo.Errorf(selo.ETOOLARGE, "the request body is larger than %d bytes", s.maxBodyBytes)
	}
	r.Body = http.MaxBytesReader(w, r.Body, s.maxBodyBytes)
	return nil
}

// readRevokeRequest reads the body of an operator's revocation, of a
// certificate or of a CA: {"reason", "invalidity_date"}.
func (s *Server) readRevokeRequest(w http.ResponseWriter, r *http.Request) (selo.RevocationReason, time.Time, error) {
	var req RevokeRequest
	if err := s.readJSON(w, r, &req); err != nil {
		return 0, time.Time{}, err
	}
	reason, err := selo.ParseRevocationReason(req.Reason)
	if err != nil {
		return 0, time.Time{}, err
	}
	var invalidity time.Time
	if req.InvalidityDate != nil {
		invalidity = *req.InvalidityDate
	}
	return reason, invalidity, nil
}

// createdStatus is the status of an idempotent create: 201 when this call
// made it, 200 with what an earlier call made.
func createdStatus(created bool) int {
	if created {
		return http.StatusCreated
	}
	return http.StatusOK
}

// handleRevoke serves POST /api/v1/certificates/{serial}/revoke (operators).
func (s *Server) handleRevoke(w http.ResponseWriter, r *http.Request) {
	reason, invalidity, err := s.readRevokeRequest(w, r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ar := authority.RevokeRequest{Serial: r.PathValue("serial"), Reason: reason, InvalidityDate: invalidity}
	rev, created, err := s.authority.Revoke(r.Context(), actorFrom(r.Context()), ar)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, createdStatus(created), revocationResponse(rev, created))
}

// CARevocationResponse is the answer of POST /api/v1/cas/{id}/revoke.
type CARevocationResponse struct {
	CA             string     `json:"ca"`
	Parent         string     `json:"parent"`
	Serial         string     `json:"serial"`
	Reason         string     `json:"reason"`
	RevokedAt      time.Time  `json:"revoked_at"`
	InvalidityDate *time.Time `json:"invalidity_date,omitempty"`
	Created        bool       `json:"created"`
}

// handleRevokeCA serves POST /api/v1/cas/{id}/revoke (operators), with the
// body of a certificate revocation ({"reason", "invalidity_date"}): 201 when
// revoked now, 200 with the first revocation when it already was.
func (s *Server) handleRevokeCA(w http.ResponseWriter, r *http.Request) {
	reason, invalidity, err := s.readRevokeRequest(w, r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ar := authority.RevokeCARequest{CAID: r.PathValue("id"), Reason: reason, InvalidityDate: invalidity}
	rev, created, err := s.authority.RevokeCA(r.Context(), actorFrom(r.Context()), ar)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := CARevocationResponse{CA: rev.CAID, Parent: rev.ParentID, Serial: rev.Serial, Reason: rev.Reason.String(),
		RevokedAt: rev.RevokedAt.UTC(), Created: created}
	if !rev.InvalidityDate.IsZero() {
		t := rev.InvalidityDate.UTC()
		out.InvalidityDate = &t
	}
	writeJSON(w, createdStatus(created), out)
}

// handleGetRevocation serves GET /api/v1/certificates/{serial}/revocation.
func (s *Server) handleGetRevocation(w http.ResponseWriter, r *http.Request) {
	rev, err := s.authority.FindRevocation(r.Context(), r.PathValue("serial"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, revocationResponse(rev, false))
}

// handleReleaseHold serves POST /api/v1/certificates/{serial}/release-hold.
func (s *Server) handleReleaseHold(w http.ResponseWriter, r *http.Request) {
	if err := s.authority.ReleaseHold(r.Context(), actorFrom(r.Context()), r.PathValue("serial")); err != nil {
		s.writeError(w, r, err)
		return
	}
	c, err := s.authority.FindCertificate(r.Context(), r.PathValue("serial"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, certificateResponse(c))
}

// HolderRevokeRequest is the JSON body of POST /api/v1/holder/revoke: a
// revocation asked for by whoever holds the certificate's private key, who
// signs authority.HolderRevokeMessage(serial, reason, time) with it.
type HolderRevokeRequest struct {
	Serial string `json:"serial"`
	// Reason is one of unspecified, keyCompromise, affiliationChanged,
	// superseded, cessationOfOperation.
	Reason string `json:"reason,omitempty"`
	// Time is when the message was signed (RFC 3339); within five minutes of the server's clock.
	Time time.Time `json:"time"`
	// Signature is the base64 signature (ECDSA or RSA PKCS#1 v1.5 over SHA-256).
	Signature string `json:"signature"`
}

// HolderRevokeWithCodeRequest is the JSON body of POST
// /api/v1/holder/revoke-with-code: a revocation asked for with the
// revocation code handed over at issuance, for a holder without the key.
type HolderRevokeWithCodeRequest struct {
	Serial string `json:"serial"`
	// Reason is one of unspecified, keyCompromise, affiliationChanged,
	// superseded, cessationOfOperation.
	Reason string `json:"reason,omitempty"`
	// RevocationCode is the code shown once when the certificate was issued.
	RevocationCode string `json:"revocation_code"`
}

// handleHolderRevokeWithCode serves POST /api/v1/holder/revoke-with-code. It
// needs no API key: the revocation code is the proof.
func (s *Server) handleHolderRevokeWithCode(w http.ResponseWriter, r *http.Request) {
	if s.registration == nil {
		s.writeError(w, r, selo.Errorf(selo.ENOTFOUND, "revocation codes need the registration desk, which is off"))
		return
	}
	var req HolderRevokeWithCodeRequest
	if err := s.readJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	reason, err := selo.ParseRevocationReason(req.Reason)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if len(req.RevocationCode) > 64 {
		req.RevocationCode = ""
	}
	rev, created, err := s.registration.RevokeWithCode(r.Context(), req.Serial, req.RevocationCode, reason)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, createdStatus(created), revocationResponse(rev, created))
}

// handleHolderRevoke serves POST /api/v1/holder/revoke. It needs no API key:
// the signature by the certificate's key is the proof.
func (s *Server) handleHolderRevoke(w http.ResponseWriter, r *http.Request) {
	var req HolderRevokeRequest
	if err := s.readJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	reason, err := selo.ParseRevocationReason(req.Reason)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	sig, ok := decodeBase64(req.Signature)
	if !ok {
		s.writeError(w, r, selo.Errorf(selo.EINVALID, "signature is not base64"))
		return
	}
	rev, created, err := s.authority.RevokeByHolder(r.Context(), authority.HolderRevokeRequest{
		Serial: req.Serial, Reason: reason, Time: req.Time, Signature: sig,
	})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, createdStatus(created), revocationResponse(rev, created))
}
