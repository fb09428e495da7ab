package cms

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"math/big"
	"time"

	"github.com/selo-qtsp/selo"
)

// VerifyOptions says what to check a signature against.
type VerifyOptions struct {
	// Content is the signed content of a detached signature; it must be nil
	// for an enveloping one.
	Content []byte
	// ContentDigest replaces Content for a detached signature whose content
	// the caller hashed (a PDF's byte ranges); it must use the signer's hash.
	ContentDigest []byte
	// Roots are the trusted roots; nil skips the chain check (the report
	// then says the chain was not checked).
	Roots *x509.CertPool
	// Intermediates adds certificates to those the message carries.
	Intermediates []*x509.Certificate
	// Time is when the certificate chain must have been valid; zero is now.
	Time time.Time
	// KeyUsages the signer's certificate must allow (nil: any).
	KeyUsages []x509.ExtKeyUsage
}

// SignerReport is what Verify found about one signer. Each field says one
// check passed; the error returned with it names the first that failed.
type SignerReport struct {
	SignerInfo  *SignerInfo
	Certificate *x509.Certificate // nil when the message does not carry it
	// Chain is the path from the signer to a root (empty when not checked).
	Chain []*x509.Certificate
	// DigestOK: the content is what was signed.
	DigestOK bool
	// SignatureOK: the signature value verifies with the certificate's key.
	SignatureOK bool
	// CertificateBound: the signing-certificate-v2 attribute names this certificate.
	CertificateBound bool
	// ChainOK: the certificate chains to one of the roots at VerifyOptions.Time.
	ChainOK bool
	// ChainChecked is false when no roots were given.
	ChainChecked bool
}

// Errors Verify returns (wrapped in a selo EINVALID with the detail).
var (
	ErrContentChanged = errors.New("the content does not match the signature: it was changed after signing")
	ErrBadSignature   = errors.New("the signature value is not valid")
)

// Verify checks every signer of sd and returns one report each. The error is
// the first failure, selo EINVALID with a message for people.
func (sd *SignedData) Verify(opts VerifyOptions) ([]*SignerReport, error) {
	var reports []*SignerReport
	var first error
	for _, si := range sd.Signers {
		r, err := sd.VerifySigner(si, opts)
		reports = append(reports, r)
		if err != nil && first == nil {
			first = err
		}
	}
	return reports, first
}

// VerifySigner checks one signer: content digest, signature value, the ESS
// signing-certificate(-v2) binding, and the chain to the roots.
func (sd *SignedData) VerifySigner(si *SignerInfo, opts VerifyOptions) (*SignerReport, error) {
	r := &SignerReport{SignerInfo: si}
	if si.Hash == 0 {
		return r, selo.Errorf(selo.EINVALID, "digest algorithm %s is not accepted (want SHA-256, SHA-384 or SHA-512)", si.digestOID)
	}
	cert := sd.findCertificate(si, opts.Intermediates)
	if cert == nil {
		return r, selo.Errorf(selo.EINVALID, "the signer's certificate is not in the message")
	}
	r.Certificate = cert

	// Content digest.
	var digest []byte
	switch {
	case !sd.Detached:
		if opts.Content != nil || opts.ContentDigest != nil {
			return r, selo.Errorf(selo.EINVALID, "the signature carries its content; do not give the content separately")
		}
		h := si.Hash.New()
		h.Write(sd.Content)
		digest = h.Sum(nil)
	case opts.ContentDigest != nil:
		digest = opts.ContentDigest
	case opts.Content != nil:
		h := si.Hash.New()
		h.Write(opts.Content)
		digest = h.Sum(nil)
	default:
		return r, selo.Errorf(selo.EINVALID, "the signature is detached: give the signed content")
	}
	if si.rawSignedAttributes == nil {
		return r, selo.Errorf(selo.EINVALID, "the signature has no signed attributes (CAdES requires them)")
	}
	ct, ok := si.Attribute(OIDAttributeContentType)
	var ctOID asn1.ObjectIdentifier
	if !ok || len(ct) != 1 || !unmarshalExact(ct[0], &ctOID) || !ctOID.Equal(sd.ContentType) {
		return r, selo.Errorf(selo.EINVALID, "the content-type attribute is missing or does not match the content")
	}
	md, ok := si.Attribute(OIDAttributeMessageDigest)
	var mdValue []byte
	if !ok || len(md) != 1 || !unmarshalExact(md[0], &mdValue) {
		return r, selo.Errorf(selo.EINVALID, "the message-digest attribute is missing or malformed")
	}
	if !bytes.Equal(mdValue, digest) {
		return r, selo.Errorf(selo.EINVALID, "%s", ErrContentChanged)
	}
	r.DigestOK = true

	// Signature value over the signed attributes.
	pss, err := si.checkSignatureAlgorithm(cert.PublicKey)
	if err != nil {
		return r, err
	}
	h := si.Hash.New()
	h.Write(si.rawSignedAttributes)
	if err := checkSignature(cert.PublicKey, si.Hash, pss, h.Sum(nil), si.Signature); err != nil {
		return r, selo.Errorf(selo.EINVALID, "%s", ErrBadSignature)
	}
	r.SignatureOK = true

	if err := checkCertificateBinding(si, cert); err != nil {
		return r, err
	}
	r.CertificateBound = true

	if opts.Roots == nil {
		return r, nil
	}
	r.ChainChecked = true
	chain, err := VerifyChain(cert, append(sd.Certificates, opts.Intermediates...), opts.Roots, opts.Time, opts.KeyUsages)
	if err != nil {
		return r, err
	}
	r.Chain = chain
	r.ChainOK = true
	return r, nil
}

