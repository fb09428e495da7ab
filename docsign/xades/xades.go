// Package xades makes and checks XAdES baseline signatures (ETSI EN 319
// 132-1) enveloped in XML documents such as e-invoices: B-B (signed
// properties with the signing time and signing-certificate-v2) and B-T (plus
// an RFC 3161 timestamp over the signature value). Signing works in two
// steps, Prepare and Finish, so that a remote key that only signs digests
// (a CSC credential) fits.
//
// The document is kept byte for byte: the signature is inserted just before
// the root element's end tag. Canonicalization is exclusive C14N without
// comments, for the document (after the enveloped-signature transform), the
// signed properties, the SignedInfo and the timestamped SignatureValue.
package xades

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"math/big"
	"slices"
	"time"

	"github.com/beevik/etree"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/docsign/cades"
	"github.com/selo-qtsp/selo/pki/cms"
)

// Levels of a XAdES baseline signature this package makes and reports.
const (
	LevelBB = "B-B"
	LevelBT = "B-T"
)

// Options describes the signature to prepare. Certificate is required.
type Options struct {
	// Certificate is the signer's certificate.
	Certificate *x509.Certificate
	// Chain holds the certificates that follow the signer's in KeyInfo
	// (issuing CAs, optionally the root) so a verifier can build the path.
	Chain []*x509.Certificate
	// Hash is the digest algorithm of the references and the signature:
	// SHA-256, SHA-384 or SHA-512. Zero picks one that fits the key.
	Hash crypto.Hash
	// SigningTime is the signer's claimed time (xades:SigningTime, required
	// by the baseline); zero is now.
	SigningTime time.Time
}

// Prepared is a signature waiting for its signature value: the references
// and signed properties are fixed, and what must be signed is Digest.
type Prepared struct {
	doc        *document
	hash       crypto.Hash
	cert       *x509.Certificate
	sig        *etree.Document // holds the ds:Signature element as its root
	signedInfo []byte          // canonical SignedInfo: what the signature covers
}

var digestMethods = map[crypto.Hash]string{
	crypto.SHA256: "http://www.w3.org/2001/04/xmlenc#sha256",
	crypto.SHA384: "http://www.w3.org/2001/04/xmldsig-more#sha384",
	crypto.SHA512: "http://www.w3.org/2001/04/xmlenc#sha512",
}

var signatureMethods = map[x509.PublicKeyAlgorithm]map[crypto.Hash]string{
	x509.RSA: {
		crypto.SHA256: "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
		crypto.SHA384: "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384",
		crypto.SHA512: "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512",
	},
	x509.ECDSA: {
		crypto.SHA256: "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256",
		crypto.SHA384: "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384",
		crypto.SHA512: "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512",
	},
}

