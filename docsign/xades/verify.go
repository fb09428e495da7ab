package xades

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/beevik/etree"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/docsign/cades"
	"github.com/selo-qtsp/selo/pki"
)

// Bounds on what one document may hold, so a hostile one costs little.
const (
	maxSignatures   = 64
	maxCertificates = 16
	maxReferences   = 16
	// maxRevocationValues bounds the OCSP responses and CRLs one signature
	// embeds (xades:RevocationValues), each kind counted on its own.
	maxRevocationValues = 16
)

// VerifyOptions says what to check XAdES signatures against: the same
// options as CAdES and PAdES. Content and ContentDigests are not used (an
// enveloped signature carries what it signs); the OCSP responses and CRLs a
// signature embeds (xades:RevocationValues) come before Revocation's own.
type VerifyOptions = cades.VerifyOptions

// Report is what Verify found, one entry per ds:Signature, in the shape of
// the CAdES report so `selo verify` prints both alike.
type Report struct {
	Format     string                   `json:"format"` // "XAdES"
	Signatures []*cades.SignatureReport `json:"signatures"`
}

// Valid reports whether there is a signature and every one is valid.
func (r *Report) Valid() bool {
	for _, s := range r.Signatures {
		if s.Status != cades.StatusValid {
			return false
		}
	}
	return len(r.Signatures) > 0
}

// IsXML reports whether data looks like an XML document (it starts, after
// a byte order mark and white space, with '<' but is not a PEM or PDF file),
// for callers that dispatch on a file's kind.
func IsXML(data []byte) bool {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	data = bytes.TrimLeft(data, " \t\r\n")
	return len(data) > 1 && data[0] == '<' && (data[1] == '?' || data[1] == '!' || isNameStart(data[1]))
}

func isNameStart(c byte) bool {
	return c == '_' || c == ':' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80
}

// Verify checks every XML signature (ds:Signature) in an XML document:
// reference digests (was the document changed?), the signature value, the
// signing-certificate-v2 binding, the signature timestamp and the chain to
// opts.Roots. The error is only for input that is not XML or has no
// signature; a signature that fails its checks is reported with status
// invalid or indeterminate and the reasons.
func Verify(data []byte, opts VerifyOptions) (*Report, error) {
	doc, err := parse(data)
	if err != nil {
		return nil, err
	}
	sigs := findSignatures(doc.tree)
	if len(sigs) == 0 {
		return nil, selo.Errorf(selo.EINVALID, "the XML document holds no XML signature (ds:Signature)")
	}
	if len(sigs) > maxSignatures {
		return nil, selo.Errorf(selo.EINVALID, "the XML document holds more than %d signatures", maxSignatures)
	}
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	rep := &Report{Format: "XAdES"}
	for _, s := range sigs {
		rep.Signatures = append(rep.Signatures, verifySignature(doc, s, opts, now))
	}
	return rep, nil
}

// findSignatures returns the ds:Signature elements of a document, outermost
// only: a signature inside a signature is not one to check on its own.
func findSignatures(tree *etree.Document) []*etree.Element {
	var sigs []*etree.Element
	var walk func(el *etree.Element)
	walk = func(el *etree.Element) {
		for _, c := range el.ChildElements() {
			if c.Tag == "Signature" && c.NamespaceURI() == nsDS {
				sigs = append(sigs, c)
				continue
			}
			walk(c)
		}
	}
	walk(&tree.Element)
	return sigs
}

// child returns the only child element of el named local in namespace ns,
// nil when there is none or more than one.
func child(el *etree.Element, ns, local string) *etree.Element {
	if el == nil {
		return nil
	}
	var found *etree.Element
	for _, c := range el.ChildElements() {
		if c.Tag == local && c.NamespaceURI() == ns {
			if found != nil {
				return nil
			}
			found = c
		}
	}
	return found
}

func children(el *etree.Element, ns, local string) []*etree.Element {
	var out []*etree.Element
	if el == nil {
		return nil
	}
	for _, c := range el.ChildElements() {
		if c.Tag == local && c.NamespaceURI() == ns {
			out = append(out, c)
		}
	}
	return out
}

// path follows child() through each step "ns local".
func path(el *etree.Element, steps ...[2]string) *etree.Element {
	for _, s := range steps {
		el = child(el, s[0], s[1])
	}
	return el
}

func ds(local string) [2]string    { return [2]string{nsDS, local} }
func xades(local string) [2]string { return [2]string{nsXAdES, local} }

