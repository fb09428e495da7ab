package signing

import (
	"crypto"
	"crypto/rsa"
	"crypto/x509/pkix"
	"encoding/asn1"

	"github.com/selo-qtsp/selo"
)

// Hash algorithm OIDs (hashAlgorithmOID) and signature algorithm OIDs
// (signAlgo) that the service understands.
const (
	OIDSHA256 = "2.16.840.1.101.3.4.2.1"
	OIDSHA384 = "2.16.840.1.101.3.4.2.2"
	OIDSHA512 = "2.16.840.1.101.3.4.2.3"

	OIDECPublicKey     = "1.2.840.10045.2.1"
	OIDECDSAWithSHA256 = "1.2.840.10045.4.3.2"
	OIDECDSAWithSHA384 = "1.2.840.10045.4.3.3"
	OIDECDSAWithSHA512 = "1.2.840.10045.4.3.4"
	OIDRSAEncryption   = "1.2.840.113549.1.1.1"
	OIDSHA256WithRSA   = "1.2.840.113549.1.1.11"
	OIDSHA384WithRSA   = "1.2.840.113549.1.1.12"
	OIDSHA512WithRSA   = "1.2.840.113549.1.1.13"
	OIDRSASSAPSS       = "1.2.840.113549.1.1.10"
	oidMGF1            = "1.2.840.113549.1.1.8"
)

// hashByOID maps a hashAlgorithmOID to its hash.
func hashByOID(oid string) (crypto.Hash, error) {
	switch oid {
	case OIDSHA256:
		return crypto.SHA256, nil
	case OIDSHA384:
		return crypto.SHA384, nil
	case OIDSHA512:
		return crypto.SHA512, nil
	}
	return 0, selo.Errorf(selo.EINVALID, "unsupported hashAlgorithmOID %q (want SHA-256, SHA-384 or SHA-512)", oid)
}

// keyKind is the family of a credential's key.
type keyKind int

const (
	keyECDSA keyKind = iota + 1
	keyRSA
)

// signerOpts returns the options to sign digests of hash with the signAlgo
// OID on a key of kind; EINVALID when the algorithm does not fit the key or
// names another hash than the one the digests were made with.
func signerOpts(kind keyKind, signAlgo string, params []byte, hash crypto.Hash) (crypto.SignerOpts, error) {
	implied := map[string]crypto.Hash{
		OIDECDSAWithSHA256: crypto.SHA256, OIDECDSAWithSHA384: crypto.SHA384, OIDECDSAWithSHA512: crypto.SHA512,
		OIDSHA256WithRSA: crypto.SHA256, OIDSHA384WithRSA: crypto.SHA384, OIDSHA512WithRSA: crypto.SHA512,
	}
	if h, ok := implied[signAlgo]; ok && h != hash {
		return nil, selo.Errorf(selo.EINVALID, "signAlgo %s signs %v digests, but hashAlgorithmOID names %v", signAlgo, h, hash)
	}
	switch signAlgo {
	case OIDECPublicKey, OIDECDSAWithSHA256, OIDECDSAWithSHA384, OIDECDSAWithSHA512:
		if kind != keyECDSA {
			return nil, selo.Errorf(selo.EINVALID, "signAlgo %s needs an ECDSA key; this credential's key is RSA", signAlgo)
		}
		return hash, nil
	case OIDRSAEncryption, OIDSHA256WithRSA, OIDSHA384WithRSA, OIDSHA512WithRSA:
		if kind != keyRSA {
			return nil, selo.Errorf(selo.EINVALID, "signAlgo %s needs an RSA key; this credential's key is ECDSA", signAlgo)
		}
		return hash, nil
	case OIDRSASSAPSS:
		if kind != keyRSA {
			return nil, selo.Errorf(selo.EINVALID, "RSASSA-PSS needs an RSA key; this credential's key is ECDSA")
		}
		if len(params) == 0 {
			return &rsa.PSSOptions{Hash: hash, SaltLength: rsa.PSSSaltLengthEqualsHash}, nil
		}
		p, err := ParsePSSParams(params)
		if err != nil {
			return nil, err
		}
		if p.Hash != hash {
			return nil, selo.Errorf(selo.EINVALID, "RSASSA-PSS parameters name %v, but hashAlgorithmOID names %v", p.Hash, hash)
		}
		return &rsa.PSSOptions{Hash: hash, SaltLength: p.SaltLength}, nil
	}
	return nil, selo.Errorf(selo.EINVALID, "unsupported signAlgo %q", signAlgo)
}

// PSSParams are the parts of RSASSA-PSS-params (RFC 4055) that Selo honours.
type PSSParams struct {
	Hash       crypto.Hash
	SaltLength int
}

type pssParamsASN1 struct {
	Hash         pkix.AlgorithmIdentifier `asn1:"optional,explicit,tag:0"`
	MGF          pkix.AlgorithmIdentifier `asn1:"optional,explicit,tag:1"`
	SaltLength   int                      `asn1:"optional,explicit,tag:2,default:20"`
	TrailerField int                      `asn1:"optional,explicit,tag:3,default:1"`
}

var oidByHash = map[string]crypto.Hash{OIDSHA256: crypto.SHA256, OIDSHA384: crypto.SHA384, OIDSHA512: crypto.SHA512}

// ParsePSSParams reads DER RSASSA-PSS-params. It accepts only SHA-2 hashes
// with MGF1 over the same hash and trailer field 1, and a salt length from 0
// to 64 bytes: the shapes CSC clients send. Anything else is EINVALID.
func ParsePSSParams(der []byte) (*PSSParams, error) {
	bad := func(why string) (*PSSParams, error) {
		return nil, selo.Errorf(selo.EINVALID, "invalid RSASSA-PSS parameters: %s", why)
	}
	var p pssParamsASN1
	rest, err := asn1.Unmarshal(der, &p)
	if err != nil {
		return bad("not DER")
	}
	if len(rest) > 0 {
		return bad("trailing data")
	}
	if len(p.Hash.Algorithm) == 0 {
		return bad("SHA-1 (the default) is not accepted")
	}
	h, ok := oidByHash[p.Hash.Algorithm.String()]
	if !ok {
		return bad("hash " + p.Hash.Algorithm.String() + " is not SHA-256, SHA-384 or SHA-512")
	}
	if p.MGF.Algorithm.String() != oidMGF1 {
		return bad("mask generation must be MGF1")
	}
	var mgfHash pkix.AlgorithmIdentifier
	if rest, err := asn1.Unmarshal(p.MGF.Parameters.FullBytes, &mgfHash); err != nil || len(rest) > 0 {
		return bad("MGF1 hash not readable")
	}
	if oidByHash[mgfHash.Algorithm.String()] != h {
		return bad("MGF1 must use the same hash as the signature")
	}
	if p.SaltLength < 0 || p.SaltLength > 64 {
		return bad("salt length out of range")
	}
	if p.TrailerField != 1 {
		return bad("trailer field must be 1")
	}
	return &PSSParams{Hash: h, SaltLength: p.SaltLength}, nil
}
