// Package pkitest builds a realistic test PKI for tests of any Selo package:
// a P-384 root, a P-256 issuing CA for qualified, advanced and S/MIME
// certificates, and an RSA 3072 issuing CA for TLS, all at a fixed time.
package pkitest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"sync"
	"testing"
	"time"

	"github.com/selo-qtsp/selo/pki"
)

// Now is the fixed time the hierarchy is built for; pass it (or a time
// shortly after) as the now of Issue in tests.
var Now = time.Date(2026, time.November, 24, 10, 0, 0, 0, time.UTC)

// CA is one certificate authority of the test hierarchy.
type CA struct {
	ID     string
	Cert   *x509.Certificate
	Key    crypto.Signer
	URLs   pki.IssuerURLs
	Issuer *pki.Issuer
}

// Hierarchy is a root and its two issuing CAs, with a linter to share.
type Hierarchy struct {
	Root    *CA // ECDSA P-384, self-signed
	Issuing *CA // ECDSA P-256, for qualified, advanced and S/MIME profiles
	TLS     *CA // RSA 3072, CA/B Forum DV policy, serverAuth only
	Linter  *pki.Linter
}

// URLs returns the http URLs of a CA in the test hierarchy. They are plain
// http, as the CA/B S/MIME BRs require for CRL and AIA.
func URLs(id string) pki.IssuerURLs {
	return pki.IssuerURLs{
		CRL:       "http://pki.selo-test.eu/crl/" + id + ".crl",
		OCSP:      "http://pki.selo-test.eu/ocsp",
		CAIssuers: "http://pki.selo-test.eu/ca/" + id + ".crt",
	}
}

var (
	once      sync.Once
	shared    *Hierarchy
	sharedErr error
)

// NewHierarchy returns the test hierarchy. It is built once per test binary
// (RSA key generation is slow) and must be treated as read-only.
func NewHierarchy(t testing.TB) *Hierarchy {
	t.Helper()
	once.Do(func() { shared, sharedErr = build() })
	if sharedErr != nil {
		t.Fatalf("build test pki: %v", sharedErr)
	}
	return shared
}

func build() (*Hierarchy, error) {
	linter, err := pki.NewLinter()
	if err != nil {
		return nil, err
	}
	h := &Hierarchy{Linter: linter}
	created := Now.AddDate(0, -1, 0)
	org := func(cn string) pkix.Name {
		return pkix.Name{Country: []string{"PT"}, Organization: []string{"Selo Test Trust Services"}, CommonName: cn}
	}

	rootKey, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		return nil, err
	}
	serial, err := pki.RandomSerial()
	if err != nil {
		return nil, err
	}
	der, err := pki.NewRootCertificate(rootKey, pki.CAOptions{Subject: org("Selo Test Root CA E1"), ValidityDays: 9131, PathLen: -1}, serial, created, linter)
	if err != nil {
		return nil, err
	}
	if h.Root, err = newCA("root-e1", der, rootKey); err != nil {
		return nil, err
	}

	issuingKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	if h.Issuing, err = subordinate(h.Root, "qualified-e1", issuingKey, org("Selo Test Qualified CA E1"), nil, created, linter); err != nil {
		return nil, err
	}
	tlsKey, err := rsa.GenerateKey(rand.Reader, 3072)
	if err != nil {
		return nil, err
	}
	if h.TLS, err = subordinate(h.Root, "tls-r1", tlsKey, org("Selo Test TLS CA R1"), []string{"2.23.140.1.2.1"}, created, linter); err != nil {
		return nil, err
	}
	return h, nil
}

func subordinate(parent *CA, id string, key crypto.Signer, subject pkix.Name, policies []string, now time.Time, l *pki.Linter) (*CA, error) {
	serial, err := pki.RandomSerial()
	if err != nil {
		return nil, err
	}
	der, err := pki.NewSubordinateCertificate(parent.Issuer, key.Public(), pki.CAOptions{
		Subject: subject, ValidityDays: 3652, PathLen: 0, ParentURLs: parent.URLs, Policies: policies,
	}, serial, now, l)
	if err != nil {
		return nil, err
	}
	return newCA(id, der, key)
}

