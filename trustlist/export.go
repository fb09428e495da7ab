package trustlist

import (
	"crypto/x509"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/pki"
)

// ETSI EN 319 411-2 policies: a profile with QcSSCD certifies the -qscd
// policy for a key in a QSCD (cloud HSM, token) and the plain one for any
// other key (a software key in a .pfx).
var qscdPolicies = map[string]string{
	"0.4.0.194112.1.2": "0.4.0.194112.1.0", // QCP-n-qscd → QCP-n
	"0.4.0.194112.1.3": "0.4.0.194112.1.1", // QCP-l-qscd → QCP-l
}

// ExportCA is one CA of the provider as the store knows it.
type ExportCA struct {
	CA *selo.CA
	// Profiles are the profiles the CA issues: those configured for it,
	// and those of the certificates it issued.
	Profiles []*pki.Profile
	// Ended is when the CA stopped vouching for what it issues: its
	// retirement or the revocation of its certificate; zero while active.
	Ended time.Time
}

// ExportTSA is a timestamping unit's certificate.
type ExportTSA struct {
	Certificate *x509.Certificate
	Since       time.Time
	Ended       time.Time // zero while in use
}

// ExportProvider builds the provider's TSP entry: one CA/QC service per CA
// that issues a qualified profile, granted from its creation and withdrawn
// from its end, with the Sie qualifications its profiles call for; and one
// TSA/QTST service per timestamping certificate. CAs that issue no
// qualified profile (roots, TLS CAs) are left out, and so is a CA/QC
// service's history before its creation.
func ExportProvider(info ProviderInfo, cas []ExportCA, tsas []ExportTSA) (*Provider, error) {
	var services []ServiceSpec
	for _, e := range cas {
		cert, err := x509.ParseCertificate(e.CA.CertDER)
		if err != nil {
			return nil, fmt.Errorf("CA %s: %w", e.CA.ID, err)
		}
		quals, additional := qualificationsFor(e.Profiles)
		if len(quals) == 0 {
			continue
		}
		changes := []StatusChange{{StatusGranted, e.CA.CreatedAt}}
		if !e.Ended.IsZero() {
			changes = append(changes, StatusChange{StatusWithdrawn, e.Ended})
		}
		services = append(services, ServiceSpec{Type: ServiceTypeCAQC, Name: cert.Subject.CommonName, Certificate: cert,
			Changes: changes, Qualifications: quals, Additional: additional})
	}
	for _, t := range tsas {
		changes := []StatusChange{{StatusGranted, t.Since}}
		if !t.Ended.IsZero() {
			changes = append(changes, StatusChange{StatusWithdrawn, t.Ended})
		}
		services = append(services, ServiceSpec{Type: ServiceTypeQTST, Name: t.Certificate.Subject.CommonName, Certificate: t.Certificate, Changes: changes})
	}
	if len(services) == 0 {
		return nil, selo.Errorf(selo.EINVALID, "no CA issues a qualified profile and there is no timestamping unit: nothing to put on a trusted list")
	}
	return NewProvider(info, services)
}

// qualificationsFor returns the Sie qualification elements and the
// AdditionalServiceInformation URIs for a CA issuing profiles: QCForESig
// over the natural-person qualified policies, QCForESeal over the
// legal-person ones, QCWithQSCD over the -qscd policies and QCNoQSCD over
// the plain ones a software key gets.
func qualificationsFor(profiles []*pki.Profile) ([]QualificationElement, []string) {
	var sig, seal, withQSCD, noQSCD []string
	add := func(list *[]string, p string) {
		if !slices.Contains(*list, p) {
			*list = append(*list, p)
		}
	}
	for _, p := range profiles {
		if p == nil || p.QC == nil || !p.QC.Compliance {
			continue
		}
		var target *[]string
		switch {
		case p.Kind == "qualified-legal" || p.QC.Type == "eseal":
			target = &seal
		case p.Kind == "qualified-natural" || p.QC.Type == "esign":
			target = &sig
		default:
			continue
		}
		// Only the ETSI policies select: a provider's own policy OIDs are
		// shared by QSCD and software keys alike.
		for _, pol := range p.Policies {
			if plain, ok := qscdPolicies[pol]; ok {
				add(target, pol)
				add(target, plain)
				add(&withQSCD, pol)
				add(&noQSCD, plain)
			} else if pol == "0.4.0.194112.1.0" || pol == "0.4.0.194112.1.1" {
				add(target, pol)
				add(&noQSCD, pol)
			}
		}
	}
	var quals []QualificationElement
	var additional []string
	for _, q := range []struct {
		uri      string
		policies []string
		info     string
	}{{QCForESig, sig, ForESignatures}, {QCForESeal, seal, ForESeals}, {QCWithQSCD, withQSCD, ""}, {QCNoQSCD, noQSCD, ""}} {
		if len(q.policies) == 0 {
			continue
		}
		sort.Strings(q.policies)
		quals = append(quals, PolicyQualification(q.uri, q.policies...))
		if q.info != "" {
			additional = append(additional, q.info)
		}
	}
	return quals, additional
}
