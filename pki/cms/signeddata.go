package cms

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"math/big"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/selo-qtsp/selo"
)

// MaxMessageSize bounds the CMS messages Parse reads: 64 MiB, enough for an
// enveloping signature of a large document; detached ones are a few KiB.
const MaxMessageSize = 64 << 20

// Limits on what one message may hold, so that a hostile file cannot make
// the verifier loop over thousands of signers or certificates.
const (
	maxSigners      = 16
	maxCertificates = 64
)

// SignedData is a CMS SignedData, built by Finish or read by Parse.
type SignedData struct {
	// ContentType is the eContentType (id-data for documents).
	ContentType asn1.ObjectIdentifier
	// Content is the encapsulated content; nil when Detached.
	Content []byte
	// Detached is set when the message carries no content.
	Detached bool
	// Certificates are the certificates the message carries.
	Certificates []*x509.Certificate
	// Signers are the SignerInfos, in message order.
	Signers []*SignerInfo

	rawCertificates [][]byte
	rawCRLs         []byte // the [1] IMPLICIT crls field as read, re-emitted as is
	digestAlgs      [][]byte
}

// SignerInfo is one signer of a SignedData.
type SignerInfo struct {
	// Version is 1 (issuer and serial) or 3 (subject key identifier).
	Version int
	// RawIssuer and SerialNumber identify the signer's certificate (version 1).
	RawIssuer    []byte
	SerialNumber *big.Int
	// SubjectKeyID identifies it instead in version 3.
	SubjectKeyID []byte
	// Hash is the digest algorithm; 0 when the message names one this
	// package does not accept.
	Hash crypto.Hash
	// SignedAttributes and UnsignedAttributes as read or written.
	SignedAttributes   []Attribute
	UnsignedAttributes []Attribute
	// Signature is the signature value.
	Signature []byte

	digestOID           asn1.ObjectIdentifier
	rawSignedAttributes []byte // DER SET OF Attribute (tag 0x31), nil when absent
	rawSignatureAlg     []byte
}

// Bytes encodes the SignedData in a ContentInfo, the form of a .p7s file.
func (sd *SignedData) Bytes() ([]byte, error) {
	version := int64(1)
	if !sd.ContentType.Equal(OIDData) {
		version = 3 // RFC 5652 5.1: any other eContentType
	}
	for _, si := range sd.Signers {
		if si.Version == 3 {
			version = 3
		}
	}
	digestAlgs := sd.digestAlgs
	if digestAlgs == nil {
		seen := map[string]bool{}
		for _, si := range sd.Signers {
			var b cryptobyte.Builder
			addAlgorithm(&b, si.digestAlgorithm(), false)
			der, err := b.Bytes()
			if err != nil {
				return nil, err
			}
			if !seen[string(der)] {
				seen[string(der)] = true
				digestAlgs = append(digestAlgs, der)
			}
		}
	}
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // ContentInfo
		b.AddASN1ObjectIdentifier(OIDSignedData)
		b.AddASN1(cbasn1.Tag(0).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // SignedData
				b.AddASN1Int64(version)
				b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) {
					for _, d := range sortedDER(digestAlgs) {
						b.AddBytes(d)
					}
				})
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // EncapsulatedContentInfo
					b.AddASN1ObjectIdentifier(sd.ContentType)
					if !sd.Detached {
						b.AddASN1(cbasn1.Tag(0).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) {
							b.AddASN1OctetString(sd.Content)
						})
					}
				})
				if len(sd.rawCertificates) > 0 {
					b.AddASN1(cbasn1.Tag(0).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) {
						for _, c := range sd.rawCertificates {
							b.AddBytes(c)
						}
					})
				}
				if len(sd.rawCRLs) > 0 {
					b.AddBytes(sd.rawCRLs)
				}
				b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) {
					for _, si := range sd.Signers {
						si.marshal(b)
					}
				})
			})
		})
	})
	return b.Bytes()
}

func (si *SignerInfo) digestAlgorithm() asn1.ObjectIdentifier {
	if si.digestOID != nil {
		return si.digestOID
	}
	return HashOID(si.Hash)
}