func algorithm(el *etree.Element) string {
	if el == nil {
		return ""
	}
	return el.SelectAttrValue("Algorithm", "")
}

func hashByDigestMethod(uri string) crypto.Hash {
	for h, u := range digestMethods {
		if u == uri {
			return h
		}
	}
	return 0
}

func decodeBase64(s string) ([]byte, error) {
	return base64.StdEncoding.DecodeString(strings.Join(strings.Fields(s), ""))
}

// checkDigest compares the ds:DigestMethod/ds:DigestValue children of el
// with the digest of data.
func checkDigest(el *etree.Element, data []byte) (bool, error) {
	h := hashByDigestMethod(algorithm(child(el, nsDS, "DigestMethod")))
	if h == 0 {
		return false, selo.Errorf(selo.EINVALID, "digest method %q is not accepted (want SHA-256, SHA-384 or SHA-512)", algorithm(child(el, nsDS, "DigestMethod")))
	}
	dv := child(el, nsDS, "DigestValue")
	if dv == nil {
		return false, selo.Errorf(selo.EINVALID, "a digest value is missing")
	}
	want, err := decodeBase64(dv.Text())
	if err != nil {
		return false, selo.Errorf(selo.EINVALID, "a digest value is not base64")
	}
	d := h.New()
	d.Write(data)
	return bytes.Equal(d.Sum(nil), want), nil
}

