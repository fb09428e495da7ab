package pki

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"net/url"
	"slices"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/selo-qtsp/selo"
)

// IssuerURLs are the public URLs every certificate an issuer signs carries.
type IssuerURLs struct {
	CRL       string // CRL distribution point, e.g. https://pki.example/crl/qualified-ecc-v1.crl
	OCSP      string // e.g. https://pki.example/ocsp
	CAIssuers string // e.g. https://pki.example/ca/qualified-ecc-v1.crt
}

func (u IssuerURLs) validate() error {
	for _, f := range []struct{ name, value string }{{"crl", u.CRL}, {"ocsp", u.OCSP}, {"ca issuers", u.CAIssuers}} {
		v, err := url.Parse(f.value)
		if f.value == "" || err != nil || (v.Scheme != "http" && v.Scheme != "https") || v.Host == "" || !isIA5(f.value) {
			return selo.Errorf(selo.EINVALID, "issuer %s url %q is not an absolute http(s) url", f.name, truncate(f.value, 100))
		}
	}
	return nil
}

// Issuer signs end-entity certificates with one CA's key.
type Issuer struct {
	Cert   *x509.Certificate
	Signer crypto.Signer
	URLs   IssuerURLs

	// lintCert and lintSigner are the throwaway issuer: the same subject, key
	// identifier and key type as Cert, under a key made once in NewIssuer.
	// Certificates are first signed by it and linted, so that a certificate
	// that fails its lints never carries a signature of the real key.
	lintCert   *x509.Certificate
	lintSigner crypto.Signer
	// lintSigAlg is the algorithm the real key signs with, named in the
	// certificates the throwaway key signs (see lintKey).
	lintSigAlg x509.SignatureAlgorithm
}

// NewIssuer prepares an issuer, including the throwaway key used to sign the
// to-be-signed certificate that zlint checks before the real signature.
func NewIssuer(cert *x509.Certificate, signer crypto.Signer, urls IssuerURLs) (*Issuer, error) {
	if cert == nil || signer == nil {
		return nil, selo.Errorf(selo.EINVALID, "issuer certificate and signer are required")
	}
	if !cert.IsCA || !cert.BasicConstraintsValid || cert.KeyUsage&x509.KeyUsageCertSign == 0 {
		return nil, selo.Errorf(selo.EINVALID, "issuer certificate %q is not a CA certificate allowed to sign certificates", cert.Subject.CommonName)
	}
	pub, ok := signer.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(cert.PublicKey) {
		return nil, selo.Errorf(selo.EINVALID, "issuer signer does not hold the key of certificate %q", cert.Subject.CommonName)
	}
	if err := urls.validate(); err != nil {
		return nil, err
	}
	lintSigner, lintSigAlg, err := lintKey(cert.PublicKey)
	if err != nil {
		return nil, err
	}
	lintCert, err := lintTwin(cert, lintSigner)
	if err != nil {
		return nil, err
	}
	return &Issuer{Cert: cert, Signer: signer, URLs: urls, lintCert: lintCert, lintSigner: lintSigner, lintSigAlg: lintSigAlg}, nil
}

// lintTwin makes the throwaway issuer certificate of cert under lintSigner.
// It is real (self-signed) so that what the lint path signs under is an
// ordinary parent, never a half-filled struct.
func lintTwin(cert *x509.Certificate, lintSigner crypto.Signer) (*x509.Certificate, error) {
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		RawSubject:            cert.RawSubject,
		NotBefore:             cert.NotBefore,
		NotAfter:              cert.NotAfter,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		SubjectKeyId:          cert.SubjectKeyId,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, lintSigner.Public(), lintSigner)
	if err != nil {
		return nil, fmt.Errorf("make lint issuer certificate: %w", err)
	}
	lintCert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parse lint issuer certificate: %w", err)
	}
	return lintCert, nil
}

