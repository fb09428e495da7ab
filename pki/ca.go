package pki

import (
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"math/big"
	"strings"
	"time"

	"github.com/selo-qtsp/selo"
)

// CAOptions describes a CA certificate.
type CAOptions struct {
	Subject      pkix.Name
	ValidityDays int
	PathLen      int // -1: unlimited (roots); 0 for issuing CAs
	// URLs of the parent (for subordinates): CRL and AIA of the issuer.
	ParentURLs IssuerURLs
	Policies   []string // certificate policy OIDs for subordinate CAs
	// ExtKeyUsage restricts a subordinate CA; roots refuse it (names as in Profile.ExtKeyUsage).
	// Empty means serverAuth for a CA with a CA/B TLS policy (2.23.140.1.2.*),
	// as the TLS BRs (7.1.2.10.6) require, and no restriction otherwise.
	ExtKeyUsage []string
	// SignsOCSP adds digitalSignature to the key usage, which a CA needs to
	// sign OCSP responses with its own key rather than through a delegated
	// responder certificate (RFC 6960 4.2.2.2, TLS BRs 7.1.2.10.7).
	SignsOCSP bool
}

// maxCAValidityDays bounds a CA certificate at 25 years.
const maxCAValidityDays = 9132

// oidCABFTLSPolicies is the CA/B Forum TLS policy arc (2.23.140.1.2).
const cabfTLSPolicyPrefix = "2.23.140.1.2."

// NewRootCertificate self-signs a root CA certificate, linted as RFC 5280.
func NewRootCertificate(signer crypto.Signer, opts CAOptions, serial *big.Int, now time.Time, l *Linter) ([]byte, error) {
	if signer == nil {
		return nil, selo.Errorf(selo.EINVALID, "root signer is missing")
	}
	pub := signer.Public()
	tmpl, lintSet, err := caTemplate(pub, opts, serial, now, true)
	if err != nil {
		return nil, err
	}
	l, err = l.orDefault()
	if err != nil {
		return nil, err
	}
	// A root has no separate issuer, so its throwaway twin is made here: a
	// self-signed certificate with the same subject and key identifier.
	lintSigner, err := throwawayKey(pub)
	if err != nil {
		return nil, err
	}
	// The root names its own key as authority key too (RFC 5280 4.2.1.1 allows
	// it, the TLS BRs 7.1.2.1.3 ask it to equal the SKI): the throwaway-signed
	// twin does not verify as self-signed, and zlint wants a key identifier
	// on every certificate that is not.
	tmpl.AuthorityKeyId = tmpl.SubjectKeyId
	lintParent := &x509.Certificate{RawSubject: tmpl.RawSubject, SubjectKeyId: tmpl.SubjectKeyId, PublicKey: lintSigner.Public()}
	der, _, err := signLinted(tmpl, pub, tmpl, signer, lintParent, lintSigner, x509.UnknownSignatureAlgorithm, l, lintSet, "root certificate")
	return der, err
}

// NewSubordinateCertificate signs a CA certificate for pub under parent,
// linted as RFC 5280 and, with a CA/B TLS policy (2.23.140.1.2.*), the TLS BRs.
func NewSubordinateCertificate(parent *Issuer, pub crypto.PublicKey, opts CAOptions, serial *big.Int, now time.Time, l *Linter) ([]byte, error) {
	if parent == nil || parent.lintSigner == nil {
		return nil, selo.Errorf(selo.EINVALID, "parent issuer is missing or not prepared with NewIssuer")
	}
	if opts.ParentURLs == (IssuerURLs{}) {
		opts.ParentURLs = parent.URLs
	}
	if err := opts.ParentURLs.validate(); err != nil {
		return nil, err
	}
	tmpl, lintSet, err := caTemplate(pub, opts, serial, now, false)
	if err != nil {
		return nil, err
	}
	if tmpl.NotAfter.After(parent.Cert.NotAfter) {
		return nil, selo.Errorf(selo.EINVALID, "ca notAfter %s is later than the parent's notAfter %s", tmpl.NotAfter.Format(time.DateOnly), parent.Cert.NotAfter.UTC().Format(time.DateOnly))
	}
	if tmpl.NotBefore.Before(parent.Cert.NotBefore) {
		return nil, selo.Errorf(selo.EINVALID, "ca notBefore is before the parent's notBefore")
	}
	if parent.Cert.MaxPathLen == 0 && (parent.Cert.MaxPathLenZero || !parent.Cert.BasicConstraintsValid) {
		return nil, selo.Errorf(selo.EINVALID, "parent %q has path length 0 and cannot certify a CA", parent.Cert.Subject.CommonName)
	}
	tmpl.CRLDistributionPoints = []string{opts.ParentURLs.CRL}
	tmpl.OCSPServer = []string{opts.ParentURLs.OCSP}
	tmpl.IssuingCertificateURL = []string{opts.ParentURLs.CAIssuers}
	l, err = l.orDefault()
	if err != nil {
		return nil, err
	}
	der, _, err := signLinted(tmpl, pub, parent.Cert, parent.Signer, parent.lintCert, parent.lintSigner, parent.lintSigAlg, l, lintSet, "ca certificate")
	return der, err
}