func verifySignature(doc *document, sig *etree.Element, opts VerifyOptions, now time.Time) *cades.SignatureReport {
	r := &cades.SignatureReport{Level: LevelBB, ValidatedAt: now.UTC()}
	invalid := func(format string, args ...any) *cades.SignatureReport {
		r.Status = cades.StatusInvalid
		r.Problems = append(r.Problems, fmt.Sprintf(format, args...))
		return r
	}
	si := child(sig, nsDS, "SignedInfo")
	if si == nil {
		return invalid("the signature has no single SignedInfo")
	}
	c14nAlg := algorithm(child(si, nsDS, "CanonicalizationMethod"))
	sigMethod := algorithm(child(si, nsDS, "SignatureMethod"))
	var keyAlg x509.PublicKeyAlgorithm
	var hash crypto.Hash
	for ka, byHash := range signatureMethods {
		for h, uri := range byHash {
			if uri == sigMethod {
				keyAlg, hash = ka, h
			}
		}
	}
	if hash == 0 {
		return invalid("signature method %q is not accepted (want RSA or ECDSA with SHA-256, SHA-384 or SHA-512)", sigMethod)
	}
	r.Hash = hash.String()

	// Certificates: the signer's is the one signing-certificate-v2 names.
	var certs []*x509.Certificate
	if x := path(sig, ds("KeyInfo"), ds("X509Data")); x != nil {
		for i, c := range children(x, nsDS, "X509Certificate") {
			if i == maxCertificates {
				return invalid("KeyInfo holds more than %d certificates", maxCertificates)
			}
			der, err := decodeBase64(c.Text())
			if err != nil {
				return invalid("a KeyInfo certificate is not base64")
			}
			cert, err := x509.ParseCertificate(der)
			if err != nil {
				return invalid("a KeyInfo certificate does not parse: %v", err)
			}
			certs = append(certs, cert)
		}
	}
	sigID := sig.SelectAttrValue("Id", "")
	var qp *etree.Element
	for _, obj := range children(sig, nsDS, "Object") {
		for _, q := range children(obj, nsXAdES, "QualifyingProperties") {
			if t := q.SelectAttrValue("Target", ""); t == "#"+sigID || t == "" {
				if qp != nil {
					return invalid("the signature has more than one QualifyingProperties")
				}
				qp = q
			}
		}
	}
	sp := child(qp, nsXAdES, "SignedProperties")
	if sp == nil {
		return invalid("not a XAdES signature: no xades:SignedProperties")
	}
	ssp := child(sp, nsXAdES, "SignedSignatureProperties")
	if st := child(ssp, nsXAdES, "SigningTime"); st != nil {
		if t, err := time.Parse(time.RFC3339, strings.TrimSpace(st.Text())); err == nil {
			t = t.UTC()
			r.ClaimedTime = &t
		}
	}
	var cert *x509.Certificate
	scv2 := child(child(ssp, nsXAdES, "SigningCertificateV2"), nsXAdES, "Cert")
	for _, c := range certs {
		if scv2 == nil {
			break
		}
		if ok, _ := checkDigest(child(scv2, nsXAdES, "CertDigest"), c.Raw); ok {
			cert = c
			r.CertificateBound = true
			if is := child(scv2, nsXAdES, "IssuerSerialV2"); is != nil {
				got, err1 := decodeBase64(is.Text())
				want, err2 := issuerSerialV2(c)
				r.CertificateBound = err1 == nil && err2 == nil && bytes.Equal(got, want)
			}
			break
		}
	}
	if cert == nil && len(certs) > 0 {
		cert = certs[0]
	}
	if cert != nil {
		r.Signer = pki.NameString(cert.Subject)
		r.SignerSerial = hex.EncodeToString(cert.SerialNumber.Bytes())
		r.Issuer = cert.Issuer.String()
	}

	// References: the document (URI="", enveloped) and the signed properties.
	refs := children(si, nsDS, "Reference")
	if len(refs) > maxReferences {
		return invalid("SignedInfo holds more than %d references", maxReferences)
	}
	docOK, spOK := false, false
	var docSeen, spSeen bool
	for _, ref := range refs {
		uri, hasURI := "", false
		for _, a := range ref.Attr {
			if a.Space == "" && a.Key == "URI" {
				uri, hasURI = a.Value, true
			}
		}
		typ := ref.SelectAttrValue("Type", "")
		var transforms []string
		if tr := child(ref, nsDS, "Transforms"); tr != nil {
			for _, t := range children(tr, nsDS, "Transform") {
				transforms = append(transforms, algorithm(t))
			}
		}
		switch {
		case hasURI && uri == "" && !docSeen:
			docSeen = true
			if len(transforms) == 0 || transforms[0] != algEnveloped || len(transforms) > 2 {
				return invalid("the document reference must use the enveloped-signature transform, then at most a canonicalization")
			}
			alg := algC14N10
			if len(transforms) == 2 {
				alg = transforms[1]
			}
			data, err := canonicalizeDocument(doc.tree, sig, alg)
			if err != nil {
				return invalid("%s", selo.ErrorMessage(err))
			}
			ok, err := checkDigest(ref, data)
			if err != nil {
				return invalid("%s", selo.ErrorMessage(err))
			}
			docOK = ok
		case typ == typeSignedProps && strings.HasPrefix(uri, "#") && !spSeen:
			spSeen = true
			if uri[1:] != sp.SelectAttrValue("Id", "") || uri == "#" {
				return invalid("the signed-properties reference %q does not point at this signature's SignedProperties", uri)
			}
			if len(transforms) > 1 {
				return invalid("the signed-properties reference has more than one transform")
			}
			alg := algC14N10
			if len(transforms) == 1 {
				alg = transforms[0]
			}
			data, err := canonicalize(sp, alg)
			if err != nil {
				return invalid("%s", selo.ErrorMessage(err))
			}
			ok, err := checkDigest(ref, data)
			if err != nil {
				return invalid("%s", selo.ErrorMessage(err))
			}
			spOK = ok
		default:
			return invalid("reference %q (type %q) is not supported: only the enveloped document and the signed properties", uri, typ)
		}
	}
	if !docSeen {
		return invalid("the signature does not cover the document (no reference with URI=\"\")")
	}
	if !spSeen {
		return invalid("not a XAdES signature: the signed properties are not referenced")
	}
	r.DigestOK = docOK && spOK

	// The signature value over the canonical SignedInfo.
	if cert == nil {
		return invalid("the signer's certificate is not in KeyInfo")
	}
	if cert.PublicKeyAlgorithm != keyAlg {
		return invalid("the signature method %q does not fit the certificate's %v key", sigMethod, cert.PublicKeyAlgorithm)
	}
	siC14N, err := canonicalize(si, c14nAlg)
	if err != nil {
		return invalid("%s", selo.ErrorMessage(err))
	}
	sv := child(sig, nsDS, "SignatureValue")
	if sv == nil {
		return invalid("the signature has no SignatureValue")
	}
	value, err := decodeBase64(sv.Text())
	if err != nil {
		return invalid("the signature value is not base64")
	}
	d := hash.New()
	d.Write(siC14N)
	r.SignatureOK = checkValue(cert.PublicKey, hash, d.Sum(nil), value)

	switch {
	case !docOK:
		return invalid("the document was CHANGED after signing: its digest does not match the signed reference")
	case !spOK:
		return invalid("the signed properties were changed after signing")
	case !r.SignatureOK:
		return invalid("the signature value is not valid")
	case !r.CertificateBound:
		return invalid("the signing-certificate-v2 property does not name the signer's certificate")
	}

	if ku := cert.KeyUsage; ku != 0 && ku&(x509.KeyUsageDigitalSignature|x509.KeyUsageContentCommitment) == 0 {
		r.Problems = append(r.Problems, "the signer's certificate does not allow signatures (key usage)")
	}
	// B-T: a timestamp over the canonical SignatureValue.
	at := now
	usp := path(qp, xades("UnsignedProperties"), xades("UnsignedSignatureProperties"))
	if sts := children(usp, nsXAdES, "SignatureTimeStamp"); usp != nil && len(sts) > 0 {
		r.Level = LevelBT
		t, tsaName, err := checkTimestamp(sts[0], sv, opts)
		if err != nil {
			r.Problems = append(r.Problems, "timestamp: "+selo.ErrorMessage(err))
		} else {
			r.TimestampOK = true
			r.Timestamp, r.TSA = &t, tsaName
			at = t
		}
	}
	// Chain, revocation and status as cades.Verify does them, the OCSP
	// responses and CRLs of xades:RevocationValues first.
	checker := opts.Revocation
	if checker != nil {
		ocsps, crls, err := revocationValues(usp)
		if err != nil {
			r.Problems = append(r.Problems, err.Error())
		}
		checker = checker.WithEmbedded(ocsps, crls)
	}
	r.Conclude(opts, cert, certs, at, checker)
	return r
}

