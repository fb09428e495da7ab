package cms

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"fmt"
	"math/big"
	"slices"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/selo-qtsp/selo"
)

// Attribute is a CMS attribute: a type and the DER of each of its values.
type Attribute struct {
	Type   asn1.ObjectIdentifier
	Values [][]byte
}

// Options describes the signature to prepare. Certificate is required.
type Options struct {
	// Certificate is the signer's certificate.
	Certificate *x509.Certificate
	// Chain holds the certificates that follow the signer's in the message
	// (issuing CAs, optionally the root) so a verifier can build the path.
	Chain []*x509.Certificate
	// Hash is the digest algorithm: SHA-256, SHA-384 or SHA-512. Zero picks
	// SHA-384 for P-384 keys, SHA-512 for P-521 and SHA-256 otherwise.
	Hash crypto.Hash
	// PSS signs RSA keys with RSASSA-PSS (salt as long as the hash) instead
	// of PKCS#1 v1.5.
	PSS bool
	// ContentType is the eContentType; nil means id-data.
	ContentType asn1.ObjectIdentifier
	// Detached leaves the content out of the message (a .p7s beside the file).
	Detached bool
	// NoCertificates leaves the certificates field out (an RFC 3161 token
	// answering a request without certReq); the verifier must have them.
	NoCertificates bool
	// SigningTime adds the signing-time attribute (the signer's claimed time)
	// when not zero. PAdES baseline forbids it inside the CMS, so it is opt-in.
	SigningTime time.Time
	// ExtraSignedAttributes are added after the ones this package writes;
	// they must not repeat content-type, message-digest, signing-time or
	// signing-certificate-v2.
	ExtraSignedAttributes []Attribute
}

// Prepared is a signature waiting for its signature value: the signed
// attributes are fixed, and what must be signed is Digest. It is the first
// half of two-step signing; Finish is the second.
type Prepared struct {
	opts        Options
	hash        crypto.Hash
	content     []byte // nil when detached
	signedAttrs []byte // DER SET OF Attribute, what the signature covers
	sigAlg      []byte // DER AlgorithmIdentifier of the signature
}

// maxAttributes bounds the extra signed attributes of one signature.
const maxAttributes = 32

// Prepare starts a signature over content, enveloping unless opts.Detached.
func Prepare(content []byte, opts Options) (*Prepared, error) {
	h, err := pickHash(opts)
	if err != nil {
		return nil, err
	}
	d := h.New()
	d.Write(content)
	p, err := prepare(d.Sum(nil), h, opts)
	if err != nil {
		return nil, err
	}
	if !opts.Detached {
		p.content = bytes.Clone(content)
	}
	return p, nil
}

// PrepareDigest starts a detached signature over content the caller hashed
// itself (a PDF's byte ranges, a file streamed from disk) with opts.Hash.
func PrepareDigest(digest []byte, opts Options) (*Prepared, error) {
	if !opts.Detached {
		return nil, selo.Errorf(selo.EINVALID, "a signature prepared from a digest is detached: set Detached")
	}
	h, err := pickHash(opts)
	if err != nil {
		return nil, err
	}
	if len(digest) != h.Size() {
		return nil, selo.Errorf(selo.EINVALID, "digest is %d bytes; %v digests are %d", len(digest), h, h.Size())
	}
	return prepare(digest, h, opts)
}

// HashFor returns the digest algorithm a signature with opts uses (opts.Hash,
// or the default for the certificate's key), so a caller can hash a large
// file itself before PrepareDigest.
func HashFor(opts Options) (crypto.Hash, error) { return pickHash(opts) }