// VerifyChain builds a path from cert to one of roots through the other
// certificates, valid at t (now when zero), allowing usages (any when nil).
func VerifyChain(cert *x509.Certificate, others []*x509.Certificate, roots *x509.CertPool, t time.Time, usages []x509.ExtKeyUsage) ([]*x509.Certificate, error) {
	pool := x509.NewCertPool()
	for _, c := range others {
		if c != nil && !c.Equal(cert) {
			pool.AddCert(c)
		}
	}
	if usages == nil {
		usages = []x509.ExtKeyUsage{x509.ExtKeyUsageAny}
	}
	if t.IsZero() {
		t = time.Now()
	}
	chains, err := cert.Verify(x509.VerifyOptions{Roots: roots, Intermediates: pool, CurrentTime: t, KeyUsages: usages})
	if err != nil {
		return nil, selo.Errorf(selo.EINVALID, "the certificate of %q does not chain to a trusted root at %s: %v", cert.Subject.CommonName, t.UTC().Format(time.RFC3339), err)
	}
	return chains[0], nil
}

func unmarshalExact(der []byte, v any) bool {
	rest, err := asn1.Unmarshal(der, v)
	return err == nil && len(rest) == 0
}

// findCertificate returns the certificate si names, from the message or extra.
func (sd *SignedData) findCertificate(si *SignerInfo, extra []*x509.Certificate) *x509.Certificate {
	for _, list := range [][]*x509.Certificate{sd.Certificates, extra} {
		for _, c := range list {
			if c == nil {
				continue
			}
			if si.Version == 3 {
				if len(si.SubjectKeyID) > 0 && bytes.Equal(c.SubjectKeyId, si.SubjectKeyID) {
					return c
				}
				continue
			}
			if si.SerialNumber != nil && c.SerialNumber.Cmp(si.SerialNumber) == 0 && bytes.Equal(c.RawIssuer, si.RawIssuer) {
				return c
			}
		}
	}
	return nil
}

// checkSignatureAlgorithm checks that the signature algorithm fits the key
// and the digest algorithm, and reports whether it is RSASSA-PSS.
func (si *SignerInfo) checkSignatureAlgorithm(pub crypto.PublicKey) (bool, error) {
	var alg pkix.AlgorithmIdentifier
	if !unmarshalExact(si.rawSignatureAlg, &alg) {
		return false, selo.Errorf(selo.EINVALID, "malformed signature algorithm")
	}
	bad := selo.Errorf(selo.EINVALID, "signature algorithm %s does not fit a %T key with %v", alg.Algorithm, pub, si.Hash)
	switch pub.(type) {
	case *ecdsa.PublicKey:
		want := map[crypto.Hash]asn1.ObjectIdentifier{crypto.SHA256: oidECDSAWithSHA256, crypto.SHA384: oidECDSAWithSHA384, crypto.SHA512: oidECDSAWithSHA512}[si.Hash]
		if alg.Algorithm.Equal(want) || alg.Algorithm.Equal(oidECPublicKey) {
			return false, nil
		}
	case *rsa.PublicKey:
		want := map[crypto.Hash]asn1.ObjectIdentifier{crypto.SHA256: oidSHA256WithRSA, crypto.SHA384: oidSHA384WithRSA, crypto.SHA512: oidSHA512WithRSA}[si.Hash]
		if alg.Algorithm.Equal(want) || alg.Algorithm.Equal(oidRSAEncryption) {
			return false, nil
		}
		if alg.Algorithm.Equal(oidRSASSAPSS) {
			h, err := pssHash(alg.Parameters.FullBytes)
			if err != nil || h != si.Hash {
				return false, bad
			}
			return true, nil
		}
	}
	return false, bad
}