// lintKey makes an issuer's throwaway key: the cheapest key of the issuer
// key's type (P-256 for every ECDSA curve, RSA 2048 for RSA keys of 2048 bits
// or more) and the signature algorithm the real key signs with, which the
// lint-signed certificate names in its TBSCertificate. The TBSCertificate
// does not depend on the issuer key's size or curve otherwise (its issuer
// name and authority key identifier come from the twin certificate), and
// zlint never reads the signature value, so the linted bytes stay what the
// real key signs (signLinted checks it on every issuance) while the lint
// signature and Go's check of it cost a P-256 signature instead of a P-384
// one: half the public-key work of a qualified certificate under a P-384 CA.
func lintKey(pub crypto.PublicKey) (crypto.Signer, x509.SignatureAlgorithm, error) {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		alg, ok := map[elliptic.Curve]x509.SignatureAlgorithm{
			elliptic.P256(): x509.ECDSAWithSHA256, elliptic.P384(): x509.ECDSAWithSHA384, elliptic.P521(): x509.ECDSAWithSHA512,
		}[k.Curve]
		if !ok {
			break
		}
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, 0, fmt.Errorf("generate lint key: %w", err)
		}
		return key, alg, nil
	case *rsa.PublicKey:
		key, err := rsa.GenerateKey(rand.Reader, min(k.N.BitLen(), 2048))
		if err != nil {
			return nil, 0, fmt.Errorf("generate lint key: %w", err)
		}
		return key, x509.SHA256WithRSA, nil
	}
	return nil, 0, selo.Errorf(selo.EINVALID, "issuer key %s is not supported (want ecdsa or rsa)", KeyDescription(pub))
}

// throwawayKey makes a key of the same algorithm and size as pub, so that the
// lint signature has the same algorithm identifier as the real one.
func throwawayKey(pub crypto.PublicKey) (crypto.Signer, error) {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256(), elliptic.P384(), elliptic.P521():
			key, err := ecdsa.GenerateKey(k.Curve, rand.Reader)
			if err != nil {
				return nil, fmt.Errorf("generate lint key: %w", err)
			}
			return key, nil
		}
	case *rsa.PublicKey:
		key, err := rsa.GenerateKey(rand.Reader, k.N.BitLen())
		if err != nil {
			return nil, fmt.Errorf("generate lint key: %w", err)
		}
		return key, nil
	}
	return nil, selo.Errorf(selo.EINVALID, "issuer key %s is not supported (want ecdsa or rsa)", KeyDescription(pub))
}

// Issued is a signed certificate and the lint findings of its to-be-signed form.
type Issued struct {
	Cert     *x509.Certificate
	DER      []byte
	Findings []LintFinding // every non-pass, non-NA result (kept with the issuance record)
}

// Issue builds the certificate for req under profile p, signs it with the
// throwaway key, lints it, and only when no lint reports an error or fatal,
// signs it for real with the issuer's key. serial must come from RandomSerial
// (the caller retries with a new one on a uniqueness conflict). A lint failure
// is selo EINVALID listing the failing lints.
func (iss *Issuer) Issue(p *Profile, req *Request, serial *big.Int, now time.Time, l *Linter) (*Issued, error) {
	return iss.issue(p, req, nil, serial, now, l, "certificate", nil)
}

// Reissue makes the certificate old (from another CA) anew under iss with the
// same public key, subject, SANs and notAfter; notBefore is now.
func (iss *Issuer) Reissue(p *Profile, old *x509.Certificate, serial *big.Int, now time.Time, l *Linter) (*Issued, error) {
	return iss.reissue(p, old, serial, now, l, "certificate", nil)
}

func (iss *Issuer) reissue(p *Profile, old *x509.Certificate, serial *big.Int, now time.Time, l *Linter,
	what string, adjust func(*Profile, *x509.Certificate) error) (*Issued, error) {
	if old == nil {
		return nil, selo.Errorf(selo.EINVALID, "certificate to re-issue is missing")
	}
	if !now.Before(old.NotAfter) {
		return nil, selo.Errorf(selo.EINVALID, "certificate %s expired on %s and is not re-issued", SerialHex(old.SerialNumber), old.NotAfter.UTC().Format(time.DateOnly))
	}
	req := &Request{
		PublicKey:      old.PublicKey,
		Subject:        old.Subject,
		DNSNames:       old.DNSNames,
		EmailAddresses: old.EmailAddresses,
		NotBefore:      now,
		NotAfter:       old.NotAfter,
		// The key has not moved: a key certified in a QSCD still is.
		KeyInQSCD: HasQcSSCD(old),
	}
	// The old certificate's validated attributes were validated when it was
	// issued; a re-issue repeats them.
	for _, sv := range subjectValues(old.Subject) {
		if a := attributeByOID(sv.oid); a != nil && slices.Contains(p.Subject.Validated, a.name) {
			if req.Validated == nil {
				req.Validated = map[string]string{}
			}
			req.Validated[a.name] = anyString(sv.value)
		}
	}
	for _, ip := range old.IPAddresses {
		req.unsupportedSANs = append(req.unsupportedSANs, "ip address "+ip.String())
	}
	for _, u := range old.URIs {
		req.unsupportedSANs = append(req.unsupportedSANs, "uri "+truncate(u.String(), 100))
	}
	// The old subject is kept byte for byte: relying parties match on it.
	return iss.issue(p, req, old.RawSubject, serial, now, l, what, adjust)
}