// caTemplate builds what root and subordinate CA certificates share and
// names the lint set that judges it.
func caTemplate(pub crypto.PublicKey, opts CAOptions, serial *big.Int, now time.Time, root bool) (*x509.Certificate, string, error) {
	if err := CheckPublicKey(pub); err != nil {
		return nil, "", err
	}
	if err := checkSerial(serial); err != nil {
		return nil, "", err
	}
	if opts.Subject.CommonName == "" {
		return nil, "", selo.Errorf(selo.EINVALID, "ca subject needs a common name")
	}
	if opts.ValidityDays <= 0 || opts.ValidityDays > maxCAValidityDays {
		return nil, "", selo.Errorf(selo.EINVALID, "ca validity of %d days is outside 1..%d", opts.ValidityDays, maxCAValidityDays)
	}
	if opts.PathLen < -1 {
		return nil, "", selo.Errorf(selo.EINVALID, "ca path length %d must be -1 (unlimited) or more", opts.PathLen)
	}
	for _, c := range opts.Subject.Country {
		if !countryPattern().MatchString(c) {
			return nil, "", selo.Errorf(selo.EINVALID, "ca subject country %q is not a two-letter upper-case code", c)
		}
	}
	rawSubject, err := asn1.Marshal(opts.Subject.ToRDNSequence())
	if err != nil {
		return nil, "", selo.Errorf(selo.EINVALID, "encode ca subject: %v", err)
	}
	ski, err := subjectKeyID(pub)
	if err != nil {
		return nil, "", err
	}
	notBefore := now.UTC().Truncate(time.Second)
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		RawSubject:            rawSubject,
		NotBefore:             notBefore,
		NotAfter:              notBefore.AddDate(0, 0, opts.ValidityDays).Add(-time.Second),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            opts.PathLen,
		MaxPathLenZero:        opts.PathLen == 0,
		SubjectKeyId:          ski,
	}
	if opts.SignsOCSP {
		tmpl.KeyUsage |= x509.KeyUsageDigitalSignature
	}
	lintSet := lintSetCA
	for _, s := range opts.Policies {
		if !dottedOIDPattern().MatchString(s) {
			return nil, "", selo.Errorf(selo.EINVALID, "ca policy %q is not a dotted oid", s)
		}
		oid, err := x509.ParseOID(s)
		if err != nil {
			return nil, "", selo.Errorf(selo.EINVALID, "ca policy %q is not a valid oid", s)
		}
		tmpl.Policies = append(tmpl.Policies, oid)
		if strings.HasPrefix(s, cabfTLSPolicyPrefix) {
			lintSet = lintSetCATLS
		}
	}
	if root {
		// The throwaway-signed twin of a root does not verify under its own
		// key, so zlint's CA/B lints would judge it as a subordinate CA; the
		// RFC lints are the ones that mean something for it.
		lintSet = lintSetCA
	}
	ekus := opts.ExtKeyUsage
	// Roots carry no EKU (TLS BRs 7.1.2.1); subordinates default as documented.
	if root && len(ekus) > 0 {
		return nil, "", selo.Errorf(selo.EINVALID, "a root certificate must not restrict extended key usage")
	}
	if !root && len(ekus) == 0 && lintSet == lintSetCATLS {
		ekus = []string{"serverAuth"}
	}
	for _, name := range ekus {
		eku, ok := extKeyUsageNames[name]
		if !ok {
			return nil, "", selo.Errorf(selo.EINVALID, "ca ext key usage %q is not one of serverAuth, clientAuth, emailProtection, codeSigning, timeStamping, ocspSigning", name)
		}
		tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, eku)
	}
	return tmpl, lintSet, nil
}
