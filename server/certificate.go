package server

import (
	"encoding/pem"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/authority"
	"github.com/selo-qtsp/selo/pki"
)

// Page sizes of GET /api/v1/certificates.
const (
	// DefaultPageSize is the page size when the request sets no limit.
	DefaultPageSize = 100
	// MaxPageSize is the largest limit accepted, so that one request cannot
	// make the server load the whole table.
	MaxPageSize = 1000
)

// CertificateResponse describes an issued certificate to API clients.
type CertificateResponse struct {
	Serial       string    `json:"serial"`
	CA           string    `json:"ca"`
	Profile      string    `json:"profile"`
	Subject      string    `json:"subject"`
	NotBefore    time.Time `json:"not_before"`
	NotAfter     time.Time `json:"not_after"`
	Status       string    `json:"status"`
	ReissuedFrom string    `json:"reissued_from,omitempty"`
	SupersededBy string    `json:"superseded_by,omitempty"`
	// Certificate is the certificate in PEM; Chain is its issuing CA's
	// certificate followed by the parents up to the root, in PEM. Both are
	// left out of list answers to keep pages small.
	Certificate string `json:"certificate,omitempty"`
	Chain       string `json:"chain,omitempty"`
}

// CertificateList is one page of GET /api/v1/certificates. Next, when set,
// is the "after" value of the following page.
type CertificateList struct {
	Certificates []*CertificateResponse `json:"certificates"`
	Next         string                 `json:"next,omitempty"`
}

func certificateResponse(c *selo.Certificate) *CertificateResponse {
	return &CertificateResponse{
		Serial: c.Serial, CA: c.CAID, Profile: c.Profile, Subject: c.Subject,
		NotBefore: c.NotBefore.UTC(), NotAfter: c.NotAfter.UTC(), Status: string(c.Status),
		ReissuedFrom: c.ReissuedFrom, SupersededBy: c.SupersededBy,
	}
}

// fullCertificateResponse adds the certificate and its chain in PEM.
func (s *Server) fullCertificateResponse(r *http.Request, c *selo.Certificate) (*CertificateResponse, error) {
	chain, err := s.authority.Chain(r.Context(), c.CAID)
	if err != nil {
		return nil, err
	}
	out := certificateResponse(c)
	out.Certificate = string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.DER}))
	out.Chain = string(pki.EncodePEM(chain...))
	return out, nil
}

// handleIssueCertificate serves POST /api/v1/certificates: issue from a CSR.
func (s *Server) handleIssueCertificate(w http.ResponseWriter, r *http.Request) {
	if err := s.limitJSONBody(w, r); err != nil {
		s.writeError(w, r, err)
		return
	}
	req, csr, err := decodeIssueRequest(r.Body)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	cert, err := s.authority.Issue(r.Context(), actorFrom(r.Context()), authority.IssueRequest{
		Profile: req.Profile, CAID: req.CA, CSR: csr,
	})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out, err := s.fullCertificateResponse(r, cert)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/v1/certificates/"+cert.Serial)
	writeJSON(w, http.StatusCreated, out)
}

// handleGetCertificate serves GET /api/v1/certificates/{serial}: JSON by
// default, the bare certificate with ?format=der|pem or an Accept header
// asking for application/pkix-cert or application/x-pem-file.
func (s *Server) handleGetCertificate(w http.ResponseWriter, r *http.Request) {
	format, err := certificateFormat(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	cert, err := s.authority.FindCertificate(r.Context(), r.PathValue("serial"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	switch format {
	case "der":
		writeBytes(w, mediaPKIXCert, cert.DER)
	case "pem":
		writeBytes(w, mediaPEM, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.DER}))
	default:
		out, err := s.fullCertificateResponse(r, cert)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, out)
	}
}

// certificateFormat picks json, der or pem. The query parameter wins over
// Accept because it is what a person types in a browser or curl.
func certificateFormat(r *http.Request) (string, error) {
	if f := r.URL.Query().Get("format"); f != "" {
		switch f = strings.ToLower(f); f {
		case "json", "der", "pem":
			return f, nil
		}
		return "", selo.Errorf(selo.EINVALID, "format must be json, der or pem, not %q", truncate(f, 16))
	}
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		mt, _, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		switch mt {
		case mediaPKIXCert, "application/x-x509-cert", "application/pkix-cert+der":
			return "der", nil
		case mediaPEM, "application/x-pem":
			return "pem", nil
		case "application/json":
			return "json", nil
		}
	}
	return "json", nil
}

func writeBytes(w http.ResponseWriter, mediaType string, b []byte) {
	w.Header().Set("Content-Type", mediaType)
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

// handleListCertificates serves GET /api/v1/certificates?ca=&status=&after=&limit=,
// one page in serial order. Pages are keyed by the last serial rather than
// an offset, so that certificates issued while a client pages through do not
// shift the pages and the store never scans what it skips.
func (s *Server) handleListCertificates(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	filter := selo.CertificateFilter{Limit: DefaultPageSize}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxPageSize {
			s.writeError(w, r, selo.Errorf(selo.EINVALID, "limit must be a whole number from 1 to %d, not %q", MaxPageSize, truncate(v, 16)))
			return
		}
		filter.Limit = n
	}
	if v := q.Get("status"); v != "" {
		switch st := selo.CertificateStatus(v); st {
		case selo.CertValid, selo.CertRevoked, selo.CertSuperseded:
			filter.Status = st
		default:
			s.writeError(w, r, selo.Errorf(selo.EINVALID, "status must be %s, %s or %s, not %q",
				selo.CertValid, selo.CertRevoked, selo.CertSuperseded, truncate(v, 16)))
			return
		}
	}
	if v := q.Get("after"); v != "" {
		after, err := authority.NormalizeSerial(v)
		if err != nil {
			s.writeError(w, r, selo.Errorf(selo.EINVALID, "after must be the serial of the last certificate of the previous page (the \"next\" value)"))
			return
		}
		filter.AfterSerial = after
	}
	if v := q.Get("ca"); v != "" {
		// An unknown CA is a 404 rather than an empty page, so that a typo
		// does not look like a CA that issued nothing.
		if !validCAID(v) {
			s.writeError(w, r, selo.Errorf(selo.ENOTFOUND, "no CA with id %q", truncate(v, maxNameLength)))
			return
		}
		if _, err := s.authority.FindCA(r.Context(), v); err != nil {
			s.writeError(w, r, err)
			return
		}
		filter.CAID = v
	}
	// One more than asked tells whether another page follows without a
	// second query or a "next" that leads to an empty page.
	pageSize := filter.Limit
	filter.Limit++
	certs, err := s.authority.ListCertificates(r.Context(), filter)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := CertificateList{Certificates: make([]*CertificateResponse, 0, min(len(certs), pageSize))}
	for i, c := range certs {
		if i == pageSize {
			out.Next = certs[i-1].Serial
			break
		}
		out.Certificates = append(out.Certificates, certificateResponse(c))
	}
	writeJSON(w, http.StatusOK, out)
}