// issue checks req against a validated copy of p, builds the certificate,
// lets adjust (when not nil) check the profile and change the template,
// then lints and signs it; what names the certificate in errors.
func (iss *Issuer) issue(p *Profile, req *Request, rawSubject []byte, serial *big.Int, now time.Time, l *Linter,
	what string, adjust func(*Profile, *x509.Certificate) error) (*Issued, error) {
	if iss == nil || iss.lintSigner == nil {
		return nil, errors.New("pki: issuer not prepared with NewIssuer")
	}
	if p == nil {
		return nil, selo.Errorf(selo.EINVALID, "profile is missing")
	}
	l, err := l.orDefault()
	if err != nil {
		return nil, err
	}
	// Work on a validated copy: the caller's profile may have been edited
	// since it was loaded, and the derived fields must match what it says.
	prof := *p
	if err := prof.validate(); err != nil {
		return nil, err
	}
	if err := prof.CheckRequest(req); err != nil {
		return nil, err
	}
	located, err := prof.forKeyLocation(req.KeyInQSCD)
	if err != nil {
		return nil, err
	}
	prof = *located
	if err := checkSerial(serial); err != nil {
		return nil, err
	}
	tmpl, err := iss.leafTemplate(&prof, req, rawSubject, serial, now)
	if err != nil {
		return nil, err
	}
	if adjust != nil {
		if err := adjust(&prof, tmpl); err != nil {
			return nil, err
		}
	}
	if err := checkKeyLocation(tmpl, req.KeyInQSCD); err != nil {
		return nil, err
	}
	der, findings, err := signLinted(tmpl, req.PublicKey, iss.Cert, iss.Signer, iss.lintCert, iss.lintSigner, iss.lintSigAlg, l, prof.Kind, what)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parse issued certificate: %w", err)
	}
	return &Issued{Cert: cert, DER: der, Findings: findings}, nil
}

func checkSerial(serial *big.Int) error {
	// RFC 5280 4.1.2.2: positive, at most 20 octets.
	if serial == nil || serial.Sign() <= 0 || len(serial.Bytes()) > 20 || (len(serial.Bytes()) == 20 && serial.Bit(159) == 1) {
		return selo.Errorf(selo.EINVALID, "serial must be a positive integer of at most 20 octets")
	}
	return nil
}

// leafTemplate turns a checked request into the certificate to sign.
func (iss *Issuer) leafTemplate(p *Profile, req *Request, rawSubject []byte, serial *big.Int, now time.Time) (*x509.Certificate, error) {
	notBefore := req.NotBefore
	if notBefore.IsZero() {
		notBefore = now
	}
	notBefore = notBefore.UTC().Truncate(time.Second)
	maxValidity := time.Duration(p.ValidityDays) * 24 * time.Hour
	notAfter := req.NotAfter.UTC().Truncate(time.Second)
	if req.NotAfter.IsZero() {
		// One second short of whole days: validity counts both ends inclusive
		// (RFC 5280 4.1.2.5), so this is exactly ValidityDays long.
		notAfter = notBefore.Add(maxValidity - time.Second)
	}
	switch {
	case !notAfter.After(notBefore):
		return nil, selo.Errorf(selo.EINVALID, "notAfter %s is not after notBefore %s", notAfter.Format(time.RFC3339), notBefore.Format(time.RFC3339))
	case notAfter.Sub(notBefore) >= maxValidity:
		return nil, selo.Errorf(selo.EINVALID, "validity of %d days exceeds the %d days profile %s allows", int(notAfter.Sub(notBefore).Hours()/24)+1, p.ValidityDays, p.Name)
	case notBefore.Before(iss.Cert.NotBefore):
		return nil, selo.Errorf(selo.EINVALID, "notBefore %s is before the issuing CA's notBefore", notBefore.Format(time.RFC3339))
	case notAfter.After(iss.Cert.NotAfter):
		return nil, selo.Errorf(selo.EINVALID, "notAfter %s is later than the issuing CA's notAfter %s", notAfter.Format(time.DateOnly), iss.Cert.NotAfter.UTC().Format(time.DateOnly))
	}

	if rawSubject == nil {
		values, err := p.checkSubject(req)
		if err != nil {
			return nil, err
		}
		if rawSubject, err = buildSubject(values); err != nil {
			return nil, fmt.Errorf("encode subject: %w", err)
		}
	}

	ku := p.keyUsage
	// keyEncipherment only means something for RSA keys and keyAgreement only
	// for EC keys (RFC 8813, CA/B S/MIME BR 7.1.2.3): drop the one that does not fit.
	if _, ok := req.PublicKey.(*ecdsa.PublicKey); ok {
		ku &^= x509.KeyUsageKeyEncipherment
	} else {
		ku &^= x509.KeyUsageKeyAgreement
	}
	if ku == 0 {
		return nil, selo.Errorf(selo.EINVALID, "profile %s leaves no key usage for a %s key", p.Name, KeyDescription(req.PublicKey))
	}

	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		RawSubject:            rawSubject,
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              ku,
		ExtKeyUsage:           p.extKeyUsage,
		UnknownExtKeyUsage:    p.unknownEKU,
		BasicConstraintsValid: true,
		DNSNames:              req.DNSNames,
		EmailAddresses:        req.EmailAddresses,
		CRLDistributionPoints: []string{iss.URLs.CRL},
		OCSPServer:            []string{iss.URLs.OCSP},
		IssuingCertificateURL: []string{iss.URLs.CAIssuers},
		Policies:              p.policies,
	}
	// The CA/B TLS BRs (7.1.2.7.6) make the subject key identifier NOT
	// RECOMMENDED for TLS subscriber certificates; every other kind has one.
	if p.Kind != KindTLS {
		ski, err := subjectKeyID(req.PublicKey)
		if err != nil {
			return nil, err
		}
		tmpl.SubjectKeyId = ski
	}
	if p.qcDER != nil {
		// Not critical: ETSI EN 319 412-5 4.1 and zlint's ETSI lints.
		tmpl.ExtraExtensions = append(tmpl.ExtraExtensions, pkix.Extension{Id: oidQCStatements, Value: p.qcDER})
	}
	return tmpl, nil
}