// pickHash checks the certificate's key and returns the digest algorithm.
func pickHash(opts Options) (crypto.Hash, error) {
	if opts.Certificate == nil {
		return 0, selo.Errorf(selo.EINVALID, "the signer's certificate is required")
	}
	h := opts.Hash
	switch k := opts.Certificate.PublicKey.(type) {
	case *ecdsa.PublicKey:
		if opts.PSS {
			return 0, selo.Errorf(selo.EINVALID, "RSASSA-PSS needs an RSA key; the certificate holds an ECDSA key")
		}
		switch k.Curve {
		case elliptic.P256():
			if h == 0 {
				h = crypto.SHA256
			}
		case elliptic.P384():
			if h == 0 {
				h = crypto.SHA384
			}
		case elliptic.P521():
			if h == 0 {
				h = crypto.SHA512
			}
		default:
			return 0, selo.Errorf(selo.EINVALID, "ECDSA curve %s is not supported (want P-256, P-384 or P-521)", k.Curve.Params().Name)
		}
	case *rsa.PublicKey:
		if k.N.BitLen() < 2048 {
			return 0, selo.Errorf(selo.EINVALID, "RSA key of %d bits is too small to sign with (at least 2048)", k.N.BitLen())
		}
		if h == 0 {
			h = crypto.SHA256
		}
	default:
		return 0, selo.Errorf(selo.EINVALID, "the certificate's %T key is not supported (want ECDSA or RSA)", opts.Certificate.PublicKey)
	}
	if HashOID(h) == nil {
		return 0, selo.Errorf(selo.EINVALID, "digest algorithm %v is not supported (want SHA-256, SHA-384 or SHA-512)", h)
	}
	return h, nil
}

func prepare(digest []byte, h crypto.Hash, opts Options) (*Prepared, error) {
	if len(opts.ExtraSignedAttributes) > maxAttributes {
		return nil, selo.Errorf(selo.EINVALID, "more than %d extra signed attributes", maxAttributes)
	}
	contentType := opts.ContentType
	if contentType == nil {
		contentType = OIDData
	}
	ctDER, err := asn1.Marshal(contentType)
	if err != nil {
		return nil, selo.Errorf(selo.EINVALID, "content type: %v", err)
	}
	mdDER, _ := asn1.Marshal(digest)
	attrs := []Attribute{
		{Type: OIDAttributeContentType, Values: [][]byte{ctDER}},
		{Type: OIDAttributeMessageDigest, Values: [][]byte{mdDER}},
	}
	if !opts.SigningTime.IsZero() {
		t, err := marshalTime(opts.SigningTime)
		if err != nil {
			return nil, err
		}
		attrs = append(attrs, Attribute{Type: OIDAttributeSigningTime, Values: [][]byte{t}})
	}
	essDER, err := signingCertificateV2(opts.Certificate, crypto.SHA256)
	if err != nil {
		return nil, err
	}
	attrs = append(attrs, Attribute{Type: OIDAttributeSigningCertificateV2, Values: [][]byte{essDER}})
	for _, a := range opts.ExtraSignedAttributes {
		for _, own := range attrs {
			if own.Type.Equal(a.Type) {
				return nil, selo.Errorf(selo.EINVALID, "extra signed attribute %s repeats one this package writes", a.Type)
			}
		}
		if len(a.Values) == 0 {
			return nil, selo.Errorf(selo.EINVALID, "extra signed attribute %s has no value", a.Type)
		}
		attrs = append(attrs, a)
	}
	signedAttrs, err := marshalAttributes(attrs, 0)
	if err != nil {
		return nil, err
	}
	// The SET tag, not the [0] of the SignerInfo, is what gets hashed (RFC 5652 5.4).
	signedAttrs[0] = 0x31
	sigAlg, err := signatureAlgorithm(opts.Certificate.PublicKey, h, opts.PSS)
	if err != nil {
		return nil, err
	}
	o := opts
	o.Chain = slices.Clone(opts.Chain)
	o.ContentType = contentType
	return &Prepared{opts: o, hash: h, signedAttrs: signedAttrs, sigAlg: sigAlg}, nil
}

// marshalTime encodes a signing time as RFC 5652 11.3 demands: UTCTime for
// 1950 to 2049, GeneralizedTime otherwise, in UTC to the second.
func marshalTime(t time.Time) ([]byte, error) {
	t = t.UTC().Truncate(time.Second)
	if t.Year() >= 1950 && t.Year() < 2050 {
		return asn1.MarshalWithParams(t, "utc")
	}
	return asn1.MarshalWithParams(t, "generalized")
}