func (si *SignerInfo) marshal(b *cryptobyte.Builder) {
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1Int64(int64(si.Version))
		if si.Version == 3 {
			b.AddASN1(cbasn1.Tag(0).ContextSpecific(), func(b *cryptobyte.Builder) { b.AddBytes(si.SubjectKeyID) })
		} else {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddBytes(si.RawIssuer)
				b.AddASN1BigInt(si.SerialNumber)
			})
		}
		addAlgorithm(b, si.digestAlgorithm(), false)
		if si.rawSignedAttributes != nil {
			attrs := bytes.Clone(si.rawSignedAttributes)
			attrs[0] = 0xa0 // [0] IMPLICIT SET OF Attribute
			b.AddBytes(attrs)
		}
		b.AddBytes(si.rawSignatureAlg)
		b.AddASN1OctetString(si.Signature)
		if len(si.UnsignedAttributes) > 0 {
			der, err := marshalAttributes(si.UnsignedAttributes, 1)
			if err != nil {
				b.SetError(err)
				return
			}
			b.AddBytes(der)
		}
	})
}

// AddUnsignedAttribute appends an unsigned attribute (a timestamp token,
// later validation data). It does not touch what the signature covers.
func (si *SignerInfo) AddUnsignedAttribute(a Attribute) {
	si.UnsignedAttributes = append(si.UnsignedAttributes, a)
}

// Attribute returns the values of the first signed attribute of type oid.
func (si *SignerInfo) Attribute(oid asn1.ObjectIdentifier) ([][]byte, bool) {
	return findAttribute(si.SignedAttributes, oid)
}

// Unsigned returns the values of the first unsigned attribute of type oid.
func (si *SignerInfo) Unsigned(oid asn1.ObjectIdentifier) ([][]byte, bool) {
	return findAttribute(si.UnsignedAttributes, oid)
}

func findAttribute(attrs []Attribute, oid asn1.ObjectIdentifier) ([][]byte, bool) {
	for _, a := range attrs {
		if a.Type.Equal(oid) {
			return a.Values, true
		}
	}
	return nil, false
}

// SigningTime returns the signer's claimed time, zero when the signature has
// no signing-time attribute.
func (si *SignerInfo) SigningTime() time.Time {
	v, ok := si.Attribute(OIDAttributeSigningTime)
	if !ok || len(v) != 1 {
		return time.Time{}
	}
	var t time.Time
	if rest, err := asn1.Unmarshal(v[0], &t); err != nil || len(rest) > 0 {
		return time.Time{}
	}
	return t
}

// ASN.1 shapes for parsing with encoding/asn1 (DER only).
type contentInfo struct {
	ContentType asn1.ObjectIdentifier
	Content     asn1.RawValue `asn1:"explicit,tag:0"`
}

type signedDataASN struct {
	Version          int
	DigestAlgorithms []asn1.RawValue `asn1:"set"`
	EncapContentInfo struct {
		EContentType asn1.ObjectIdentifier
		EContent     asn1.RawValue `asn1:"optional,explicit,tag:0"`
	}
	Certificates asn1.RawValue   `asn1:"optional,tag:0"`
	CRLs         asn1.RawValue   `asn1:"optional,tag:1"`
	SignerInfos  []asn1.RawValue `asn1:"set"`
}

type signerInfoASN struct {
	Version            int
	SID                asn1.RawValue
	DigestAlgorithm    pkix.AlgorithmIdentifier
	SignedAttrs        asn1.RawValue `asn1:"optional,tag:0"`
	SignatureAlgorithm asn1.RawValue
	Signature          []byte
	UnsignedAttrs      asn1.RawValue `asn1:"optional,tag:1"`
}

type attributeASN struct {
	Type   asn1.ObjectIdentifier
	Values []asn1.RawValue `asn1:"set"`
}

func malformed(format string, args ...any) error {
	return selo.Errorf(selo.EINVALID, "not a valid CMS signature: "+format, args...)
}

