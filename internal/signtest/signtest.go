// Package signtest gives the document signing and timestamp tests what they
// share: signer certificates under the pkitest hierarchy, PEM files for
// OpenSSL, the OpenSSL binary itself, and small hand-written PDFs.
package signtest

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/selo-qtsp/selo/pki"
	"github.com/selo-qtsp/selo/pki/pkitest"
)

// Signer is a signing certificate with its key and the CA chain above it.
type Signer struct {
	Cert  *x509.Certificate
	Key   crypto.Signer
	Chain []*x509.Certificate // the issuing CA (the root is not included)
	Root  *x509.Certificate
}

// Roots returns a pool holding the test root.
func (s *Signer) Roots() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(s.Root)
	return p
}

// NewSigner issues an advanced-invoice (e-seal) certificate for a fresh key
// of kind ("ecdsa-p256", "ecdsa-p384", "rsa-2048", "rsa-3072") under the
// pkitest issuing CA.
func NewSigner(t testing.TB, kind string) *Signer {
	t.Helper()
	h := pkitest.NewHierarchy(t)
	key := pkitest.NewKey(t, kind)
	serial, err := pki.RandomSerial()
	if err != nil {
		t.Fatal(err)
	}
	issued, err := h.Issuing.Issuer.Issue(pki.BuiltinProfiles()["advanced-invoice"], pkitest.Request("advanced-invoice", key.Public()), serial, pkitest.Now, h.Linter)
	if err != nil {
		t.Fatalf("issue signer certificate: %v", err)
	}
	return &Signer{Cert: issued.Cert, Key: key, Chain: []*x509.Certificate{h.Issuing.Cert}, Root: h.Root.Cert}
}

// Subject returns a pkix.Name for test TSA certificates.
func Subject(cn string) pkix.Name {
	return pkix.Name{Country: []string{"PT"}, Organization: []string{"Selo Test QTSP"}, CommonName: cn}
}

// OpenSSL returns the path of the openssl binary. Without it the test is
// skipped with a loud message, or fails when CI is set.
func OpenSSL(t testing.TB) string {
	t.Helper()
	return Tool(t, "openssl", "")
}

// Tool returns the path of the peer tool name, which Debian ships in the
// package pkg ("" where the package has the tool's name). Without it the test
// is skipped with a loud message, or fails when CI is set: CI runs every
// interoperability check.
func Tool(t testing.TB, name, pkg string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		what := name
		if pkg != "" {
			what += " (" + pkg + ")"
		}
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is required in CI: %v", what, err)
		}
		t.Skipf("SKIPPING INTEROP TEST: %s is not installed", what)
	}
	return path
}

// WritePEM writes certs as one PEM file in dir and returns its path.
func WritePEM(t testing.TB, dir, name string, certs ...*x509.Certificate) string {
	t.Helper()
	var b bytes.Buffer
	for _, c := range certs {
		pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// Run runs a command and returns its combined output and error.
func Run(name string, args ...string) (string, error) {
	out, err := exec.Command(name, args...).CombinedOutput()
	return string(out), err
}

// QuickSigner returns a P-256 signer under a P-256 root made on the spot,
// without the pkitest hierarchy's RSA keys: for fuzz targets, whose every
// worker process builds its own.
func QuickSigner(t testing.TB) *Signer {
	t.Helper()
	rootKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := time.Now()
	rootTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: Subject("Quick Root"), NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	rootDER, err := x509.CreateCertificate(rand.Reader, rootTmpl, rootTmpl, rootKey.Public(), rootKey)
	if err != nil {
		t.Fatal(err)
	}
	root, _ := x509.ParseCertificate(rootDER)
	leafTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: Subject("Quick Signer"), NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment,
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, root, key.Public(), rootKey)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(leafDER)
	return &Signer{Cert: leaf, Key: key, Root: root}
}

// NewTSACertificate issues a time-stamping unit certificate for a fresh
// P-256 key under the pkitest issuing CA, with the timestamping profile.
func NewTSACertificate(t testing.TB) *Signer {
	t.Helper()
	h := pkitest.NewHierarchy(t)
	key := pkitest.NewKey(t, "ecdsa-p256")
	serial, err := pki.RandomSerial()
	if err != nil {
		t.Fatal(err)
	}
	issued, err := h.Issuing.Issuer.IssueTimestamping(pki.TimestampingProfile(), &pki.Request{PublicKey: key.Public(), Subject: Subject("Selo Test TSA")}, serial, pkitest.Now, h.Linter)
	if err != nil {
		t.Fatalf("issue TSA certificate: %v", err)
	}
	for _, f := range issued.Findings {
		if f.Status == "warn" || f.Status == "error" || f.Status == "fatal" {
			t.Fatalf("TSA certificate lint %s: %s %s", f.Lint, f.Status, f.Details)
		}
	}
	return &Signer{Cert: issued.Cert, Key: key, Chain: []*x509.Certificate{h.Issuing.Cert}, Root: h.Root.Cert}
}

// FixedClock is a selo.Clock stopped at one time.
type FixedClock time.Time

// Now returns the fixed time.
func (c FixedClock) Now() time.Time { return time.Time(c) }
