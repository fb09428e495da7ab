package pki

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/asn1"
	"fmt"
	"math/big"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/selo-qtsp/selo"
)

// MaxOCSPRequestSize is the largest OCSP request ParseOCSPRequest reads. Real
// requests are about 100 bytes per certificate; the bound keeps a hostile
// request from costing memory and parse time.
const MaxOCSPRequestSize = 10 << 10

// maxNonceSize is the longest nonce RFC 9654 allows (it raised RFC 8954's 32).
const maxNonceSize = 128

// OCSPRequest is a parsed OCSP request (RFC 6960 4.1): the certificates asked
// about and the nonce to echo.
type OCSPRequest struct {
	CertIDs []OCSPCertID
	// Nonce is the extnValue of the id-pkix-ocsp-nonce request extension
	// exactly as sent (normally the DER of an OCTET STRING, RFC 9654), for
	// OCSPResponseTemplate.Nonce; nil when the request has none.
	Nonce []byte
}

// OCSPCertID names one certificate in an OCSP request or response: its
// issuer by hashes of the issuer's name and key, and its serial.
type OCSPCertID struct {
	HashAlgorithm  crypto.Hash // SHA-1, SHA-256, SHA-384 or SHA-512
	IssuerNameHash []byte
	IssuerKeyHash  []byte
	Serial         *big.Int

	// rawHashAlgorithm is the AlgorithmIdentifier as the client wrote it,
	// echoed in the response: clients such as OpenSSL compare it byte for
	// byte, parameters (NULL or absent) included. nil means the usual NULL.
	rawHashAlgorithm []byte
}

// ocspHashes are the hash algorithms of the CertIDs Selo reads and writes.
var ocspHashes = []struct {
	hash crypto.Hash
	oid  asn1.ObjectIdentifier
}{
	{crypto.SHA1, asn1.ObjectIdentifier{1, 3, 14, 3, 2, 26}},
	{crypto.SHA256, asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}},
	{crypto.SHA384, asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 2}},
	{crypto.SHA512, asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 3}},
}

// oidOCSPNonce is id-pkix-ocsp-nonce (1.3.6.1.5.5.7.48.1.2).
var oidOCSPNonce = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 2}

// NewOCSPCertID returns the CertID of the certificate with serial issued by
// issuer, hashed with h (SHA-1 is what most clients send, RFC 5019).
func NewOCSPCertID(issuer *x509.Certificate, serial *big.Int, h crypto.Hash) (OCSPCertID, error) {
	if issuer == nil || serial == nil {
		return OCSPCertID{}, selo.Errorf(selo.EINVALID, "ocsp cert id needs an issuer and a serial")
	}
	if hashOID(h) == nil || !h.Available() {
		return OCSPCertID{}, selo.Errorf(selo.EINVALID, "ocsp cert id hash %v is not one of SHA-1, SHA-256, SHA-384, SHA-512", h)
	}
	nameHash, keyHash, err := issuerHashes(issuer, h)
	if err != nil {
		return OCSPCertID{}, err
	}
	return OCSPCertID{HashAlgorithm: h, IssuerNameHash: nameHash, IssuerKeyHash: keyHash, Serial: new(big.Int).Set(serial)}, nil
}

// MatchesIssuer reports whether id names a certificate issued by issuer.
func (id OCSPCertID) MatchesIssuer(issuer *x509.Certificate) bool {
	if issuer == nil || hashOID(id.HashAlgorithm) == nil || !id.HashAlgorithm.Available() {
		return false
	}
	nameHash, keyHash, err := issuerHashes(issuer, id.HashAlgorithm)
	return err == nil && bytes.Equal(nameHash, id.IssuerNameHash) && bytes.Equal(keyHash, id.IssuerKeyHash)
}

// issuerHashes returns the hashes of the issuer's encoded subject and of its
// subjectPublicKey bits (RFC 6960 4.1.1).
func issuerHashes(issuer *x509.Certificate, h crypto.Hash) (nameHash, keyHash []byte, err error) {
	key, err := subjectPublicKeyBits(issuer)
	if err != nil {
		return nil, nil, err
	}
	d := h.New()
	d.Write(issuer.RawSubject)
	nameHash = d.Sum(nil)
	d.Reset()
	d.Write(key)
	return nameHash, d.Sum(nil), nil
}

// subjectPublicKeyBits returns the contents of the subjectPublicKey BIT STRING
// of a certificate, without the unused-bits octet.
func subjectPublicKeyBits(cert *x509.Certificate) ([]byte, error) {
	in := cryptobyte.String(cert.RawSubjectPublicKeyInfo)
	var spki cryptobyte.String
	var bits []byte
	if !in.ReadASN1(&spki, cbasn1.SEQUENCE) || !spki.SkipASN1(cbasn1.SEQUENCE) || !spki.ReadASN1BitStringAsBytes(&bits) {
		return nil, selo.Errorf(selo.EINVALID, "certificate %q has no readable public key (pass a parsed certificate)", cert.Subject.CommonName)
	}
	return bits, nil
}

