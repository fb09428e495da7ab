package pki

import (
	"bytes"
	"crypto"
	"crypto/sha1"
	"crypto/x509"
	"encoding/asn1"
	"fmt"
	"slices"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/selo-qtsp/selo"
)

// OCSPStatus is the status of one certificate in an OCSP response (RFC 6960
// 4.2.1 CertStatus). The values are those of golang.org/x/crypto/ocsp.
type OCSPStatus int

// The certificate statuses.
const (
	OCSPGood    OCSPStatus = 0
	OCSPRevoked OCSPStatus = 1
	OCSPUnknown OCSPStatus = 2
)

// String returns "good", "revoked" or "unknown".
func (s OCSPStatus) String() string {
	switch s {
	case OCSPGood:
		return "good"
	case OCSPRevoked:
		return "revoked"
	case OCSPUnknown:
		return "unknown"
	}
	return fmt.Sprintf("status(%d)", int(s))
}

// OCSPSingleResponse is the status of one certificate.
type OCSPSingleResponse struct {
	// CertID is the certificate as the request named it (OCSPRequest.CertIDs)
	// or as NewOCSPCertID makes it for a pre-signed response.
	CertID OCSPCertID
	Status OCSPStatus
	// RevokedAt and Reason are for OCSPRevoked only. An unspecified reason is
	// left out of the response, as RFC 5280 asks for CRLs.
	RevokedAt time.Time
	Reason    selo.RevocationReason
	// ThisUpdate is required. NextUpdate may be zero, which RFC 6960 4.2.2.1
	// reads as "newer information is always available".
	ThisUpdate time.Time
	NextUpdate time.Time
}

// OCSPResponseTemplate is what CreateOCSPResponse signs.
type OCSPResponseTemplate struct {
	ProducedAt time.Time
	Responses  []OCSPSingleResponse // at least one
	// Nonce is echoed in a nonce response extension: pass OCSPRequest.Nonce
	// unchanged, or nil for a response without one (a pre-signed response).
	Nonce []byte
}

// OCSPResponseStatus is the outcome of an OCSP request (RFC 6960 4.2.1).
type OCSPResponseStatus int

// The response statuses; 4 is not used.
const (
	OCSPSuccessful       OCSPResponseStatus = 0
	OCSPMalformedRequest OCSPResponseStatus = 1
	OCSPInternalError    OCSPResponseStatus = 2
	OCSPTryLater         OCSPResponseStatus = 3
	OCSPSigRequired      OCSPResponseStatus = 5
	OCSPUnauthorized     OCSPResponseStatus = 6
)

// OCSPErrorResponse returns the unsigned OCSP response for an error status:
// malformedRequest, internalError, tryLater, sigRequired or unauthorized. Any
// other status, successful included, gives internalError, since a successful
// response needs CreateOCSPResponse.
func OCSPErrorResponse(status OCSPResponseStatus) []byte {
	switch status {
	case OCSPMalformedRequest, OCSPInternalError, OCSPTryLater, OCSPSigRequired, OCSPUnauthorized:
	default:
		status = OCSPInternalError
	}
	// OCSPResponse ::= SEQUENCE { responseStatus ENUMERATED }, without responseBytes.
	return []byte{tagSequence, 3, tagEnumerated, 1, byte(status)}
}

// DER of the fixed parts of an OCSP response.
var (
	// id-pkix-ocsp-basic (1.3.6.1.5.5.7.48.1.1).
	oidDEROCSPBasic = []byte{tagOID, 9, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x01, 0x01}
	// id-pkix-ocsp-nonce (1.3.6.1.5.5.7.48.1.2).
	oidDEROCSPNonce = []byte{tagOID, 9, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x01, 0x02}
)