// pssHash reads the hash of RSASSA-PSS-params and checks that MGF1 uses the
// same one (the only form this package signs or accepts).
func pssHash(der []byte) (crypto.Hash, error) {
	var params struct {
		Hash pkix.AlgorithmIdentifier `asn1:"explicit,tag:0"`
		MGF  struct {
			Algorithm asn1.ObjectIdentifier
			Hash      pkix.AlgorithmIdentifier
		} `asn1:"explicit,tag:1"`
		SaltLength int `asn1:"optional,explicit,tag:2,default:20"`
	}
	if !unmarshalExact(der, &params) {
		return 0, errors.New("malformed RSASSA-PSS parameters")
	}
	h := HashFromOID(params.Hash.Algorithm)
	if h == 0 || !params.MGF.Algorithm.Equal(oidMGF1) || HashFromOID(params.MGF.Hash.Algorithm) != h {
		return 0, errors.New("unsupported RSASSA-PSS parameters")
	}
	return h, nil
}

// essCertIDv2 is ESSCertIDv2 (RFC 5035).
type essCertIDv2 struct {
	HashAlgorithm pkix.AlgorithmIdentifier `asn1:"optional"`
	CertHash      []byte
	IssuerSerial  issuerSerial `asn1:"optional"`
}

type issuerSerial struct {
	Issuer []asn1.RawValue // GeneralNames
	Serial *big.Int
}

// checkCertificateBinding checks the signing-certificate-v2 attribute: its
// first ESSCertIDv2 must be cert. A signature without it is refused: CAdES baseline requires one, and it
// is what stops a certificate substitution.
func checkCertificateBinding(si *SignerInfo, cert *x509.Certificate) error {
	vals, ok := si.Attribute(OIDAttributeSigningCertificateV2)
	if !ok {
		return selo.Errorf(selo.EINVALID, "the signature has no signing-certificate-v2 attribute")
	}
	if len(vals) != 1 {
		return selo.Errorf(selo.EINVALID, "the signing-certificate-v2 attribute must have one value")
	}
	var scv2 struct {
		Certs []essCertIDv2
	}
	// Policies may follow the certs; they are read but not interpreted.
	if rest, err := asn1.Unmarshal(vals[0], &scv2); err != nil || len(rest) > 0 {
		var withPolicies struct {
			Certs    []essCertIDv2
			Policies asn1.RawValue `asn1:"optional"`
		}
		if rest, err := asn1.Unmarshal(vals[0], &withPolicies); err != nil || len(rest) > 0 {
			return selo.Errorf(selo.EINVALID, "malformed signing-certificate-v2 attribute")
		}
		scv2.Certs = withPolicies.Certs
	}
	if len(scv2.Certs) == 0 {
		return selo.Errorf(selo.EINVALID, "the signing-certificate-v2 attribute names no certificate")
	}
	id := scv2.Certs[0]
	h := crypto.SHA256
	if len(id.HashAlgorithm.Algorithm) > 0 {
		if h = HashFromOID(id.HashAlgorithm.Algorithm); h == 0 {
			return selo.Errorf(selo.EINVALID, "signing-certificate-v2 uses an unsupported hash %s", id.HashAlgorithm.Algorithm)
		}
	}
	d := h.New()
	d.Write(cert.Raw)
	if !bytes.Equal(d.Sum(nil), id.CertHash) {
		return selo.Errorf(selo.EINVALID, "the signing-certificate-v2 attribute names another certificate than the signer's")
	}
	if id.IssuerSerial.Serial != nil {
		if id.IssuerSerial.Serial.Cmp(cert.SerialNumber) != 0 || len(id.IssuerSerial.Issuer) != 1 ||
			id.IssuerSerial.Issuer[0].Tag != 4 || !bytes.Equal(id.IssuerSerial.Issuer[0].Bytes, cert.RawIssuer) {
			return selo.Errorf(selo.EINVALID, "the issuer and serial in signing-certificate-v2 are not the signer's certificate's")
		}
	}
	return nil
}