// Parse reads a DER ContentInfo holding a SignedData (a .p7s file, a
// timestamp token, a PDF's /Contents). BER indefinite lengths are refused.
func Parse(der []byte) (*SignedData, error) {
	if len(der) > MaxMessageSize {
		return nil, selo.Errorf(selo.ETOOLARGE, "CMS message of %d bytes is larger than %d", len(der), MaxMessageSize)
	}
	var ci contentInfo
	rest, err := asn1.Unmarshal(der, &ci)
	if err != nil {
		return nil, malformed("%s", asn1Message(err))
	}
	if len(bytes.TrimRight(rest, "\x00")) > 0 {
		return nil, malformed("trailing data after the message")
	}
	if !ci.ContentType.Equal(OIDSignedData) {
		return nil, malformed("content type %s is not signedData", ci.ContentType)
	}
	var sdASN signedDataASN
	if rest, err := asn1.Unmarshal(ci.Content.Bytes, &sdASN); err != nil || len(rest) > 0 {
		if err == nil {
			err = errors.New("trailing data")
		}
		return nil, malformed("signedData: %s", asn1Message(err))
	}
	sd := &SignedData{ContentType: sdASN.EncapContentInfo.EContentType}
	if sdASN.Version < 1 || sdASN.Version > 5 {
		return nil, malformed("signedData version %d", sdASN.Version)
	}
	for _, d := range sdASN.DigestAlgorithms {
		sd.digestAlgs = append(sd.digestAlgs, d.FullBytes)
	}
	if ec := sdASN.EncapContentInfo.EContent; len(ec.FullBytes) > 0 {
		content, ok := encapsulatedContent(ec.FullBytes)
		if !ok {
			return nil, malformed("encapsulated content is not one DER OCTET STRING")
		}
		sd.Content = content
	} else {
		sd.Detached = true
	}
	if c := sdASN.Certificates; len(c.FullBytes) > 0 {
		if c.Class != asn1.ClassContextSpecific || !c.IsCompound {
			return nil, malformed("certificates field")
		}
		in := cryptobyte.String(c.Bytes)
		for !in.Empty() {
			var cert cryptobyte.String
			if !in.ReadASN1Element(&cert, cbasn1.SEQUENCE) {
				return nil, malformed("certificates: only X.509 certificates are read")
			}
			if len(sd.rawCertificates) == maxCertificates {
				return nil, malformed("more than %d certificates", maxCertificates)
			}
			sd.rawCertificates = append(sd.rawCertificates, cert)
		}
	}
	if len(sdASN.CRLs.FullBytes) > 0 {
		sd.rawCRLs = sdASN.CRLs.FullBytes
	}
	if err := sd.parseCertificates(); err != nil {
		return nil, err
	}
	if len(sdASN.SignerInfos) == 0 {
		return nil, malformed("no signer")
	}
	if len(sdASN.SignerInfos) > maxSigners {
		return nil, malformed("more than %d signers", maxSigners)
	}
	for i, raw := range sdASN.SignerInfos {
		si, err := parseSignerInfo(raw.FullBytes)
		if err != nil {
			return nil, malformed("signer %d: %s", i+1, selo.ErrorMessage(err))
		}
		sd.Signers = append(sd.Signers, si)
	}
	return sd, nil
}

func (sd *SignedData) parseCertificates() error {
	sd.Certificates = nil
	for i, raw := range sd.rawCertificates {
		c, err := x509.ParseCertificate(raw)
		if err != nil {
			return malformed("certificate %d: %v", i+1, err)
		}
		sd.Certificates = append(sd.Certificates, c)
	}
	return nil
}

