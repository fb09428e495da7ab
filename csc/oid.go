package csc

import "crypto"

// Hash algorithm OIDs (NIST) that hashAlgorithmOID names.
const (
	OIDSHA256 = "2.16.840.1.101.3.4.2.1"
	OIDSHA384 = "2.16.840.1.101.3.4.2.2"
	OIDSHA512 = "2.16.840.1.101.3.4.2.3"
)

// Signature algorithm OIDs that signAlgo names.
const (
	OIDECDSAWithSHA256 = "1.2.840.10045.4.3.2"
	OIDECDSAWithSHA384 = "1.2.840.10045.4.3.3"
	OIDECDSAWithSHA512 = "1.2.840.10045.4.3.4"
	OIDRSAEncryption   = "1.2.840.113549.1.1.1"
	OIDRSAPSS          = "1.2.840.113549.1.1.10"
	OIDSHA256WithRSA   = "1.2.840.113549.1.1.11"
	OIDSHA384WithRSA   = "1.2.840.113549.1.1.12"
	OIDSHA512WithRSA   = "1.2.840.113549.1.1.13"
)

// Named curve OIDs that credentials/info reports as key.curve.
const (
	OIDCurveP256 = "1.2.840.10045.3.1.7"
	OIDCurveP384 = "1.3.132.0.34"
	OIDCurveP521 = "1.3.132.0.35"
)

// hashByOID maps hashAlgorithmOID values to the hash they name.
var hashByOID = map[string]crypto.Hash{
	OIDSHA256: crypto.SHA256,
	OIDSHA384: crypto.SHA384,
	OIDSHA512: crypto.SHA512,
}

// HashOID returns the hashAlgorithmOID of h, or "" for a hash CSC signing
// here does not support.
func HashOID(h crypto.Hash) string {
	for oid, v := range hashByOID {
		if v == h {
			return oid
		}
	}
	return ""
}

// OIDHash returns the hash a hashAlgorithmOID names, or 0 for one CSC
// signing here does not support.
func OIDHash(oid string) crypto.Hash {
	return hashByOID[oid]
}