// CreateOCSPResponse signs a successful basic OCSP response (RFC 6960 4.2.1)
// with one single response per certificate, the responder named by key hash
// and, when t.Nonce is set, the nonce echoed in responseExtensions. The
// signature algorithm follows the signer's key as for certificates.
//
// responder is either a delegated responder with the id-kp-OCSPSigning
// extended key usage (NewOCSPSignerCertificate), whose certificate goes into
// the response's certs so that clients can check it against the CA, or the
// CA that issued every certificate asked about, which needs the
// digitalSignature key usage and is not included: clients already hold it,
// and golang.org/x/crypto/ocsp refuses a response whose embedded certificate
// is not signed by the issuer it was given. signer must hold the responder's
// key, and the responder certificate must be valid at ProducedAt.
//
// Every certificate must belong to the responder's CA: a responder asked
// about another CA's certificates answers OCSPErrorResponse(OCSPUnauthorized)
// instead (RFC 6960 2.3). Invalid input is selo EINVALID.
func CreateOCSPResponse(responder *x509.Certificate, signer crypto.Signer, t OCSPResponseTemplate) ([]byte, error) {
	if responder == nil || signer == nil {
		return nil, selo.Errorf(selo.EINVALID, "ocsp responder certificate and signer are required")
	}
	if len(t.Responses) == 0 {
		return nil, selo.Errorf(selo.EINVALID, "ocsp response has no certificate status")
	}
	if err := checkSignerHoldsKey(signer, responder, "ocsp"); err != nil {
		return nil, err
	}
	if responder.KeyUsage != 0 && responder.KeyUsage&x509.KeyUsageDigitalSignature == 0 {
		return nil, selo.Errorf(selo.EINVALID, "ocsp responder %q may not sign (no digitalSignature key usage)", responder.Subject.CommonName)
	}
	if t.ProducedAt.IsZero() {
		return nil, selo.Errorf(selo.EINVALID, "ocsp producedAt is missing")
	}
	// Clients check the responder certificate at the time of the response.
	if t.ProducedAt.Before(responder.NotBefore) || t.ProducedAt.After(responder.NotAfter) {
		return nil, selo.Errorf(selo.EINVALID, "ocsp responder certificate %q is not valid at %s", responder.Subject.CommonName, t.ProducedAt.UTC().Format(time.RFC3339))
	}
	if t.Nonce != nil {
		if err := checkNonce(t.Nonce); err != nil {
			return nil, err
		}
	}
	singles := make([][]byte, len(t.Responses))
	for i := range t.Responses {
		var err error
		if singles[i], err = encodeSingleResponse(&t.Responses[i]); err != nil {
			return nil, selo.Errorf(selo.EINVALID, "ocsp response %d: %s", i+1, err)
		}
	}
	// RFC 6960 4.2.2.2: a response is signed by the certificate's CA, or by
	// a responder that CA delegated to with id-kp-OCSPSigning. Anything else
	// every client refuses.
	delegated := slices.Contains(responder.ExtKeyUsage, x509.ExtKeyUsageOCSPSigning)
	for i, r := range t.Responses {
		if delegated {
			// Without the CA's certificate only its name can be compared: the
			// responder's issuer must be the certificate's issuer.
			d := r.CertID.HashAlgorithm.New()
			d.Write(responder.RawIssuer)
			if !bytes.Equal(d.Sum(nil), r.CertID.IssuerNameHash) {
				return nil, selo.Errorf(selo.EINVALID, "ocsp response %d: delegated responder %q was not issued by the certificate's issuer", i+1, responder.Subject.CommonName)
			}
		} else if !r.CertID.MatchesIssuer(responder) {
			return nil, selo.Errorf(selo.EINVALID, "ocsp response %d: responder %q is neither the certificate's issuer nor a delegated ocsp responder", i+1, responder.Subject.CommonName)
		}
	}
	hash, sigAlg, err := signatureParams(signer.Public())
	if err != nil {
		return nil, err
	}
	responderKey, err := subjectPublicKeyBits(responder)
	if err != nil {
		return nil, err
	}
	keyHash := sha1.Sum(responderKey)

	producedAt, err := appendGeneralizedTime(nil, t.ProducedAt)
	if err != nil {
		return nil, selo.Errorf(selo.EINVALID, "ocsp producedAt: %v", err)
	}

	b := cryptobyte.NewBuilder(nil)
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // ResponseData; version v1 is the default
		b.AddASN1(cbasn1.Tag(2).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) { // byKey
			b.AddASN1OctetString(keyHash[:])
		})
		b.AddBytes(producedAt)
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			for _, s := range singles {
				b.AddBytes(s)
			}
		})
		if t.Nonce != nil {
			b.AddASN1(cbasn1.Tag(1).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
						b.AddBytes(oidDEROCSPNonce)
						b.AddASN1OctetString(t.Nonce)
					})
				})
			})
		}
	})
	tbs, err := b.Bytes()
	if err != nil {
		return nil, fmt.Errorf("encode ocsp response data: %w", err)
	}
	h := hash.New()
	h.Write(tbs)
	sig, err := signDigest(signer, hash, h.Sum(nil))
	if err != nil {
		return nil, fmt.Errorf("ocsp response: %w", err)
	}

	b = cryptobyte.NewBuilder(nil)
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // OCSPResponse
		b.AddASN1Enum(int64(OCSPSuccessful))
		b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // ResponseBytes
				b.AddBytes(oidDEROCSPBasic)
				b.AddASN1(cbasn1.OCTET_STRING, func(b *cryptobyte.Builder) {
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // BasicOCSPResponse
						b.AddBytes(tbs)
						b.AddBytes(sigAlg)
						b.AddASN1BitString(sig)
						if !delegated {
							return
						}
						b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
							b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
								b.AddBytes(responder.Raw)
							})
						})
					})
				})
			})
		})
	})
	der, err := b.Bytes()
	if err != nil {
		return nil, fmt.Errorf("encode ocsp response: %w", err)
	}
	return der, nil
}