// signingCertificateV2 encodes the ESS SigningCertificateV2 (RFC 5035) that
// binds the signature to cert: its hash and its issuer and serial number.
func signingCertificateV2(cert *x509.Certificate, h crypto.Hash) ([]byte, error) {
	d := h.New()
	d.Write(cert.Raw)
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // SigningCertificateV2
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // certs
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // ESSCertIDv2
				if h != crypto.SHA256 { // DEFAULT id-sha256 is left out in DER
					addAlgorithm(b, HashOID(h), false)
				}
				b.AddASN1OctetString(d.Sum(nil))
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // IssuerSerial
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // GeneralNames
						b.AddASN1(cbasn1.Tag(4).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) {
							b.AddBytes(cert.RawIssuer)
						})
					})
					b.AddASN1BigInt(cert.SerialNumber)
				})
			})
		})
	})
	return b.Bytes()
}

// marshalAttributes encodes attrs as a SET OF Attribute, sorted as DER
// requires, under the tag [tag] IMPLICIT.
func marshalAttributes(attrs []Attribute, tag int) ([]byte, error) {
	encoded := make([][]byte, 0, len(attrs))
	for _, a := range attrs {
		var b cryptobyte.Builder
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1ObjectIdentifier(a.Type)
			b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) {
				for _, v := range sortedDER(a.Values) {
					b.AddBytes(v)
				}
			})
		})
		der, err := b.Bytes()
		if err != nil {
			return nil, selo.Errorf(selo.EINVALID, "encode attribute %s: %v", a.Type, err)
		}
		encoded = append(encoded, der)
	}
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.Tag(tag).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) {
		for _, e := range sortedDER(encoded) {
			b.AddBytes(e)
		}
	})
	return b.Bytes()
}

// sortedDER orders encodings as DER orders a SET OF: by their bytes, the
// shorter first when one is a prefix of the other.
func sortedDER(values [][]byte) [][]byte {
	out := slices.Clone(values)
	slices.SortFunc(out, bytes.Compare)
	return out
}

func addAlgorithm(b *cryptobyte.Builder, oid asn1.ObjectIdentifier, null bool) {
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(oid)
		if null {
			b.AddASN1NULL()
		}
	})
}

// signatureAlgorithm returns the DER AlgorithmIdentifier of the SignerInfo's
// signature: ecdsa-with-SHAx, shaXWithRSAEncryption or RSASSA-PSS.
func signatureAlgorithm(pub crypto.PublicKey, h crypto.Hash, pss bool) ([]byte, error) {
	var b cryptobyte.Builder
	switch pub.(type) {
	case *ecdsa.PublicKey:
		oid := map[crypto.Hash]asn1.ObjectIdentifier{crypto.SHA256: oidECDSAWithSHA256, crypto.SHA384: oidECDSAWithSHA384, crypto.SHA512: oidECDSAWithSHA512}[h]
		addAlgorithm(&b, oid, false)
	case *rsa.PublicKey:
		if !pss {
			oid := map[crypto.Hash]asn1.ObjectIdentifier{crypto.SHA256: oidSHA256WithRSA, crypto.SHA384: oidSHA384WithRSA, crypto.SHA512: oidSHA512WithRSA}[h]
			addAlgorithm(&b, oid, true)
			break
		}
		// RSASSA-PSS-params (RFC 4055 3.1): the hash, MGF1 with the same
		// hash, a salt as long as the hash, the default trailer.
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1ObjectIdentifier(oidRSASSAPSS)
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1(cbasn1.Tag(0).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) {
					addAlgorithm(b, HashOID(h), true)
				})
				b.AddASN1(cbasn1.Tag(1).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) {
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
						b.AddASN1ObjectIdentifier(oidMGF1)
						addAlgorithm(b, HashOID(h), true)
					})
				})
				b.AddASN1(cbasn1.Tag(2).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) {
					b.AddASN1Int64(int64(h.Size()))
				})
			})
		})
	default:
		return nil, selo.Errorf(selo.EINVALID, "unsupported key %T", pub)
	}
	return b.Bytes()
}

// SignedAttributes returns the DER of the signed attributes (a SET OF
// Attribute): the bytes the signature covers.
func (p *Prepared) SignedAttributes() []byte { return bytes.Clone(p.signedAttrs) }

// Hash returns the digest algorithm of the signature.
func (p *Prepared) Hash() crypto.Hash { return p.hash }

