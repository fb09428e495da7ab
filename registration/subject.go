package registration

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509/pkix"
	"encoding/asn1"
	"slices"
	"strings"
	"sync"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/pki"
)

var (
	oidGivenName              = asn1.ObjectIdentifier{2, 5, 4, 42}
	oidSurname                = asn1.ObjectIdentifier{2, 5, 4, 4}
	oidOrganizationIdentifier = asn1.ObjectIdentifier{2, 5, 4, 97}
)

// subjectRequest builds what the certificate will say about its subject from
// the order and, for a natural person, the approved identity check: Selo, not
// the holder's CSR, decides the subject. The public key is left for the
// caller.
func subjectRequest(o *selo.Order, profile *pki.Profile, check *selo.IdentityCheck) *pki.Request {
	req := &pki.Request{}
	sub := o.Subject
	fullName := strings.TrimSpace(o.Holder.GivenNames + " " + o.Holder.Surname)
	switch profile.Kind {
	case pki.KindQualifiedNatural:
		country, serial := sub.Country, sub.SerialNumber
		if check != nil {
			if country == "" && len(check.Country) == 2 {
				country = check.Country
			}
			if serial == "" && len(check.Country) == 2 {
				prefix := "IDC"
				if check.DocumentType == "passport" {
					prefix = "PAS"
				}
				serial = prefix + check.Country + "-" + check.DocumentNumber
			}
		}
		if country == "" {
			country = "PT" // replaced by the document's country once the identity check is approved
		}
		if serial == "" {
			serial = "IDC" + country + "-0"
		}
		cn := sub.CommonName
		if cn == "" {
			cn = fullName
		}
		req.Subject = pkix.Name{Country: []string{country}, CommonName: cn, SerialNumber: serial,
			ExtraNames: []pkix.AttributeTypeAndValue{{Type: oidGivenName, Value: o.Holder.GivenNames}, {Type: oidSurname, Value: o.Holder.Surname}}}
	case pki.KindQualifiedLegal, pki.KindAdvanced:
		cn := sub.CommonName
		if cn == "" {
			cn = sub.Organization
		}
		req.Subject = pkix.Name{Country: []string{sub.Country}, Organization: []string{sub.Organization}, CommonName: cn,
			ExtraNames: []pkix.AttributeTypeAndValue{{Type: oidOrganizationIdentifier, Value: sub.OrganizationIdentifier}}}
	case pki.KindSMIME:
		req.Subject = pkix.Name{CommonName: o.Holder.Email}
	case pki.KindTLS:
		req.DNSNames = sub.DNSNames
		// An OV profile's organisation is the one the officer validated
		// with the order.
		for name, v := range map[string]string{"O": sub.Organization, "L": sub.Locality, "ST": sub.State, "C": sub.Country} {
			if v != "" && slices.Contains(profile.Subject.Validated, name) {
				if req.Validated == nil {
					req.Validated = map[string]string{}
				}
				req.Validated[name] = v
			}
		}
	}
	if profile.SAN.Email == pki.SANRequired || (profile.SAN.Email == pki.SANAllowed && profile.Kind != pki.KindTLS) {
		req.EmailAddresses = []string{o.Holder.Email}
	}
	return req
}

var (
	probeOnce sync.Once
	probePub  crypto.PublicKey
	probeErr  error
)

// probeKey is a P-256 public key that every profile accepts, for checking a
// subject against a profile before the holder's key exists.
func probeKey() (crypto.PublicKey, error) {
	probeOnce.Do(func() {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			probeErr = err
			return
		}
		probePub = k.Public()
	})
	return probePub, probeErr
}
