package trustlist

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Levels a signature is graded at (ETSI TS 119 172-4, TS 119 615).
const (
	LevelQES    = "QES"     // qualified certificate for e-signatures, key in a QSCD
	LevelQESeal = "QESeal"  // qualified certificate for e-seals, key in a QSCD
	LevelAdESQC = "AdES-QC" // qualified certificate, key not in a QSCD
	LevelAdES   = "AdES"    // anything else
)

// Set is what the loaded lists vouch for: their services, indexed by the
// public key of the service's certificate.
type Set struct {
	Lists    []*ListReport
	services map[[32]byte][]*entry
	pool     *x509.CertPool
}

type entry struct {
	list     *ListReport
	provider string
	service  *Service
	cert     *x509.Certificate
}

func newSet() *Set { return &Set{services: map[[32]byte][]*entry{}, pool: x509.NewCertPool()} }

func (s *Set) add(l *List, rep *ListReport) {
	if l.Providers == nil {
		return
	}
	for pi := range l.Providers.Providers {
		p := &l.Providers.Providers[pi]
		name := ""
		if len(p.Information.Name.Names) > 0 {
			name = p.Information.Name.Names[0].Value
		}
		for si := range p.Services {
			svc := &p.Services[si]
			seen := map[[32]byte]bool{}
			ids := []DigitalIdentity{svc.Information.Identity}
			if svc.History != nil {
				for _, h := range svc.History.Instances {
					ids = append(ids, h.Identity)
				}
			}
			for _, id := range ids {
				for _, c := range id.Certificates() {
					k := keyOf(c)
					if seen[k] {
						continue
					}
					seen[k] = true
					s.pool.AddCert(c)
					s.services[k] = append(s.services[k], &entry{list: rep, provider: name, service: svc, cert: c})
				}
			}
		}
	}
}

// keyOf identifies a service certificate as TS 119 615 matches one: by
// its subject and public key, so a re-issued CA certificate still matches.
func keyOf(c *x509.Certificate) [32]byte {
	h := sha256.New()
	h.Write(c.RawSubject)
	h.Write(c.RawSubjectPublicKeyInfo)
	var k [32]byte
	h.Sum(k[:0])
	return k
}

// Roots returns every service certificate of the usable lists, as trust
// anchors for chain validation.
func (s *Set) Roots() *x509.CertPool { return s.pool }

// Services returns how many service certificates the usable lists hold.
func (s *Set) Services() int {
	n := 0
	for _, e := range s.services {
		n += len(e)
	}
	return n
}

// Usable reports whether every list loaded checked out: signed as its
// pointer says and fresh.
func (s *Set) Usable() bool {
	for _, l := range s.Lists {
		if l.Status != ListOK {
			return false
		}
	}
	return len(s.Lists) > 0
}

// Qualification is a signature's grade and why.
type Qualification struct {
	Level        string     `json:"level"`
	Signer       string     `json:"signer,omitempty"`
	At           time.Time  `json:"at"` // when the services' status was taken
	TrustedList  string     `json:"trusted_list,omitempty"`
	Provider     string     `json:"provider,omitempty"`
	Service      string     `json:"service,omitempty"`
	Status       string     `json:"service_status,omitempty"`
	StatusSince  *time.Time `json:"service_status_since,omitempty"`
	Qualifiers   []string   `json:"qualifiers,omitempty"` // the Sie qualifiers that applied
	QCCompliance bool       `json:"qc_compliance"`        // as the certificate says
	QCSSCD       bool       `json:"qc_sscd"`
	QCType       string     `json:"qc_type,omitempty"`
	Reasons      []string   `json:"reasons"`
}

