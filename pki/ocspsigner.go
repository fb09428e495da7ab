package pki

import (
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"math/big"
	"time"

	"github.com/selo-qtsp/selo"
)

// DefaultOCSPSignerValidityDays is the validity of a delegated OCSP responder
// certificate when OCSPSignerOptions leaves it zero.
const DefaultOCSPSignerValidityDays = 90

// maxOCSPSignerValidityDays bounds a responder certificate at one year: it
// carries id-pkix-ocsp-nocheck, so relying parties never check whether it was
// revoked, and its lifetime is all that limits a stolen responder key.
const maxOCSPSignerValidityDays = 366

// maxCommonNameLength is ub-common-name (RFC 5280 appendix A.1).
const maxCommonNameLength = 64

// oidOCSPNoCheck is id-pkix-ocsp-nocheck (1.3.6.1.5.5.7.48.1.5).
var oidOCSPNoCheck = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 5}

// OCSPSignerOptions describes a delegated OCSP responder certificate.
type OCSPSignerOptions struct {
	// ValidityDays is the validity, DefaultOCSPSignerValidityDays when zero,
	// at most 366. It is cut short at the CA's own notAfter.
	ValidityDays int
}

// NewOCSPSignerCertificate signs, with the CA's key, the certificate of a
// delegated OCSP responder for pub (RFC 6960 4.2.2.2): subject "<CA common
// name> OCSP Responder" with the CA's country and organization, key usage
// digitalSignature, extended key usage id-kp-OCSPSigning only,
// id-pkix-ocsp-nocheck, and key identifiers. It is linted with the RFC
// sources before the real signature, as every certificate is.
func NewOCSPSignerCertificate(ca *Issuer, pub crypto.PublicKey, opts OCSPSignerOptions, serial *big.Int, now time.Time, l *Linter) ([]byte, error) {
	if ca == nil || ca.lintSigner == nil {
		return nil, selo.Errorf(selo.EINVALID, "ca issuer is missing or not prepared with NewIssuer")
	}
	if err := CheckPublicKey(pub); err != nil {
		return nil, err
	}
	if k, ok := pub.(interface{ Equal(crypto.PublicKey) bool }); ok && k.Equal(ca.Cert.PublicKey) {
		return nil, selo.Errorf(selo.EINVALID, "the ocsp responder key must not be the ca's own key")
	}
	if err := checkSerial(serial); err != nil {
		return nil, err
	}
	days := opts.ValidityDays
	if days == 0 {
		days = DefaultOCSPSignerValidityDays
	}
	if days < 0 || days > maxOCSPSignerValidityDays {
		return nil, selo.Errorf(selo.EINVALID, "ocsp responder validity of %d days is outside 1..%d", days, maxOCSPSignerValidityDays)
	}
	notBefore := now.UTC().Truncate(time.Second)
	if notBefore.Before(ca.Cert.NotBefore) || !notBefore.Before(ca.Cert.NotAfter) {
		return nil, selo.Errorf(selo.EINVALID, "ca %q is not valid at %s", ca.Cert.Subject.CommonName, notBefore.Format(time.RFC3339))
	}
	notAfter := notBefore.AddDate(0, 0, days).Add(-time.Second)
	if notAfter.After(ca.Cert.NotAfter) {
		notAfter = ca.Cert.NotAfter.UTC()
	}
	cn := ca.Cert.Subject.CommonName + " OCSP Responder"
	if ca.Cert.Subject.CommonName == "" || len([]rune(cn)) > maxCommonNameLength {
		return nil, selo.Errorf(selo.EINVALID, "ocsp responder name %q must be 1 to %d characters; the ca's common name is empty or too long", truncate(cn, 100), maxCommonNameLength)
	}
	rawSubject, err := asn1.Marshal(pkix.Name{
		Country:      ca.Cert.Subject.Country,
		Organization: ca.Cert.Subject.Organization,
		CommonName:   cn,
	}.ToRDNSequence())
	if err != nil {
		return nil, selo.Errorf(selo.EINVALID, "encode ocsp responder subject: %v", err)
	}
	ski, err := subjectKeyID(pub)
	if err != nil {
		return nil, err
	}
	// asn1.NullBytes is the DER of NULL, the value RFC 6960 4.2.2.2.1 gives
	// the no-check extension. The authority key identifier comes from the
	// CA's subject key identifier.
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		RawSubject:            rawSubject,
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageOCSPSigning},
		BasicConstraintsValid: true,
		SubjectKeyId:          ski,
		// Where to fetch the CA; no OCSP or CRL pointer, since nothing checks them.
		IssuingCertificateURL: []string{ca.URLs.CAIssuers},
		ExtraExtensions:       []pkix.Extension{{Id: oidOCSPNoCheck, Value: asn1.NullBytes}},
	}
	l, err = l.orDefault()
	if err != nil {
		return nil, err
	}
	der, _, err := signLinted(tmpl, pub, ca.Cert, ca.Signer, ca.lintCert, ca.lintSigner, ca.lintSigAlg, l, lintSetOCSPResponder, "ocsp responder certificate")
	return der, err
}
