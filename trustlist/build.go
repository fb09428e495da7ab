package trustlist

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"slices"
	"time"

	"github.com/selo-qtsp/selo/docsign/xades"
)

// StatusChange is one change of a service's status.
type StatusChange struct {
	Status string    // StatusGranted or StatusWithdrawn
	At     time.Time // StatusStartingTime
}

// ServiceSpec describes one service of a provider's entry.
type ServiceSpec struct {
	Type        string // ServiceTypeCAQC, ServiceTypeQTST
	Name        string
	Certificate *x509.Certificate
	// Changes is the service's status history, in any order; the latest is
	// its current status, the earlier ones its ServiceHistory.
	Changes []StatusChange
	// Qualifications are the Sie qualification elements of a CA/QC service.
	Qualifications []QualificationElement
	// Additional are AdditionalServiceInformation URIs (ForESignatures...).
	Additional []string
}

// ProviderInfo names a trust service provider.
type ProviderInfo struct {
	Name, TradeName                       string
	Street, Locality, PostalCode, Country string
	Email, InformationURI                 string
}

// NewProvider builds a provider's entry (TrustServiceProvider) from its
// services. A service needs a certificate and at least one status change.
func NewProvider(info ProviderInfo, services []ServiceSpec) (*Provider, error) {
	p := &Provider{Information: TSPInformation{
		Name:           names(info.Name),
		Address:        address(info.Street, info.Locality, info.PostalCode, info.Country, info.Email),
		InformationURI: uris(info.InformationURI),
	}}
	if info.TradeName != "" {
		t := names(info.TradeName)
		p.Information.TradeName = &t
	}
	for _, s := range services {
		if s.Certificate == nil || len(s.Changes) == 0 {
			return nil, fmt.Errorf("service %q needs a certificate and a status", s.Name)
		}
		changes := slices.Clone(s.Changes)
		slices.SortFunc(changes, func(a, b StatusChange) int { return b.At.Compare(a.At) }) // newest first
		id := identity(s.Certificate)
		ext := extensions(s)
		svc := Service{Information: ServiceInformation{
			Type: s.Type, Name: names(s.Name), Identity: id,
			Status: changes[0].Status, StatusStarting: utc(changes[0].At), Extensions: ext,
		}}
		if len(changes) > 1 {
			svc.History = &ServiceHistory{}
			for _, c := range changes[1:] {
				svc.History.Instances = append(svc.History.Instances, HistoryInstance{
					Type: s.Type, Name: names(s.Name), Identity: id, Status: c.Status, StatusStarting: utc(c.At), Extensions: ext,
				})
			}
		}
		p.Services = append(p.Services, svc)
	}
	return p, nil
}

func extensions(s ServiceSpec) *Extensions {
	var ext Extensions
	if len(s.Qualifications) > 0 {
		ext.Extensions = append(ext.Extensions, Extension{Critical: true, Qualifications: &Qualifications{Elements: s.Qualifications}})
	}
	for _, u := range s.Additional {
		ext.Extensions = append(ext.Extensions, Extension{Additional: &AdditionalInformation{URI: Name{Lang: "en", Value: u}}})
	}
	if len(ext.Extensions) == 0 {
		return nil
	}
	return &ext
}

// identity is a certificate's ServiceDigitalIdentity: the certificate, its
// subject and, when it has one, its subject key identifier.
func identity(cert *x509.Certificate) DigitalIdentity {
	id := DigitalIdentity{IDs: []DigitalID{{Certificate: base64.StdEncoding.EncodeToString(cert.Raw)}, {SubjectName: cert.Subject.String()}}}
	if len(cert.SubjectKeyId) > 0 {
		id.IDs = append(id.IDs, DigitalID{SKI: base64.StdEncoding.EncodeToString(cert.SubjectKeyId)})
	}
	return id
}

// PolicyQualification is a qualification element that applies qualifier to
// the certificates holding any one of policies.
func PolicyQualification(qualifier string, policies ...string) QualificationElement {
	q := QualificationElement{Qualifiers: []Qualifier{{URI: qualifier}}, Criteria: Criteria{Assert: "atLeastOne"}}
	for _, p := range policies {
		q.Criteria.PolicySets = append(q.Criteria.PolicySets, PolicySet{Policies: []PolicyIdentifier{{Identifier: p}}})
	}
	return q
}

// PointerSpec describes a pointer to another list.
type PointerSpec struct {
	Location     string
	Type         string // the list's TSLType
	Territory    string
	OperatorName string
	Signers      []*x509.Certificate // the certificates that may sign it
}