func hashOID(h crypto.Hash) asn1.ObjectIdentifier {
	for _, e := range ocspHashes {
		if e.hash == h {
			return e.oid
		}
	}
	return nil
}

// ParseOCSPRequest reads a DER OCSP request (RFC 6960 4.1.1) with every
// CertID it asks about and its nonce. A signed request is accepted but its
// signature is not checked: Selo's responder answers anyone. Anything
// malformed, larger than MaxOCSPRequestSize, followed by trailing data, with
// an unsupported hash algorithm, a nonce outside 1..128 octets (RFC 9654) or
// an unknown critical extension is selo EINVALID, which a responder answers
// with malformedRequest.
func ParseOCSPRequest(der []byte) (*OCSPRequest, error) {
	if len(der) > MaxOCSPRequestSize {
		return nil, selo.Errorf(selo.EINVALID, "ocsp request is larger than %d bytes", MaxOCSPRequestSize)
	}
	if len(der) == 0 {
		return nil, selo.Errorf(selo.EINVALID, "ocsp request is empty")
	}
	in := cryptobyte.String(der)
	var req, tbs cryptobyte.String
	if !in.ReadASN1(&req, cbasn1.SEQUENCE) {
		return nil, invalidOCSPRequest("it is not a der sequence")
	}
	if !in.Empty() {
		return nil, invalidOCSPRequest("trailing data after the request")
	}
	if !req.ReadASN1(&tbs, cbasn1.SEQUENCE) {
		return nil, invalidOCSPRequest("tbsRequest is not a sequence")
	}
	// optionalSignature [0] EXPLICIT Signature: accepted, not checked.
	if !req.SkipOptionalASN1(cbasn1.Tag(0).Constructed().ContextSpecific()) || !req.Empty() {
		return nil, invalidOCSPRequest("unexpected data after tbsRequest")
	}

	var version cryptobyte.String
	var present bool
	if !tbs.ReadOptionalASN1(&version, &present, cbasn1.Tag(0).Constructed().ContextSpecific()) {
		return nil, invalidOCSPRequest("malformed version")
	}
	if present {
		var v int64
		if !version.ReadASN1Int64WithTag(&v, cbasn1.INTEGER) || !version.Empty() {
			return nil, invalidOCSPRequest("malformed version")
		}
		if v != 0 {
			return nil, selo.Errorf(selo.EINVALID, "ocsp request version %d is not supported (want v1)", v+1)
		}
	}
	// requestorName [1] EXPLICIT GeneralName: not used.
	if !tbs.SkipOptionalASN1(cbasn1.Tag(1).Constructed().ContextSpecific()) {
		return nil, invalidOCSPRequest("malformed requestorName")
	}
	var list cryptobyte.String
	if !tbs.ReadASN1(&list, cbasn1.SEQUENCE) {
		return nil, invalidOCSPRequest("requestList is not a sequence")
	}
	out := &OCSPRequest{}
	for !list.Empty() {
		var single cryptobyte.String
		if !list.ReadASN1(&single, cbasn1.SEQUENCE) {
			return nil, invalidOCSPRequest(fmt.Sprintf("request %d is not a sequence", len(out.CertIDs)+1))
		}
		id, err := parseCertID(&single)
		if err != nil {
			return nil, selo.Errorf(selo.EINVALID, "ocsp request %d: %s", len(out.CertIDs)+1, err)
		}
		// singleRequestExtensions [0] EXPLICIT Extensions: none is defined
		// that Selo acts on (the service locator is for forwarding).
		if !single.SkipOptionalASN1(cbasn1.Tag(0).Constructed().ContextSpecific()) || !single.Empty() {
			return nil, invalidOCSPRequest(fmt.Sprintf("request %d has unexpected data after its cert id", len(out.CertIDs)+1))
		}
		out.CertIDs = append(out.CertIDs, id)
	}
	if len(out.CertIDs) == 0 {
		return nil, selo.Errorf(selo.EINVALID, "ocsp request asks about no certificate")
	}
	var extensions cryptobyte.String
	if !tbs.ReadOptionalASN1(&extensions, &present, cbasn1.Tag(2).Constructed().ContextSpecific()) {
		return nil, invalidOCSPRequest("malformed requestExtensions")
	}
	if present {
		nonce, err := parseRequestExtensions(extensions)
		if err != nil {
			return nil, err
		}
		out.Nonce = nonce
	}
	if !tbs.Empty() {
		return nil, invalidOCSPRequest("unexpected data after the request list")
	}
	return out, nil
}

func invalidOCSPRequest(why string) error {
	return selo.Errorf(selo.EINVALID, "malformed ocsp request: %s", why)
}