// encodeSingleResponse returns the DER of a SingleResponse; errors are bare
// messages.
func encodeSingleResponse(r *OCSPSingleResponse) ([]byte, error) {
	id := &r.CertID
	if id.Serial == nil {
		return nil, fmt.Errorf("cert id has no serial")
	}
	oid := hashOID(id.HashAlgorithm)
	if oid == nil || !id.HashAlgorithm.Available() {
		return nil, fmt.Errorf("cert id hash %v is not one of SHA-1, SHA-256, SHA-384, SHA-512", id.HashAlgorithm)
	}
	if n := id.HashAlgorithm.Size(); len(id.IssuerNameHash) != n || len(id.IssuerKeyHash) != n {
		return nil, fmt.Errorf("cert id issuer hashes are not %d-byte %v digests", n, id.HashAlgorithm)
	}
	if r.ThisUpdate.IsZero() {
		return nil, fmt.Errorf("thisUpdate is missing")
	}
	thisUpdate, err := appendGeneralizedTime(nil, r.ThisUpdate)
	if err != nil {
		return nil, fmt.Errorf("thisUpdate: %v", err)
	}
	var nextUpdate []byte
	if !r.NextUpdate.IsZero() {
		if !r.NextUpdate.UTC().Truncate(time.Second).After(r.ThisUpdate.UTC().Truncate(time.Second)) {
			return nil, fmt.Errorf("nextUpdate %s is not after thisUpdate %s", r.NextUpdate.UTC().Format(time.RFC3339), r.ThisUpdate.UTC().Format(time.RFC3339))
		}
		if nextUpdate, err = appendGeneralizedTime(nil, r.NextUpdate); err != nil {
			return nil, fmt.Errorf("nextUpdate: %v", err)
		}
	}
	var revokedAt []byte
	switch r.Status {
	case OCSPRevoked:
		if r.RevokedAt.IsZero() {
			return nil, fmt.Errorf("revocation time is missing")
		}
		if !r.Reason.Valid() {
			return nil, fmt.Errorf("revocation reason %s is not valid", r.Reason)
		}
		if revokedAt, err = appendGeneralizedTime(nil, r.RevokedAt); err != nil {
			return nil, fmt.Errorf("revocation time: %v", err)
		}
	case OCSPGood, OCSPUnknown:
		if !r.RevokedAt.IsZero() || r.Reason != selo.ReasonUnspecified {
			return nil, fmt.Errorf("a %s certificate has a revocation time or reason", r.Status)
		}
	default:
		return nil, fmt.Errorf("status %s is not good, revoked or unknown", r.Status)
	}

	b := cryptobyte.NewBuilder(nil)
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // CertID
			if rawAlgorithmNames(id.rawHashAlgorithm, oid) {
				b.AddBytes(id.rawHashAlgorithm)
			} else {
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
					b.AddASN1ObjectIdentifier(oid)
					b.AddASN1NULL()
				})
			}
			b.AddASN1OctetString(id.IssuerNameHash)
			b.AddASN1OctetString(id.IssuerKeyHash)
			b.AddASN1BigInt(id.Serial)
		})
		switch r.Status {
		case OCSPGood:
			b.AddASN1(cbasn1.Tag(0).ContextSpecific(), func(*cryptobyte.Builder) {}) // [0] IMPLICIT NULL
		case OCSPRevoked:
			b.AddASN1(cbasn1.Tag(1).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) { // [1] IMPLICIT RevokedInfo
				b.AddBytes(revokedAt)
				if r.Reason != selo.ReasonUnspecified {
					b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
						b.AddASN1Enum(int64(r.Reason))
					})
				}
			})
		case OCSPUnknown:
			b.AddASN1(cbasn1.Tag(2).ContextSpecific(), func(*cryptobyte.Builder) {}) // [2] IMPLICIT NULL
		}
		b.AddBytes(thisUpdate)
		if nextUpdate != nil {
			b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
				b.AddBytes(nextUpdate)
			})
		}
	})
	return b.Bytes()
}

// rawAlgorithmNames reports whether raw, the AlgorithmIdentifier a request
// carried, names oid: a CertID whose HashAlgorithm was changed after parsing
// is encoded afresh.
func rawAlgorithmNames(raw []byte, oid asn1.ObjectIdentifier) bool {
	in := cryptobyte.String(raw)
	var alg cryptobyte.String
	var got asn1.ObjectIdentifier
	return raw != nil && in.ReadASN1(&alg, cbasn1.SEQUENCE) && alg.ReadASN1ObjectIdentifier(&got) && got.Equal(oid)
}