// Grade grades a validated chain (signer first, trust anchor last) at
// time at (the timestamp's, else the validation time): QES or QESeal when
// a CA/QC service granted at that time issued a qualified certificate whose
// key is in a QSCD, AdES-QC for a qualified certificate without one, AdES
// otherwise. The certificate's QC statements count unless the service's Sie
// qualifiers say otherwise.
func (s *Set) Grade(chain []*x509.Certificate, at time.Time) *Qualification {
	q := &Qualification{Level: LevelAdES, At: at.UTC()}
	if len(chain) == 0 {
		q.Reasons = append(q.Reasons, "the signer's certificate does not chain to a service of the trusted lists")
		return q
	}
	leaf := chain[0]
	qc := parseQCStatements(leaf)
	q.QCCompliance, q.QCSSCD, q.QCType = qc.compliance, qc.sscd, qc.qcType
	var e *entry
	for _, c := range chain[1:] {
		for _, cand := range s.services[keyOf(c)] {
			if cand.service.Information.Type == ServiceTypeCAQC {
				e = cand
				break
			}
		}
		if e != nil {
			break
		}
	}
	if e == nil {
		q.Reasons = append(q.Reasons, "no CA/QC service of the trusted lists issued the signer's certificate: its CA is on no list, so the signature is AdES at most")
		return q
	}
	q.TrustedList, q.Provider = e.list.Name(), e.provider
	if names := e.service.Information.Name.Names; len(names) > 0 {
		q.Service = names[0].Value
	}
	st := e.service.stateAt(at)
	if st == nil {
		q.Reasons = append(q.Reasons, fmt.Sprintf("the service %q was not yet on %s at %s", q.Service, q.TrustedList, at.UTC().Format(time.RFC3339)))
		return q
	}
	since := st.since.UTC()
	q.Status, q.StatusSince = shortURI(st.status), &since
	if st.status != StatusGranted {
		q.Reasons = append(q.Reasons, fmt.Sprintf("the service %q on %s was %s since %s, before %s: it did not vouch for qualified certificates then",
			q.Service, q.TrustedList, q.Status, since.Format(time.RFC3339), at.UTC().Format(time.RFC3339)))
		return q
	}
	q.Reasons = append(q.Reasons, fmt.Sprintf("issued under the CA/QC service %q of %q on %s, granted since %s", q.Service, q.Provider, q.TrustedList, since.Format(time.RFC3339)))

	// The Sie qualifiers whose criteria select this certificate.
	var qualifiers []string
	var additional []string
	if st.ext != nil {
		for _, x := range st.ext.Extensions {
			if x.Additional != nil {
				additional = append(additional, x.Additional.URI.Value)
			}
			if x.Qualifications == nil {
				continue
			}
			for _, el := range x.Qualifications.Elements {
				if el.Criteria.matches(leaf) {
					for _, qu := range el.Qualifiers {
						if !slices.Contains(qualifiers, qu.URI) {
							qualifiers = append(qualifiers, qu.URI)
						}
					}
				}
			}
		}
	}
	for _, u := range qualifiers {
		q.Qualifiers = append(q.Qualifiers, shortURI(u))
	}
	has := func(u ...string) bool {
		return slices.ContainsFunc(qualifiers, func(x string) bool { return slices.Contains(u, x) })
	}

	qualified := qc.compliance
	switch {
	case has(QCNotQualified):
		qualified = false
		q.Reasons = append(q.Reasons, "the list's NotQualified qualifier says the certificate is not qualified")
	case has(QCStatement) && !qc.compliance:
		qualified = true
		q.Reasons = append(q.Reasons, "the certificate has no QcCompliance statement, but the list's QCStatement qualifier makes it qualified")
	case qc.compliance:
		q.Reasons = append(q.Reasons, "the certificate states QcCompliance (qualified)")
	default:
		q.Reasons = append(q.Reasons, "the certificate has no QcCompliance statement and the list does not make it qualified")
	}
	if !qualified {
		return q
	}

	kind := qc.qcType
	switch {
	case has(QCForESig):
		kind = "esign"
	case has(QCForESeal):
		kind = "eseal"
	case has(QCForWSA):
		kind = "web"
	}
	if kind != qc.qcType {
		q.Reasons = append(q.Reasons, fmt.Sprintf("the list's qualifier makes it a certificate for %s (the certificate says %q)", kind, qc.qcType))
	}
	if kind == "" {
		kind = "esign"
		q.Reasons = append(q.Reasons, "neither the certificate nor the list says its type: taken as for electronic signatures")
	}
	if len(additional) > 0 {
		want := map[string]string{"esign": ForESignatures, "eseal": ForESeals}[kind]
		if !slices.Contains(additional, want) {
			q.Reasons = append(q.Reasons, fmt.Sprintf("the service is not granted for %s (its additional service information lists %s)", kind, strings.Join(mapSlice(additional, shortURI), ", ")))
			q.Level = LevelAdES
			return q
		}
	}

	qscd := qc.sscd
	switch {
	case has(QCWithQSCD, QCWithSSCD):
		qscd = true
		q.Reasons = append(q.Reasons, "the list's QCWithQSCD qualifier says the key is in a QSCD")
	case has(QCNoQSCD, QCNoSSCD):
		qscd = false
		q.Reasons = append(q.Reasons, "the list's QCNoQSCD qualifier says the key is not in a QSCD")
	case qc.sscd:
		q.Reasons = append(q.Reasons, "the certificate states QcSSCD (key in a QSCD)")
	default:
		q.Reasons = append(q.Reasons, "the certificate does not state QcSSCD and the list does not put the key in a QSCD")
	}
	switch {
	case qscd && kind == "esign":
		q.Level = LevelQES
	case qscd && kind == "eseal":
		q.Level = LevelQESeal
	default:
		q.Level = LevelAdESQC
	}
	return q
}