func newCA(id string, der []byte, key crypto.Signer) (*CA, error) {
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	urls := URLs(id)
	iss, err := pki.NewIssuer(cert, key, urls)
	if err != nil {
		return nil, err
	}
	return &CA{ID: id, Cert: cert, Key: key, URLs: urls, Issuer: iss}, nil
}

// IssuerFor returns the CA of the hierarchy that issues a built-in profile.
func (h *Hierarchy) IssuerFor(profile string) *CA {
	if profile == "tls-server" || profile == "tls-server-ov" {
		return h.TLS
	}
	return h.Issuing
}

// Request returns a valid request for a built-in profile and key: realistic
// subjects (a Portuguese citizen, a company with its VAT number, a mailbox, a
// web server).
func Request(profile string, pub crypto.PublicKey) *pki.Request {
	req := &pki.Request{PublicKey: pub}
	switch profile {
	case "qualified-sign":
		req.Subject = pkix.Name{
			Country: []string{"PT"}, CommonName: "Ana Maria Silva", SerialNumber: "IDCPT-12345678",
			ExtraNames: []pkix.AttributeTypeAndValue{
				{Type: []int{2, 5, 4, 42}, Value: "Ana Maria"},
				{Type: []int{2, 5, 4, 4}, Value: "Silva"},
			},
		}
		req.EmailAddresses = []string{"ana.silva@example.pt"}
	case "qualified-seal", "advanced-invoice":
		req.Subject = pkix.Name{
			Country: []string{"PT"}, Organization: []string{"Exemplo Faturas, Lda."}, CommonName: "Exemplo Faturas e-Seal",
			ExtraNames: []pkix.AttributeTypeAndValue{{Type: []int{2, 5, 4, 97}, Value: "VATPT-500000000"}},
		}
	case "advanced-email":
		req.Subject = pkix.Name{CommonName: "ana.silva@example.pt"}
		req.EmailAddresses = []string{"ana.silva@example.pt"}
	case "tls-server":
		req.Subject = pkix.Name{CommonName: "www.example.pt"}
		req.DNSNames = []string{"www.example.pt", "example.pt"}
	case "tls-server-ov":
		// The CSR repeats the organisation the registration authority validated.
		req.Subject = pkix.Name{CommonName: "www.example.pt", Organization: []string{"Exemplo Web, Lda."}, Locality: []string{"Lisboa"}, Country: []string{"PT"}}
		req.DNSNames = []string{"www.example.pt", "example.pt"}
		req.Validated = map[string]string{"O": "Exemplo Web, Lda.", "L": "Lisboa", "C": "PT"}
	}
	return req
}

// NewKey returns a fresh key: "ecdsa-p256", "ecdsa-p384", "rsa-2048", "rsa-3072".
func NewKey(t testing.TB, kind string) crypto.Signer {
	t.Helper()
	var key crypto.Signer
	var err error
	switch kind {
	case "ecdsa-p256":
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "ecdsa-p384":
		key, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case "rsa-2048":
		key, err = rsa.GenerateKey(rand.Reader, 2048)
	case "rsa-3072":
		key, err = rsa.GenerateKey(rand.Reader, 3072)
	default:
		t.Fatalf("pkitest: unknown key kind %q", kind)
	}
	if err != nil {
		t.Fatalf("pkitest: generate %s key: %v", kind, err)
	}
	return key
}

// NewCSR returns a DER CSR for req's subject and SANs signed by key.
func NewCSR(t testing.TB, key crypto.Signer, req *pki.Request) []byte {
	t.Helper()
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: req.Subject, DNSNames: req.DNSNames, EmailAddresses: req.EmailAddresses,
	}, key)
	if err != nil {
		t.Fatalf("pkitest: create csr: %v", err)
	}
	return der
}
