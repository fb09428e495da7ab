package cms_test

import (
	"crypto"
	"crypto/sha512"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
)

func asn1Unmarshal(b []byte, v any) ([]byte, error) { return asn1.Unmarshal(b, v) }

func sha512_384(b []byte) []byte {
	h := sha512.Sum384(b)
	return h[:]
}

func x509NewPool() *x509.CertPool { return x509.NewCertPool() }

func x509MarshalPKCS8(k crypto.Signer) ([]byte, error) { return x509.MarshalPKCS8PrivateKey(k) }

func pemEncode(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}
