package pki

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"fmt"

	"github.com/smallstep/pkcs7"
	"software.sslmate.com/src/go-pkcs12"

	"github.com/selo-qtsp/selo"
)

// EncodePEM returns certificates as concatenated PEM blocks.
func EncodePEM(certs ...*x509.Certificate) []byte {
	var buf bytes.Buffer
	for _, c := range certs {
		if c == nil {
			continue
		}
		// pem.Encode into a bytes.Buffer cannot fail.
		_ = pem.Encode(&buf, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	return buf.Bytes()
}

// EncodeP7B returns a PKCS#7 certs-only (degenerate SignedData) bundle in DER.
func EncodeP7B(certs ...*x509.Certificate) ([]byte, error) {
	if len(certs) == 0 {
		return nil, selo.Errorf(selo.EINVALID, "a p7b bundle needs at least one certificate")
	}
	var all []byte
	for _, c := range certs {
		if c == nil {
			return nil, selo.Errorf(selo.EINVALID, "a p7b bundle cannot hold a missing certificate")
		}
		all = append(all, c.Raw...)
	}
	der, err := pkcs7.DegenerateCertificate(all)
	if err != nil {
		return nil, fmt.Errorf("encode p7b: %w", err)
	}
	return der, nil
}

// EncodePFX returns a PKCS#12 of key, leaf and chain, encrypted with AES-256
// and PBKDF2/SHA-256 (pkcs12.Modern) under password. Empty passwords are refused.
func EncodePFX(key crypto.PrivateKey, leaf *x509.Certificate, chain []*x509.Certificate, password string) ([]byte, error) {
	if password == "" {
		return nil, selo.Errorf(selo.EINVALID, "a pfx needs a password")
	}
	if key == nil || leaf == nil {
		return nil, selo.Errorf(selo.EINVALID, "a pfx needs a private key and its certificate")
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, selo.Errorf(selo.EINVALID, "private key of type %T cannot go in a pfx", key)
	}
	pub, ok := signer.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(leaf.PublicKey) {
		return nil, selo.Errorf(selo.EINVALID, "private key does not match the certificate")
	}
	// Modern (AES-256-CBC, PBKDF2-SHA-256, SHA-256 MAC) and not Modern2026:
	// PBMAC1 needs OpenSSL 3.4, and Debian 12 ships 3.0.
	der, err := pkcs12.Modern.Encode(key, leaf, chain, password)
	if err != nil {
		return nil, fmt.Errorf("encode pfx: %w", err)
	}
	return der, nil
}
