package server

import (
	"crypto/x509"
	"net/http"
	"sort"
	"time"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/pki"
)

// ProfileResponse describes a certificate profile to API clients: enough to
// choose one and build a matching CSR.
type ProfileResponse struct {
	Name         string   `json:"name"`
	Description  string   `json:"description"`
	Kind         string   `json:"kind"`
	KeyTypes     []string `json:"key_types"`
	MinRSABits   int      `json:"min_rsa_bits,omitempty"`
	ValidityDays int      `json:"validity_days"`
	KeyUsage     []string `json:"key_usage"`
	ExtKeyUsage  []string `json:"ext_key_usage"`
	Policies     []string `json:"policies"`
	Qualified    bool     `json:"qualified"`
	// SubjectRequired lists the subject attributes a request must carry.
	SubjectRequired []string `json:"subject_required"`
}

// ProfileList is the answer of GET /api/v1/profiles.
type ProfileList struct {
	Profiles []*ProfileResponse `json:"profiles"`
}

// CAResponse describes a CA to API clients.
type CAResponse struct {
	ID           string    `json:"id"`
	Name         string    `json:"name"`
	Subject      string    `json:"subject"`
	Parent       string    `json:"parent,omitempty"`
	KeyAlgorithm string    `json:"key_algorithm"`
	Status       string    `json:"status"`
	Serial       string    `json:"serial"`
	NotBefore    time.Time `json:"not_before"`
	NotAfter     time.Time `json:"not_after"`
	CreatedAt    time.Time `json:"created_at"`
	// CertificateURL and ChainURL are the public download paths.
	CertificateURL string `json:"certificate_url"`
	ChainURL       string `json:"chain_url"`
	// Certificate is the CA certificate in PEM (single-CA answers only).
	Certificate string `json:"certificate,omitempty"`
}

// CAList is the answer of GET /api/v1/cas.
type CAList struct {
	CAs []*CAResponse `json:"cas"`
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func (s *Server) handleListProfiles(w http.ResponseWriter, r *http.Request) {
	profiles := s.authority.Profiles()
	out := ProfileList{Profiles: make([]*ProfileResponse, 0, len(profiles))}
	for _, p := range profiles {
		out.Profiles = append(out.Profiles, profileResponse(p))
	}
	sort.Slice(out.Profiles, func(i, j int) bool { return out.Profiles[i].Name < out.Profiles[j].Name })
	writeJSON(w, http.StatusOK, out)
}

func profileResponse(p *pki.Profile) *ProfileResponse {
	return &ProfileResponse{
		Name: p.Name, Description: p.Description, Kind: p.Kind, KeyTypes: nonNil(p.KeyTypes),
		MinRSABits: p.MinRSABits, ValidityDays: p.ValidityDays, KeyUsage: nonNil(p.KeyUsage),
		ExtKeyUsage: nonNil(p.ExtKeyUsage), Policies: nonNil(p.Policies), Qualified: p.QC != nil && p.QC.Compliance,
		SubjectRequired: nonNil(p.Subject.Required),
	}
}

func (s *Server) handleListCAs(w http.ResponseWriter, r *http.Request) {
	cas, err := s.authority.ListCAs(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := CAList{CAs: make([]*CAResponse, 0, len(cas))}
	for _, ca := range cas {
		resp, err := caResponse(ca, false)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		out.CAs = append(out.CAs, resp)
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) handleGetCA(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !validCAID(id) {
		s.writeError(w, r, selo.Errorf(selo.ENOTFOUND, "no CA with id %q", truncate(id, maxNameLength)))
		return
	}
	ca, err := s.authority.FindCA(r.Context(), id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	resp, err := caResponse(ca, true)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

func caResponse(ca *selo.CA, withPEM bool) (*CAResponse, error) {
	cert, err := x509.ParseCertificate(ca.CertDER)
	if err != nil {
		// A stored CA certificate that does not parse is corruption: an
		// internal error, never the client's fault.
		return nil, err
	}
	out := &CAResponse{
		ID: ca.ID, Name: ca.Name, Subject: pki.NameString(cert.Subject), Parent: ca.ParentID,
		KeyAlgorithm: string(ca.KeyAlgorithm), Status: string(ca.Status), Serial: pki.SerialHex(cert.SerialNumber),
		NotBefore: cert.NotBefore, NotAfter: cert.NotAfter, CreatedAt: ca.CreatedAt,
		CertificateURL: "/ca/" + ca.ID + ".crt", ChainURL: "/ca/" + ca.ID + ".pem",
	}
	if withPEM {
		out.Certificate = string(pki.EncodePEM(cert))
	}
	return out, nil
}