func parseSignerInfo(der []byte) (*SignerInfo, error) {
	var s signerInfoASN
	if rest, err := asn1.Unmarshal(der, &s); err != nil || len(rest) > 0 {
		if err == nil {
			err = errors.New("trailing data")
		}
		return nil, selo.Errorf(selo.EINVALID, "%s", asn1Message(err))
	}
	si := &SignerInfo{Version: s.Version, Signature: s.Signature, digestOID: s.DigestAlgorithm.Algorithm, rawSignatureAlg: s.SignatureAlgorithm.FullBytes}
	si.Hash = HashFromOID(s.DigestAlgorithm.Algorithm)
	switch {
	case s.Version == 1 && s.SID.Class == asn1.ClassUniversal && s.SID.Tag == asn1.TagSequence:
		var ias struct {
			Issuer asn1.RawValue
			Serial *big.Int
		}
		if rest, err := asn1.Unmarshal(s.SID.FullBytes, &ias); err != nil || len(rest) > 0 || ias.Serial == nil {
			return nil, selo.Errorf(selo.EINVALID, "issuer and serial number")
		}
		si.RawIssuer, si.SerialNumber = ias.Issuer.FullBytes, ias.Serial
	case s.Version == 3 && s.SID.Class == asn1.ClassContextSpecific && s.SID.Tag == 0 && !s.SID.IsCompound:
		si.SubjectKeyID = s.SID.Bytes
	default:
		return nil, selo.Errorf(selo.EINVALID, "signer identifier does not fit version %d", s.Version)
	}
	if len(s.SignedAttrs.FullBytes) > 0 {
		if s.SignedAttrs.Class != asn1.ClassContextSpecific || !s.SignedAttrs.IsCompound {
			return nil, selo.Errorf(selo.EINVALID, "signed attributes")
		}
		raw := bytes.Clone(s.SignedAttrs.FullBytes)
		raw[0] = 0x31
		si.rawSignedAttributes = raw
		if err := si.parseSignedAttributes(); err != nil {
			return nil, err
		}
	}
	if len(s.UnsignedAttrs.FullBytes) > 0 {
		attrs, err := parseAttributes(s.UnsignedAttrs.Bytes)
		if err != nil {
			return nil, selo.Errorf(selo.EINVALID, "unsigned attributes: %s", selo.ErrorMessage(err))
		}
		si.UnsignedAttributes = attrs
	}
	return si, nil
}

func (si *SignerInfo) parseSignedAttributes() error {
	in := cryptobyte.String(si.rawSignedAttributes)
	var set cryptobyte.String
	if !in.ReadASN1(&set, cbasn1.SET) || !in.Empty() {
		return selo.Errorf(selo.EINVALID, "signed attributes are not a SET")
	}
	attrs, err := parseAttributes(set)
	if err != nil {
		return selo.Errorf(selo.EINVALID, "signed attributes: %s", selo.ErrorMessage(err))
	}
	si.SignedAttributes = attrs
	return nil
}

// maxAttributesRead bounds how many attributes one signer may carry.
const maxAttributesRead = 64

func parseAttributes(b []byte) ([]Attribute, error) {
	in := cryptobyte.String(b)
	var out []Attribute
	for !in.Empty() {
		var elem cryptobyte.String
		if !in.ReadASN1Element(&elem, cbasn1.SEQUENCE) {
			return nil, selo.Errorf(selo.EINVALID, "attribute is not a SEQUENCE")
		}
		var a attributeASN
		if rest, err := asn1.Unmarshal(elem, &a); err != nil || len(rest) > 0 {
			return nil, selo.Errorf(selo.EINVALID, "attribute: %s", asn1Message(err))
		}
		if len(a.Values) == 0 {
			return nil, selo.Errorf(selo.EINVALID, "attribute %s has no value", a.Type)
		}
		attr := Attribute{Type: a.Type}
		for _, v := range a.Values {
			attr.Values = append(attr.Values, v.FullBytes)
		}
		if len(out) == maxAttributesRead {
			return nil, selo.Errorf(selo.EINVALID, "more than %d attributes", maxAttributesRead)
		}
		out = append(out, attr)
	}
	return out, nil
}

// asn1Message shortens an encoding/asn1 error for a user.
func asn1Message(err error) string {
	if err == nil {
		return "trailing data"
	}
	msg := err.Error()
	if len(msg) > 160 {
		msg = msg[:160] + "..."
	}
	return msg
}

// encapsulatedContent reads eContent, with or without its [0] EXPLICIT
// wrapper (encoding/asn1 hands over either, depending on the field type).
func encapsulatedContent(der []byte) ([]byte, bool) {
	in := cryptobyte.String(der)
	var inner cryptobyte.String
	if in.PeekASN1Tag(cbasn1.Tag(0).ContextSpecific().Constructed()) {
		if !in.ReadASN1(&inner, cbasn1.Tag(0).ContextSpecific().Constructed()) || !in.Empty() {
			return nil, false
		}
		in = inner
	}
	var content cryptobyte.String
	if !in.ReadASN1(&content, cbasn1.OCTET_STRING) || !in.Empty() {
		return nil, false
	}
	return append([]byte{}, content...), true
}