func mapSlice(in []string, f func(string) string) []string {
	out := make([]string, len(in))
	for i, s := range in {
		out[i] = f(s)
	}
	return out
}

// shortURI is the last path element of a URI: "granted", "QCWithQSCD".
func shortURI(u string) string { return u[strings.LastIndex(u, "/")+1:] }

// state is a service's status from a time on.
type state struct {
	status string
	since  time.Time
	ext    *Extensions
}

// stateAt returns the service's state in effect at t, nil when it had
// none yet.
func (s *Service) stateAt(t time.Time) *state {
	best := &state{s.Information.Status, s.Information.StatusStarting, s.Information.Extensions}
	if best.since.After(t) {
		best = nil
	}
	if s.History != nil {
		for _, h := range s.History.Instances {
			if h.StatusStarting.After(t) || (best != nil && !h.StatusStarting.After(best.since)) {
				continue
			}
			best = &state{h.Status, h.StatusStarting, h.Extensions}
		}
	}
	return best
}

// keyUsageBits maps the names CriteriaList uses to Go's bits.
var keyUsageBits = map[string]x509.KeyUsage{
	"digitalSignature": x509.KeyUsageDigitalSignature, "nonRepudiation": x509.KeyUsageContentCommitment,
	"keyEncipherment": x509.KeyUsageKeyEncipherment, "dataEncipherment": x509.KeyUsageDataEncipherment,
	"keyAgreement": x509.KeyUsageKeyAgreement, "keyCertSign": x509.KeyUsageCertSign, "crlSign": x509.KeyUsageCRLSign,
	"encipherOnly": x509.KeyUsageEncipherOnly, "decipherOnly": x509.KeyUsageDecipherOnly,
}

// matches reports whether cert meets the criteria list.
func (c Criteria) matches(cert *x509.Certificate) bool {
	var results []bool
	for _, ku := range c.KeyUsages {
		ok := len(ku.Bits) > 0
		for _, b := range ku.Bits {
			bit, known := keyUsageBits[b.Name]
			if !known || (cert.KeyUsage&bit != 0) != b.Value {
				ok = false
			}
		}
		results = append(results, ok)
	}
	policies := map[string]bool{}
	for _, p := range cert.Policies {
		policies[p.String()] = true
	}
	for _, p := range cert.PolicyIdentifiers {
		policies[p.String()] = true
	}
	for _, ps := range c.PolicySets {
		ok := len(ps.Policies) > 0
		for _, p := range ps.Policies {
			if !policies[strings.TrimPrefix(strings.TrimSpace(p.Identifier), "urn:oid:")] {
				ok = false
			}
		}
		results = append(results, ok)
	}
	switch c.Assert {
	case "all":
		return !slices.Contains(results, false)
	case "none":
		return !slices.Contains(results, true)
	default: // atLeastOne
		return slices.Contains(results, true)
	}
}

// qcStatements is what a certificate's QC statements (ETSI EN 319 412-5) say.
type qcStatements struct {
	compliance, sscd bool
	qcType           string
}

var (
	oidQCStatements = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 1, 3}
	oidQcCompliance = asn1.ObjectIdentifier{0, 4, 0, 1862, 1, 1}
	oidQcSSCD       = asn1.ObjectIdentifier{0, 4, 0, 1862, 1, 4}
	oidQcType       = asn1.ObjectIdentifier{0, 4, 0, 1862, 1, 6}
	qcTypes         = map[string]string{"0.4.0.1862.1.6.1": "esign", "0.4.0.1862.1.6.2": "eseal", "0.4.0.1862.1.6.3": "web"}
)

func parseQCStatements(cert *x509.Certificate) qcStatements {
	var out qcStatements
	for _, ext := range cert.Extensions {
		if !ext.Id.Equal(oidQCStatements) {
			continue
		}
		var stmts []struct {
			ID   asn1.ObjectIdentifier
			Info asn1.RawValue `asn1:"optional"`
		}
		if _, err := asn1.Unmarshal(ext.Value, &stmts); err != nil {
			return out
		}
		for _, s := range stmts {
			switch {
			case s.ID.Equal(oidQcCompliance):
				out.compliance = true
			case s.ID.Equal(oidQcSSCD):
				out.sscd = true
			case s.ID.Equal(oidQcType):
				var types []asn1.ObjectIdentifier
				if _, err := asn1.Unmarshal(s.Info.FullBytes, &types); err == nil && len(types) > 0 {
					out.qcType = qcTypes[types[0].String()]
				}
			}
		}
	}
	return out
}
