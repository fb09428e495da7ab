package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/selo-qtsp/selo"
)

// DER AlgorithmIdentifiers of the signatures Selo makes. They are the ones
// crypto/x509 picks by default for the same keys, so that CRLs and OCSP
// responses are signed the way certificates are: SHA-256 with RSA PKCS#1
// v1.5 (parameters NULL, RFC 4055), ECDSA with the hash that matches the
// curve (parameters absent, RFC 5758).
var (
	algSHA256WithRSA   = []byte{0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b, 0x05, 0x00}
	algECDSAWithSHA256 = []byte{0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02}
	algECDSAWithSHA384 = []byte{0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03}
	algECDSAWithSHA512 = []byte{0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x04}
)

// signatureParams returns the hash and the DER AlgorithmIdentifier of a
// signature by pub: ECDSA P-256 with SHA-256, P-384 with SHA-384, P-521 with
// SHA-512, RSA with SHA-256 PKCS#1 v1.5.
func signatureParams(pub crypto.PublicKey) (crypto.Hash, []byte, error) {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return crypto.SHA256, algECDSAWithSHA256, nil
		case elliptic.P384():
			return crypto.SHA384, algECDSAWithSHA384, nil
		case elliptic.P521():
			return crypto.SHA512, algECDSAWithSHA512, nil
		}
	case *rsa.PublicKey:
		return crypto.SHA256, algSHA256WithRSA, nil
	}
	return 0, nil, selo.Errorf(selo.EINVALID, "signing key %s is not supported (want ecdsa or rsa)", KeyDescription(pub))
}

// signDigest signs a digest made with hash and checks the signature with the
// signer's public key before it leaves: a faulty signer (a bit flip in an HSM,
// an RSA-CRT fault) must not publish a signature that leaks the key or fails
// for every relying party.
func signDigest(signer crypto.Signer, hash crypto.Hash, digest []byte) ([]byte, error) {
	sig, err := signer.Sign(rand.Reader, digest, hash)
	if err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	ok := false
	switch k := signer.Public().(type) {
	case *ecdsa.PublicKey:
		ok = ecdsa.VerifyASN1(k, digest, sig)
	case *rsa.PublicKey:
		ok = rsa.VerifyPKCS1v15(k, hash, digest, sig) == nil
	}
	if !ok {
		return nil, errors.New("sign: the signer returned a signature that does not verify")
	}
	return sig, nil
}

// checkSignerHoldsKey reports whether signer holds the key of cert.
func checkSignerHoldsKey(signer crypto.Signer, cert *x509.Certificate, what string) error {
	pub, ok := signer.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(cert.PublicKey) {
		return selo.Errorf(selo.EINVALID, "%s signer does not hold the key of certificate %q", what, cert.Subject.CommonName)
	}
	return nil
}