// ListOptions describe a list to build.
type ListOptions struct {
	Type           string // TypeEUGeneric or TypeEULOTL
	SequenceNumber int
	Territory      string
	OperatorName   string
	Operator       ProviderInfo // the scheme operator's address
	SchemeName     string
	InformationURI string
	LegalNotice    string
	IssueDate      time.Time
	NextUpdate     time.Time
	// DistributionPoint is where the list is published.
	DistributionPoint string
	Pointers          []PointerSpec
	Providers         []*Provider
}

// NewList builds an unsigned list.
func NewList(o ListOptions) *List {
	detn, rules := StatusDetnEU, RulesEUCommon
	if o.Type == TypeEULOTL {
		detn, rules = StatusDetnLOTL, RulesLOTL
	}
	next := utc(o.NextUpdate)
	r := uris(rules)
	l := &List{TSLTag: TSLTag, ID: "tsl", Scheme: SchemeInformation{
		Version: VersionID, SequenceNumber: o.SequenceNumber, Type: o.Type,
		OperatorName:        names(o.OperatorName),
		OperatorAddress:     address(o.Operator.Street, o.Operator.Locality, o.Operator.PostalCode, o.Operator.Country, o.Operator.Email),
		SchemeName:          names(o.SchemeName),
		InformationURI:      uris(o.InformationURI),
		StatusDetermination: detn,
		CommunityRules:      &r,
		Territory:           o.Territory,
		HistoricalPeriod:    65535,
		IssueDateTime:       utc(o.IssueDate),
		NextUpdate:          NextUpdate{DateTime: &next},
	}}
	if o.LegalNotice != "" {
		l.Scheme.LegalNotice = &LegalNotice{Notices: []Name{{Lang: "en", Value: o.LegalNotice}}}
	}
	if len(o.Pointers) > 0 {
		l.Scheme.Pointers = &PointersToOtherTSL{}
		for _, p := range o.Pointers {
			ptr := Pointer{Location: p.Location}
			for _, c := range p.Signers {
				ptr.Identities = append(ptr.Identities, DigitalIdentity{IDs: []DigitalID{{Certificate: base64.StdEncoding.EncodeToString(c.Raw)}}})
			}
			on := names(p.OperatorName)
			ptr.Info = []OtherInformation{{Type: p.Type}, {OperatorName: &on}, {Territory: p.Territory}, {MimeType: MimeTypeTSL}}
			l.Scheme.Pointers.Pointers = append(l.Scheme.Pointers.Pointers, ptr)
		}
	}
	if o.DistributionPoint != "" {
		l.Scheme.DistributionPoints = &Locations{URIs: []string{o.DistributionPoint}}
	}
	if len(o.Providers) > 0 {
		l.Providers = &ProviderList{}
		for _, p := range o.Providers {
			l.Providers.Providers = append(l.Providers.Providers, *p)
		}
	}
	return l
}

// Marshal writes v (a *List or a *Provider) as an XML document, without
// a signature (see Sign).
func Marshal(v any) ([]byte, error) {
	if l, ok := v.(*List); ok && l.Signature != nil {
		// A parsed list's old signature would not cover the new bytes.
		unsigned := *l
		unsigned.Signature = nil
		v = &unsigned
	}
	var b bytes.Buffer
	b.WriteString(xml.Header)
	enc := xml.NewEncoder(&b)
	enc.Indent("", " ")
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("write the trusted list: %w", err)
	}
	b.WriteByte('\n')
	return compactNamespaces(b.Bytes())
}

// Sign signs a marshalled list with an enveloped XAdES B-B signature by
// signer, whose certificate is cert: the signature is the list's last
// element, as TS 119 612 clause 5.7 wants.
func Sign(ctx context.Context, list []byte, signer crypto.Signer, cert *x509.Certificate, at time.Time) ([]byte, error) {
	return xades.Sign(ctx, signer, list, xades.Options{Certificate: cert, SigningTime: at}, nil)
}

func names(s string) Names { return Names{Names: []Name{{Lang: "en", Value: s}}} }
func uris(s string) URIs   { return URIs{URIs: []Name{{Lang: "en", Value: s}}} }

func address(street, locality, postal, country, email string) Address {
	a := Address{Postal: PostalAddresses{Addresses: []PostalAddress{{Lang: "en", StreetAddress: street, Locality: locality, PostalCode: postal, CountryName: country}}}}
	if email != "" {
		a.Electronic = uris("mailto:" + email)
	} else {
		a.Electronic = uris("mailto:unknown@invalid")
	}
	return a
}

func utc(t time.Time) time.Time { return t.UTC().Truncate(time.Second) }