// Digest returns the hash of the signed attributes: what a key that signs
// digests (crypto.Signer, CSC signHash) must sign.
func (p *Prepared) Digest() []byte {
	d := p.hash.New()
	d.Write(p.signedAttrs)
	return d.Sum(nil)
}

// SignerOpts returns the options to pass to crypto.Signer.Sign with Digest.
func (p *Prepared) SignerOpts() crypto.SignerOpts {
	if p.opts.PSS {
		return &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: p.hash}
	}
	return p.hash
}

// Finish checks signature (over Digest, by the certificate's key) and
// assembles the SignedData. ECDSA signatures may be ASN.1 DER or the raw
// r||s some remote signers return. A signature that does not verify is
// refused: it would make a message nobody can validate.
func (p *Prepared) Finish(signature []byte) (*SignedData, error) {
	pub := p.opts.Certificate.PublicKey
	if k, ok := pub.(*ecdsa.PublicKey); ok {
		signature = ecdsaToDER(k, signature)
	}
	if err := checkSignature(pub, p.hash, p.opts.PSS, p.Digest(), signature); err != nil {
		return nil, selo.Errorf(selo.EINVALID, "the signature value does not verify with the signer's certificate: wrong key or wrong format")
	}
	var certs [][]byte
	if !p.opts.NoCertificates {
		certs = append(certs, p.opts.Certificate.Raw)
		for _, c := range p.opts.Chain {
			if c != nil && !bytes.Equal(c.Raw, p.opts.Certificate.Raw) {
				certs = append(certs, c.Raw)
			}
		}
	}
	si := &SignerInfo{
		Version:             1,
		RawIssuer:           p.opts.Certificate.RawIssuer,
		SerialNumber:        new(big.Int).Set(p.opts.Certificate.SerialNumber),
		Hash:                p.hash,
		rawSignedAttributes: bytes.Clone(p.signedAttrs),
		rawSignatureAlg:     p.sigAlg,
		Signature:           signature,
	}
	if err := si.parseSignedAttributes(); err != nil {
		return nil, err
	}
	sd := &SignedData{
		ContentType:     p.opts.ContentType,
		Content:         p.content,
		Detached:        p.opts.Detached,
		rawCertificates: certs,
		Signers:         []*SignerInfo{si},
	}
	if err := sd.parseCertificates(); err != nil {
		return nil, err
	}
	return sd, nil
}

// Sign prepares and finishes a signature with a local or remote
// crypto.Signer in one call.
func Sign(signer crypto.Signer, content []byte, opts Options) (*SignedData, error) {
	p, err := Prepare(content, opts)
	if err != nil {
		return nil, err
	}
	return p.SignWith(signer)
}

// SignWith signs Digest with signer and finishes the signature.
func (p *Prepared) SignWith(signer crypto.Signer) (*SignedData, error) {
	sig, err := signer.Sign(rand.Reader, p.Digest(), p.SignerOpts())
	if err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	return p.Finish(sig)
}

// ecdsaToDER turns a raw r||s signature of the key's size into ASN.1 DER and
// leaves anything else as it is.
func ecdsaToDER(k *ecdsa.PublicKey, sig []byte) []byte {
	size := (k.Curve.Params().BitSize + 7) / 8
	if len(sig) != 2*size {
		return sig
	}
	var probe struct{ R, S *big.Int }
	if rest, err := asn1.Unmarshal(sig, &probe); err == nil && len(rest) == 0 {
		return sig
	}
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1BigInt(new(big.Int).SetBytes(sig[:size]))
		b.AddASN1BigInt(new(big.Int).SetBytes(sig[size:]))
	})
	der, err := b.Bytes()
	if err != nil {
		return sig
	}
	return der
}

// checkSignature verifies sig over digest with pub.
func checkSignature(pub crypto.PublicKey, h crypto.Hash, pss bool, digest, sig []byte) error {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if !ecdsa.VerifyASN1(k, digest, sig) {
			return errBadSignature
		}
		return nil
	case *rsa.PublicKey:
		if pss {
			return rsa.VerifyPSS(k, h, digest, sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto, Hash: h})
		}
		return rsa.VerifyPKCS1v15(k, h, digest, sig)
	}
	return fmt.Errorf("unsupported key %T", pub)
}

var errBadSignature = fmt.Errorf("signature does not verify")
