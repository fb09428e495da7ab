package trustlist

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"time"

	"github.com/selo-qtsp/selo/pki"
)

// NewListSigner makes a P-256 key and a self-signed certificate to sign
// test and sandbox lists with: a real scheme operator signs with a
// certificate its supervisory body publishes, never with this.
func NewListSigner(commonName, country string, now time.Time) (crypto.Signer, *x509.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	serial, err := pki.RandomSerial()
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: commonName, Country: []string{country}, Organization: []string{commonName}},
		NotBefore:    now.Add(-time.Hour), NotAfter: now.AddDate(3, 0, 0),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment,
		BasicConstraintsValid: true,
		// id-tsl-kp-tslSigning, which TS 119 612 clause 5.7.1 wants in a
		// list signer's certificate.
		UnknownExtKeyUsage: []asn1.ObjectIdentifier{{0, 4, 0, 2231, 3, 0}},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, nil, fmt.Errorf("list signer certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	return key, cert, err
}