// subjectKeyID is RFC 7093 method 1: the leftmost 160 bits of the SHA-256 of
// the subjectPublicKey bits, the same method crypto/x509 uses for CAs.
func subjectKeyID(pub crypto.PublicKey) ([]byte, error) {
	spki, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, selo.Errorf(selo.EINVALID, "encode public key: %v", err)
	}
	var info struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(spki, &info); err != nil {
		return nil, fmt.Errorf("decode public key: %w", err)
	}
	h := sha256.Sum256(info.PublicKey.Bytes)
	return h[:20], nil
}

// signLinted signs tmpl with the throwaway issuer, lints the result with the
// lint set, and only if nothing is an error or fatal signs it with the real
// issuer. It then checks that the real to-be-signed bytes are exactly the
// linted ones, so what was linted is what was signed.
func signLinted(tmpl *x509.Certificate, pub crypto.PublicKey, parent *x509.Certificate, signer crypto.Signer,
	lintParent *x509.Certificate, lintSigner crypto.Signer, lintSigAlg x509.SignatureAlgorithm, l *Linter, lintSet, what string) ([]byte, []LintFinding, error) {
	lintTmpl := tmpl
	if lintSigAlg != x509.UnknownSignatureAlgorithm && tmpl.SignatureAlgorithm == x509.UnknownSignatureAlgorithm {
		// The throwaway key is cheaper than the real one (lintKey): name
		// the real key's algorithm, which Go would choose for it.
		t := *tmpl
		t.SignatureAlgorithm = lintSigAlg
		lintTmpl = &t
	}
	lintDER, err := x509.CreateCertificate(rand.Reader, lintTmpl, lintParent, pub, lintSigner)
	if err != nil {
		return nil, nil, selo.Errorf(selo.EINVALID, "build %s: %s", what, x509Message(err))
	}
	findings, err := l.Lint(lintSet, lintDER)
	if err != nil {
		return nil, nil, err
	}
	if err := lintRefusal(what, findings); err != nil {
		return nil, findings, err
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		return nil, nil, fmt.Errorf("sign %s: %w", what, err)
	}
	lintTBS, err1 := tbsCertificate(lintDER)
	realTBS, err2 := tbsCertificate(der)
	if err1 != nil || err2 != nil || !bytes.Equal(lintTBS, realTBS) {
		return nil, nil, fmt.Errorf("sign %s: signed certificate differs from the linted one", what)
	}
	return der, findings, nil
}

// tbsCertificate returns the DER of a certificate's TBSCertificate.
func tbsCertificate(der []byte) ([]byte, error) {
	in := cryptobyte.String(der)
	var cert, tbs cryptobyte.String
	if !in.ReadASN1(&cert, cbasn1.SEQUENCE) || !cert.ReadASN1Element(&tbs, cbasn1.SEQUENCE) {
		return nil, errors.New("malformed certificate")
	}
	return tbs, nil
}