// Prepare starts an enveloped XAdES signature of the XML document data. The
// caller signs Digest with SignerOpts, by any key, and passes the result to
// Finish. Documents with a DTD, in an encoding other than UTF-8, larger than
// MaxInputSize, or already signed are refused.
func Prepare(data []byte, opts Options) (*Prepared, error) {
	// cms checks the key (type, curve, RSA size) and picks the hash as the
	// CAdES signatures do, so both formats accept the same certificates.
	h, err := cms.HashFor(cms.Options{Certificate: opts.Certificate, Hash: opts.Hash})
	if err != nil {
		return nil, err
	}
	doc, err := parse(data)
	if err != nil {
		return nil, err
	}
	// An enveloped signature covers the whole document: a new one would
	// change what an existing one signed and make it invalid.
	if len(findSignatures(doc.tree)) > 0 {
		return nil, selo.Errorf(selo.ECONFLICT, "the XML document is already signed (it holds a ds:Signature): another enveloped signature would invalidate it; sign the original document, or use a detached CAdES signature (selo sign file)")
	}
	docC14N, err := canonicalizeDocument(doc.tree, nil, algExcC14N)
	if err != nil {
		return nil, err
	}
	id, err := randomID()
	if err != nil {
		return nil, err
	}
	signingTime := opts.SigningTime
	if signingTime.IsZero() {
		signingTime = time.Now()
	}
	sigID, spID, refID := "sig-"+id, "sig-"+id+"-signedprops", "sig-"+id+"-ref-doc"

	sig := etree.NewElement("ds:Signature")
	sig.CreateAttr("xmlns:ds", nsDS)
	sig.CreateAttr("Id", sigID)
	si := sig.CreateElement("ds:SignedInfo")
	si.CreateElement("ds:CanonicalizationMethod").CreateAttr("Algorithm", algExcC14N)
	si.CreateElement("ds:SignatureMethod").CreateAttr("Algorithm", signatureMethods[opts.Certificate.PublicKeyAlgorithm][h])

	docRef := si.CreateElement("ds:Reference")
	docRef.CreateAttr("Id", refID)
	docRef.CreateAttr("URI", "")
	tr := docRef.CreateElement("ds:Transforms")
	tr.CreateElement("ds:Transform").CreateAttr("Algorithm", algEnveloped)
	tr.CreateElement("ds:Transform").CreateAttr("Algorithm", algExcC14N)
	addDigest(docRef, h, docC14N)

	spRef := si.CreateElement("ds:Reference")
	spRef.CreateAttr("Type", typeSignedProps)
	spRef.CreateAttr("URI", "#"+spID)
	spRef.CreateElement("ds:Transforms").CreateElement("ds:Transform").CreateAttr("Algorithm", algExcC14N)

	sig.CreateElement("ds:SignatureValue").CreateAttr("Id", sigID+"-value")
	x509Data := sig.CreateElement("ds:KeyInfo").CreateElement("ds:X509Data")
	x509Data.CreateElement("ds:X509Certificate").SetText(base64.StdEncoding.EncodeToString(opts.Certificate.Raw))
	for _, c := range opts.Chain {
		if c != nil && !bytes.Equal(c.Raw, opts.Certificate.Raw) {
			x509Data.CreateElement("ds:X509Certificate").SetText(base64.StdEncoding.EncodeToString(c.Raw))
		}
	}

	qp := sig.CreateElement("ds:Object").CreateElement("xades:QualifyingProperties")
	qp.CreateAttr("xmlns:xades", nsXAdES)
	qp.CreateAttr("Target", "#"+sigID)
	sp := qp.CreateElement("xades:SignedProperties")
	sp.CreateAttr("Id", spID)
	ssp := sp.CreateElement("xades:SignedSignatureProperties")
	ssp.CreateElement("xades:SigningTime").SetText(signingTime.UTC().Truncate(time.Second).Format(time.RFC3339))
	certEl := ssp.CreateElement("xades:SigningCertificateV2").CreateElement("xades:Cert")
	addDigest(certEl.CreateElement("xades:CertDigest"), h, opts.Certificate.Raw)
	issuerSerial, err := issuerSerialV2(opts.Certificate)
	if err != nil {
		return nil, err
	}
	certEl.CreateElement("xades:IssuerSerialV2").SetText(base64.StdEncoding.EncodeToString(issuerSerial))
	dof := sp.CreateElement("xades:SignedDataObjectProperties").CreateElement("xades:DataObjectFormat")
	dof.CreateAttr("ObjectReference", "#"+refID)
	dof.CreateElement("xades:MimeType").SetText(mimeTypeDocument)

	sigDoc := etree.NewDocument()
	sigDoc.SetRoot(sig)
	spC14N, err := canonicalize(sp, algExcC14N)
	if err != nil {
		return nil, err
	}
	addDigest(spRef, h, spC14N)
	siC14N, err := canonicalize(si, algExcC14N)
	if err != nil {
		return nil, err
	}
	return &Prepared{doc: doc, hash: h, cert: opts.Certificate, sig: sigDoc, signedInfo: siC14N}, nil
}

// addDigest appends ds:DigestMethod and ds:DigestValue of data to el.
func addDigest(el *etree.Element, h crypto.Hash, data []byte) {
	el.CreateElement("ds:DigestMethod").CreateAttr("Algorithm", digestMethods[h])
	d := h.New()
	d.Write(data)
	el.CreateElement("ds:DigestValue").SetText(base64.StdEncoding.EncodeToString(d.Sum(nil)))
}

// issuerSerialV2 encodes the IssuerSerial of RFC 5035 (issuer as a
// directoryName, serial number), the content of xades:IssuerSerialV2.
func issuerSerialV2(cert *x509.Certificate) ([]byte, error) {
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.Tag(4).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) {
				b.AddBytes(cert.RawIssuer)
			})
		})
		b.AddASN1BigInt(cert.SerialNumber)
	})
	return b.Bytes()
}

