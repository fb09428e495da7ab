package pki_test

import (
	"bytes"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/pki"
	"github.com/selo-qtsp/selo/pki/pkitest"
)

var oidOCSPNoCheck = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 5}

// ocspSigner makes a delegated OCSP responder certificate for ca.
func ocspSigner(t testing.TB, h *pkitest.Hierarchy, ca *pkitest.CA, keyKind string, opts pki.OCSPSignerOptions) (*x509.Certificate, *pkitest.CA) {
	t.Helper()
	key := pkitest.NewKey(t, keyKind)
	der, err := pki.NewOCSPSignerCertificate(ca.Issuer, key.Public(), opts, mustSerial(t), pkitest.Now, h.Linter)
	if err != nil {
		t.Fatalf("NewOCSPSignerCertificate: %v", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, &pkitest.CA{ID: ca.ID + "-ocsp", Cert: cert, Key: key}
}

func TestNewOCSPSignerCertificate(t *testing.T) {
	h := pkitest.NewHierarchy(t)
	for _, tc := range []struct {
		ca      *pkitest.CA
		keyKind string
	}{
		{h.Issuing, "ecdsa-p256"},
		{h.TLS, "rsa-2048"},
		{h.Root, "ecdsa-p384"},
	} {
		t.Run(tc.ca.ID, func(t *testing.T) {
			cert, _ := ocspSigner(t, h, tc.ca, tc.keyKind, pki.OCSPSignerOptions{})
			if want := tc.ca.Cert.Subject.CommonName + " OCSP Responder"; cert.Subject.CommonName != want {
				t.Errorf("common name %q, want %q", cert.Subject.CommonName, want)
			}
			if !slices.Equal(cert.Subject.Country, tc.ca.Cert.Subject.Country) || !slices.Equal(cert.Subject.Organization, tc.ca.Cert.Subject.Organization) {
				t.Errorf("subject %v does not carry the ca's country and organization", cert.Subject)
			}
			if cert.KeyUsage != x509.KeyUsageDigitalSignature {
				t.Errorf("key usage %v, want digitalSignature only", cert.KeyUsage)
			}
			if !slices.Equal(cert.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageOCSPSigning}) || len(cert.UnknownExtKeyUsage) != 0 {
				t.Errorf("ext key usage %v %v, want id-kp-OCSPSigning only", cert.ExtKeyUsage, cert.UnknownExtKeyUsage)
			}
			if cert.IsCA {
				t.Error("responder certificate is a CA")
			}
			if !bytes.Equal(cert.AuthorityKeyId, tc.ca.Cert.SubjectKeyId) || len(cert.SubjectKeyId) != 20 {
				t.Errorf("aki %x ski %x", cert.AuthorityKeyId, cert.SubjectKeyId)
			}
			var noCheck *pkix.Extension
			for i, ext := range cert.Extensions {
				if ext.Id.Equal(oidOCSPNoCheck) {
					noCheck = &cert.Extensions[i]
				}
			}
			if noCheck == nil || noCheck.Critical || !bytes.Equal(noCheck.Value, []byte{0x05, 0x00}) {
				t.Errorf("id-pkix-ocsp-nocheck missing or wrong: %+v", noCheck)
			}
			if !cert.NotBefore.Equal(pkitest.Now) || !cert.NotAfter.Equal(pkitest.Now.AddDate(0, 0, pki.DefaultOCSPSignerValidityDays).Add(-time.Second)) {
				t.Errorf("validity %v .. %v", cert.NotBefore, cert.NotAfter)
			}
			if len(cert.OCSPServer) != 0 || len(cert.CRLDistributionPoints) != 0 || !slices.Equal(cert.IssuingCertificateURL, []string{tc.ca.URLs.CAIssuers}) {
				t.Errorf("urls: ocsp %v crl %v aia %v", cert.OCSPServer, cert.CRLDistributionPoints, cert.IssuingCertificateURL)
			}
			if err := cert.CheckSignatureFrom(tc.ca.Cert); err != nil {
				t.Errorf("not signed by the ca: %v", err)
			}

			findings, err := h.Linter.Lint("ocsp-responder", cert.Raw)
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range findings {
				if f.Status == "warn" || f.Status == "error" || f.Status == "fatal" {
					t.Errorf("zlint %s: %s %s", f.Status, f.Lint, f.Details)
				}
			}
			if n := len(h.Linter.LintNames("ocsp-responder")); n < 50 {
				t.Errorf("only %d lints ran", n)
			}
		})
	}
}

// TestOCSPSignerOpenSSL has OpenSSL check the responder certificate for the
// OCSP signing purpose up to the root.
func TestOCSPSignerOpenSSL(t *testing.T) {
	bin := openssl(t)
	h := pkitest.NewHierarchy(t)
	dir := t.TempDir()
	cert, _ := ocspSigner(t, h, h.Issuing, "ecdsa-p256", pki.OCSPSignerOptions{ValidityDays: 30})
	out, err := runOpenSSL(t, bin, "verify", "-attime", strconv.FormatInt(pkitest.Now.Add(time.Hour).Unix(), 10),
		"-CAfile", writeFile(t, dir, "root.pem", pki.EncodePEM(h.Root.Cert)),
		"-untrusted", writeFile(t, dir, "issuing.pem", pki.EncodePEM(h.Issuing.Cert)),
		"-purpose", "ocsphelper", writeFile(t, dir, "responder.pem", pki.EncodePEM(cert)))
	if err != nil || !strings.Contains(out, ": OK") {
		t.Fatalf("openssl verify: %v\n%s", err, out)
	}
}

func TestNewOCSPSignerCertificateValidity(t *testing.T) {
	h := pkitest.NewHierarchy(t)
	cert, _ := ocspSigner(t, h, h.Issuing, "ecdsa-p256", pki.OCSPSignerOptions{ValidityDays: 7})
	if got := cert.NotAfter.Sub(cert.NotBefore) + time.Second; got != 7*24*time.Hour {
		t.Errorf("validity %v, want 7 days", got)
	}
	// Close to the CA's end, the responder certificate ends with the CA.
	key := pkitest.NewKey(t, "ecdsa-p256")
	late := h.Issuing.Cert.NotAfter.Add(-10 * 24 * time.Hour)
	der, err := pki.NewOCSPSignerCertificate(h.Issuing.Issuer, key.Public(), pki.OCSPSignerOptions{}, mustSerial(t), late, h.Linter)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	if !c.NotAfter.Equal(h.Issuing.Cert.NotAfter) {
		t.Errorf("notAfter %v, want the ca's %v", c.NotAfter, h.Issuing.Cert.NotAfter)
	}
}

func TestNewOCSPSignerCertificateRefusals(t *testing.T) {
	h := pkitest.NewHierarchy(t)
	key := pkitest.NewKey(t, "ecdsa-p256")
	for _, tc := range []struct {
		name   string
		ca     *pki.Issuer
		pub    any
		opts   pki.OCSPSignerOptions
		serial bool
		now    time.Time
		want   string
	}{
		{"too long", h.Issuing.Issuer, key.Public(), pki.OCSPSignerOptions{ValidityDays: 367}, true, pkitest.Now, "validity"},
		{"negative", h.Issuing.Issuer, key.Public(), pki.OCSPSignerOptions{ValidityDays: -1}, true, pkitest.Now, "validity"},
		{"ca key", h.Issuing.Issuer, h.Issuing.Key.Public(), pki.OCSPSignerOptions{}, true, pkitest.Now, "must not be the ca's own key"},
		{"weak key", h.Issuing.Issuer, testKey(t, "p224").Public(), pki.OCSPSignerOptions{}, true, pkitest.Now, "not allowed"},
		{"no serial", h.Issuing.Issuer, key.Public(), pki.OCSPSignerOptions{}, false, pkitest.Now, "serial"},
		{"before the ca", h.Issuing.Issuer, key.Public(), pki.OCSPSignerOptions{}, true, h.Issuing.Cert.NotBefore.Add(-time.Hour), "is not valid at"},
		{"after the ca", h.Issuing.Issuer, key.Public(), pki.OCSPSignerOptions{}, true, h.Issuing.Cert.NotAfter.Add(time.Hour), "is not valid at"},
		{"no ca", nil, key.Public(), pki.OCSPSignerOptions{}, true, pkitest.Now, "not prepared"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var serial = mustSerial(t)
			if !tc.serial {
				serial = nil
			}
			_, err := pki.NewOCSPSignerCertificate(tc.ca, tc.pub, tc.opts, serial, tc.now, h.Linter)
			if selo.ErrorCode(err) != selo.EINVALID || !strings.Contains(selo.ErrorMessage(err), tc.want) {
				t.Errorf("got %v, want EINVALID containing %q", err, tc.want)
			}
		})
	}
	// A CA whose common name leaves no room for " OCSP Responder".
	long := strings.Repeat("x", 55)
	caKey := pkitest.NewKey(t, "ecdsa-p256")
	der, err := pki.NewSubordinateCertificate(h.Root.Issuer, caKey.Public(), pki.CAOptions{Subject: pkix.Name{CommonName: long}, ValidityDays: 30, PathLen: 0}, mustSerial(t), pkitest.Now, h.Linter)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(der)
	iss, err := pki.NewIssuer(caCert, caKey, pkitest.URLs("long"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pki.NewOCSPSignerCertificate(iss, key.Public(), pki.OCSPSignerOptions{}, mustSerial(t), pkitest.Now, h.Linter); selo.ErrorCode(err) != selo.EINVALID || !strings.Contains(selo.ErrorMessage(err), "too long") {
		t.Errorf("long ca name: got %v", err)
	}
}