// revocationValues returns the DER OCSP responses and CRLs of a
// signature's xades:RevocationValues (the B-LT validation data), if any.
// Entries that are not base64 are reported; what they hold is checked by
// the revocation checker, which ignores data about other certificates.
func revocationValues(usp *etree.Element) (ocsps, crls [][]byte, err error) {
	rv := children(usp, nsXAdES, "RevocationValues")
	if len(rv) == 0 {
		return nil, nil, nil
	}
	if len(rv) > 1 {
		return nil, nil, selo.Errorf(selo.EINVALID, "the signature holds more than one xades:RevocationValues: its revocation data is ignored")
	}
	read := func(list, value string) ([][]byte, error) {
		var out [][]byte
		for _, l := range children(rv[0], nsXAdES, list) {
			for _, v := range children(l, nsXAdES, value) {
				if len(out) == maxRevocationValues {
					return nil, selo.Errorf(selo.EINVALID, "xades:RevocationValues holds more than %d %s: its revocation data is ignored", maxRevocationValues, value)
				}
				der, err := decodeBase64(v.Text())
				if err != nil {
					return nil, selo.Errorf(selo.EINVALID, "a %s in xades:RevocationValues is not base64: its revocation data is ignored", value)
				}
				out = append(out, der)
			}
		}
		return out, nil
	}
	if ocsps, err = read("OCSPValues", "EncapsulatedOCSPValue"); err != nil {
		return nil, nil, err
	}
	if crls, err = read("CRLValues", "EncapsulatedCRLValue"); err != nil {
		return nil, nil, err
	}
	return ocsps, crls, nil
}

// checkValue verifies an XML-DSig signature value: PKCS#1 v1.5 for RSA,
// r||s for ECDSA.
func checkValue(pub crypto.PublicKey, h crypto.Hash, digest, value []byte) bool {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return rsa.VerifyPKCS1v15(k, h, digest, value) == nil
	case *ecdsa.PublicKey:
		size := (k.Curve.Params().BitSize + 7) / 8
		if len(value) != 2*size {
			return false
		}
		return ecdsa.Verify(k, digest, new(big.Int).SetBytes(value[:size]), new(big.Int).SetBytes(value[size:]))
	}
	return false
}

// checkTimestamp verifies a xades:SignatureTimeStamp: one RFC 3161 token
// over the canonical SignatureValue, by a TSA that chains to the roots.
func checkTimestamp(sts, sv *etree.Element, opts VerifyOptions) (time.Time, string, error) {
	alg := algorithm(child(sts, nsDS, "CanonicalizationMethod"))
	if alg == "" {
		alg = algC14N10
	}
	enc := children(sts, nsXAdES, "EncapsulatedTimeStamp")
	if len(enc) != 1 {
		return time.Time{}, "", selo.Errorf(selo.EINVALID, "the signature timestamp must hold one EncapsulatedTimeStamp")
	}
	der, err := decodeBase64(enc[0].Text())
	if err != nil {
		return time.Time{}, "", selo.Errorf(selo.EINVALID, "the timestamp is not base64")
	}
	data, err := canonicalize(sv, alg)
	if err != nil {
		return time.Time{}, "", err
	}
	return cades.CheckSignatureTimestamp(der, data, opts)
}