func randomID() (string, error) {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// Hash returns the digest algorithm of the signature.
func (p *Prepared) Hash() crypto.Hash { return p.hash }

// Digest returns the hash of the canonical SignedInfo: what a key that
// signs digests (crypto.Signer, CSC signHash) must sign.
func (p *Prepared) Digest() []byte {
	d := p.hash.New()
	d.Write(p.signedInfo)
	return d.Sum(nil)
}

// SignerOpts returns the options to pass to crypto.Signer.Sign with Digest:
// PKCS#1 v1.5 for RSA keys, as the rsa-shaN signature methods require.
func (p *Prepared) SignerOpts() crypto.SignerOpts { return p.hash }

// Finish checks signature (over Digest, by the certificate's key; ECDSA as
// ASN.1 DER or raw r||s), puts it in the document and, with ts, adds the
// signature timestamp (B-T). It returns the signed document. A signature
// that does not verify is refused: it would make a document nobody can
// validate.
func (p *Prepared) Finish(ctx context.Context, signature []byte, ts cades.Timestamper) ([]byte, error) {
	value, err := signatureValue(p.cert.PublicKey, p.hash, p.Digest(), signature)
	if err != nil {
		return nil, err
	}
	// Finish may be called again (a retry after a TSA failure): start from
	// a fresh copy of the prepared signature every time.
	sigDoc := p.sig.Copy()
	sig := sigDoc.Root()
	sv := sig.FindElement("ds:SignatureValue")
	sv.SetText(base64.StdEncoding.EncodeToString(value))
	if ts != nil {
		svC14N, err := canonicalize(sv, algExcC14N)
		if err != nil {
			return nil, err
		}
		d := p.hash.New()
		d.Write(svC14N)
		token, err := ts.Timestamp(ctx, p.hash, d.Sum(nil))
		if err != nil {
			return nil, fmt.Errorf("signature timestamp: %w", err)
		}
		qp := sig.FindElement("ds:Object/xades:QualifyingProperties")
		sts := qp.CreateElement("xades:UnsignedProperties").CreateElement("xades:UnsignedSignatureProperties").CreateElement("xades:SignatureTimeStamp")
		sts.CreateAttr("Id", sig.SelectAttrValue("Id", "")+"-timestamp")
		sts.CreateElement("ds:CanonicalizationMethod").CreateAttr("Algorithm", algExcC14N)
		sts.CreateElement("xades:EncapsulatedTimeStamp").SetText(base64.StdEncoding.EncodeToString(token))
	}
	sigDoc.WriteSettings = etree.WriteSettings{CanonicalEndTags: true, CanonicalText: true, CanonicalAttrVal: true}
	sigXML, err := sigDoc.WriteToBytes()
	if err != nil {
		return nil, fmt.Errorf("write the signature: %w", err)
	}
	raw := p.doc.raw
	out := make([]byte, 0, len(raw)+len(sigXML))
	out = append(out, raw[:p.doc.rootEnd]...)
	out = append(out, sigXML...)
	out = append(out, raw[p.doc.rootEnd:]...)

	// Read back what we wrote, as a verifier will: a document whose
	// signature does not check out must never leave this package.
	rep, err := Verify(out, VerifyOptions{})
	if err != nil {
		return nil, fmt.Errorf("check the signed document: %w", err)
	}
	last := rep.Signatures[len(rep.Signatures)-1]
	if !last.DigestOK || !last.SignatureOK || !last.CertificateBound {
		return nil, selo.Errorf(selo.EINTERNAL, "the signed document does not verify: %v", last.Problems)
	}
	return out, nil
}

// Sign makes a XAdES signature with a local or remote crypto.Signer in one
// call: B-B, or B-T when ts is not nil.
func Sign(ctx context.Context, signer crypto.Signer, data []byte, opts Options, ts cades.Timestamper) ([]byte, error) {
	p, err := Prepare(data, opts)
	if err != nil {
		return nil, err
	}
	return cades.SignPrepared(ctx, signer, p, ts)
}

// signatureValue checks sig over digest with pub and returns it in the
// XML-DSig form: PKCS#1 v1.5 bytes for RSA, r||s of the curve's size for
// ECDSA.
func signatureValue(pub crypto.PublicKey, h crypto.Hash, digest, sig []byte) ([]byte, error) {
	bad := selo.Errorf(selo.EINVALID, "the signature value does not verify with the signer's certificate: wrong key or wrong format")
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if rsa.VerifyPKCS1v15(k, h, digest, sig) != nil {
			return nil, bad
		}
		return slices.Clone(sig), nil
	case *ecdsa.PublicKey:
		size := (k.Curve.Params().BitSize + 7) / 8
		var rs struct{ R, S *big.Int }
		if rest, err := asn1.Unmarshal(sig, &rs); err != nil || len(rest) != 0 {
			if len(sig) != 2*size {
				return nil, bad
			}
			rs.R, rs.S = new(big.Int).SetBytes(sig[:size]), new(big.Int).SetBytes(sig[size:])
		}
		if rs.R.Sign() <= 0 || rs.S.Sign() <= 0 || !ecdsa.Verify(k, digest, rs.R, rs.S) {
			return nil, bad
		}
		out := make([]byte, 2*size)
		rs.R.FillBytes(out[:size])
		rs.S.FillBytes(out[size:])
		return out, nil
	}
	return nil, selo.Errorf(selo.EINVALID, "the certificate's %T key is not supported (want ECDSA or RSA)", pub)
}