// parseCertID reads a CertID from the front of s; errors are bare messages.
func parseCertID(s *cryptobyte.String) (OCSPCertID, error) {
	var certID, rawAlg, alg cryptobyte.String
	var oid asn1.ObjectIdentifier
	if !s.ReadASN1(&certID, cbasn1.SEQUENCE) {
		return OCSPCertID{}, fmt.Errorf("cert id is not a sequence")
	}
	if !certID.ReadASN1Element(&rawAlg, cbasn1.SEQUENCE) {
		return OCSPCertID{}, fmt.Errorf("malformed hash algorithm")
	}
	in := rawAlg
	if !in.ReadASN1(&alg, cbasn1.SEQUENCE) || !alg.ReadASN1ObjectIdentifier(&oid) {
		return OCSPCertID{}, fmt.Errorf("malformed hash algorithm")
	}
	// Parameters are absent or NULL for the SHA family (RFC 5754 2).
	if alg.PeekASN1Tag(cbasn1.NULL) {
		var null cryptobyte.String
		if !alg.ReadASN1(&null, cbasn1.NULL) || !null.Empty() {
			return OCSPCertID{}, fmt.Errorf("malformed hash algorithm parameters")
		}
	}
	if !alg.Empty() {
		return OCSPCertID{}, fmt.Errorf("hash algorithm has unexpected parameters")
	}
	id := OCSPCertID{rawHashAlgorithm: bytes.Clone(rawAlg)}
	for _, e := range ocspHashes {
		if oid.Equal(e.oid) {
			id.HashAlgorithm = e.hash
		}
	}
	if id.HashAlgorithm == 0 {
		return OCSPCertID{}, fmt.Errorf("hash algorithm %s is not supported (want SHA-1, SHA-256, SHA-384 or SHA-512)", truncate(oid.String(), 60))
	}
	serial := new(big.Int)
	if !certID.ReadASN1Bytes(&id.IssuerNameHash, cbasn1.OCTET_STRING) ||
		!certID.ReadASN1Bytes(&id.IssuerKeyHash, cbasn1.OCTET_STRING) ||
		!certID.ReadASN1Integer(serial) || !certID.Empty() {
		return OCSPCertID{}, fmt.Errorf("malformed cert id")
	}
	if n := id.HashAlgorithm.Size(); len(id.IssuerNameHash) != n || len(id.IssuerKeyHash) != n {
		return OCSPCertID{}, fmt.Errorf("issuer hashes are not %d-byte %v digests", n, id.HashAlgorithm)
	}
	// The result must not alias the request buffer, which a server may reuse.
	id.IssuerNameHash = bytes.Clone(id.IssuerNameHash)
	id.IssuerKeyHash = bytes.Clone(id.IssuerKeyHash)
	id.Serial = serial
	return id, nil
}

// parseRequestExtensions reads the requestExtensions and returns the nonce.
func parseRequestExtensions(s cryptobyte.String) ([]byte, error) {
	var exts cryptobyte.String
	if !s.ReadASN1(&exts, cbasn1.SEQUENCE) || !s.Empty() {
		return nil, invalidOCSPRequest("requestExtensions is not a sequence")
	}
	var nonce []byte
	seenNonce := false
	for !exts.Empty() {
		var ext cryptobyte.String
		var oid asn1.ObjectIdentifier
		var critical bool
		var value []byte
		if !exts.ReadASN1(&ext, cbasn1.SEQUENCE) || !ext.ReadASN1ObjectIdentifier(&oid) {
			return nil, invalidOCSPRequest("malformed extension")
		}
		// critical BOOLEAN DEFAULT FALSE, untagged.
		if ext.PeekASN1Tag(cbasn1.BOOLEAN) && !ext.ReadASN1Boolean(&critical) {
			return nil, invalidOCSPRequest("malformed extension")
		}
		if !ext.ReadASN1Bytes(&value, cbasn1.OCTET_STRING) || !ext.Empty() {
			return nil, invalidOCSPRequest("malformed extension")
		}
		if !oid.Equal(oidOCSPNonce) {
			if critical {
				return nil, selo.Errorf(selo.EINVALID, "ocsp request has an unknown critical extension %s", truncate(oid.String(), 60))
			}
			continue
		}
		if seenNonce {
			return nil, selo.Errorf(selo.EINVALID, "ocsp request has two nonces")
		}
		seenNonce = true
		if err := checkNonce(value); err != nil {
			return nil, err
		}
		nonce = bytes.Clone(value)
	}
	return nonce, nil
}

// checkNonce checks the extnValue of a nonce extension: an OCTET STRING of 1
// to 128 octets (RFC 9654), or, from clients that predate RFC 8954, the raw
// nonce of that length.
func checkNonce(extnValue []byte) error {
	n := len(extnValue)
	s := cryptobyte.String(extnValue)
	var inner []byte
	if s.ReadASN1Bytes(&inner, cbasn1.OCTET_STRING) && s.Empty() {
		n = len(inner)
	}
	if n < 1 || n > maxNonceSize {
		return selo.Errorf(selo.EINVALID, "ocsp nonce of %d octets is outside 1..%d", n, maxNonceSize)
	}
	return nil
}
