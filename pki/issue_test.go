package pki_test

import (
	"bytes"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"math/big"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/pki"
	"github.com/selo-qtsp/selo/pki/pkitest"
)

// issueProfiles lists each built-in profile with the key kinds it is tested with.
var issueProfiles = []struct {
	profile string
	keys    []string
	kind    string
}{
	{"qualified-sign", []string{"ecdsa-p256", "ecdsa-p384", "rsa-3072"}, pki.KindQualifiedNatural},
	{"qualified-seal", []string{"ecdsa-p256", "rsa-3072"}, pki.KindQualifiedLegal},
	{"advanced-invoice", []string{"ecdsa-p256", "rsa-2048"}, pki.KindAdvanced},
	{"advanced-email", []string{"ecdsa-p256", "ecdsa-p384", "rsa-2048"}, pki.KindSMIME},
	{"tls-server", []string{"ecdsa-p256", "ecdsa-p384", "rsa-2048"}, pki.KindTLS},
	{"tls-server-ov", []string{"ecdsa-p256", "ecdsa-p384", "rsa-2048"}, pki.KindTLS},
}

func mustSerial(t testing.TB) *big.Int {
	t.Helper()
	s, err := pki.RandomSerial()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func issue(t testing.TB, h *pkitest.Hierarchy, profile, keyKind string) *pki.Issued {
	t.Helper()
	p := pki.BuiltinProfiles()[profile]
	key := pkitest.NewKey(t, keyKind)
	req := pkitest.Request(profile, key.Public())
	req.KeyInQSCD = true // the built-in profiles in full: QcSSCD where they state it
	issued, err := h.IssuerFor(profile).Issuer.Issue(p, req, mustSerial(t), pkitest.Now, h.Linter)
	if err != nil {
		t.Fatalf("issue %s with %s key: %v", profile, keyKind, err)
	}
	return issued
}

// TestIssueLintClean issues every built-in profile with every key type it
// allows and runs the profile's whole filtered zlint registry over the real
// certificate: no error and no warning may remain.
func TestIssueLintClean(t *testing.T) {
	h := pkitest.NewHierarchy(t)
	for _, tc := range issueProfiles {
		for _, keyKind := range tc.keys {
			t.Run(tc.profile+"/"+keyKind, func(t *testing.T) {
				issued := issue(t, h, tc.profile, keyKind)
				findings, err := h.Linter.Lint(tc.kind, issued.DER)
				if err != nil {
					t.Fatal(err)
				}
				for _, f := range findings {
					if f.Status == "warn" || f.Status == "error" || f.Status == "fatal" {
						t.Errorf("zlint %s: %s %s", f.Status, f.Lint, f.Details)
					}
				}
				if !slices.Equal(findings, issued.Findings) {
					t.Errorf("findings of the signed certificate %v differ from the linted one %v", findings, issued.Findings)
				}
				if n := len(h.Linter.LintNames(tc.kind)); n < 50 {
					t.Errorf("only %d lints ran for %s", n, tc.kind)
				}
			})
		}
	}
}

func TestIssuedCertificateContents(t *testing.T) {
	h := pkitest.NewHierarchy(t)
	for _, tc := range issueProfiles {
		t.Run(tc.profile, func(t *testing.T) {
			issued := issue(t, h, tc.profile, tc.keys[0])
			c := issued.Cert
			iss := h.IssuerFor(tc.profile)
			if err := c.CheckSignatureFrom(iss.Cert); err != nil {
				t.Fatalf("signature: %v", err)
			}
			if !c.NotBefore.Equal(pkitest.Now) {
				t.Errorf("notBefore %v, want %v", c.NotBefore, pkitest.Now)
			}
			p := pki.BuiltinProfiles()[tc.profile]
			if got := c.NotAfter.Sub(c.NotBefore) + time.Second; got != time.Duration(p.ValidityDays)*24*time.Hour {
				t.Errorf("validity %v, want %d days", got, p.ValidityDays)
			}
			if !slices.Equal(c.CRLDistributionPoints, []string{iss.URLs.CRL}) || !slices.Equal(c.OCSPServer, []string{iss.URLs.OCSP}) ||
				!slices.Equal(c.IssuingCertificateURL, []string{iss.URLs.CAIssuers}) {
				t.Errorf("urls: crl %v ocsp %v ca issuers %v", c.CRLDistributionPoints, c.OCSPServer, c.IssuingCertificateURL)
			}
			if !bytes.Equal(c.AuthorityKeyId, iss.Cert.SubjectKeyId) {
				t.Error("authority key identifier is not the issuer's subject key identifier")
			}
			if (len(c.SubjectKeyId) == 0) != (tc.kind == pki.KindTLS) {
				t.Errorf("subject key identifier %x for kind %s", c.SubjectKeyId, tc.kind)
			}
			var policies []string
			for _, oid := range c.Policies {
				policies = append(policies, oid.String())
			}
			if !slices.Equal(policies, p.Policies) {
				t.Errorf("policies %v, want %v", policies, p.Policies)
			}
			if c.SerialNumber.Sign() <= 0 || c.SerialNumber.BitLen() > 127 {
				t.Errorf("serial %x", c.SerialNumber)
			}
			hasQC := false
			for _, e := range c.Extensions {
				if e.Id.Equal(asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 1, 3}) {
					hasQC = true
					if e.Critical {
						t.Error("qcStatements is critical")
					}
				}
			}
			if hasQC != strings.HasPrefix(tc.profile, "qualified") {
				t.Errorf("qcStatements present: %v", hasQC)
			}
		})
	}
}

// TestQCStatementsEncoding pins the DER of the qualified-sign statements: the
// order and encoding ETSI EN 319 412-5 readers expect.
func TestQCStatementsEncoding(t *testing.T) {
	h := pkitest.NewHierarchy(t)
	c := issue(t, h, "qualified-seal", "ecdsa-p256").Cert
	var raw []byte
	for _, e := range c.Extensions {
		if e.Id.String() == "1.3.6.1.5.5.7.1.3" {
			raw = e.Value
		}
	}
	var stmts []struct {
		ID   asn1.ObjectIdentifier
		Info asn1.RawValue `asn1:"optional"`
	}
	if rest, err := asn1.Unmarshal(raw, &stmts); err != nil || len(rest) != 0 {
		t.Fatalf("decode qcStatements: %v", err)
	}
	var ids []string
	for _, s := range stmts {
		ids = append(ids, s.ID.String())
	}
	want := []string{"1.3.6.1.5.5.7.11.2", "0.4.0.1862.1.1", "0.4.0.1862.1.4", "0.4.0.1862.1.6", "0.4.0.1862.1.5"}
	if !slices.Equal(ids, want) {
		t.Fatalf("statements %v, want %v", ids, want)
	}
	var sem struct{ ID asn1.ObjectIdentifier }
	if _, err := asn1.Unmarshal(stmts[0].Info.FullBytes, &sem); err != nil || sem.ID.String() != "0.4.0.194121.1.2" {
		t.Errorf("semantics identifier %v (%v), want legal 0.4.0.194121.1.2", sem.ID, err)
	}
	var types []asn1.ObjectIdentifier
	if _, err := asn1.Unmarshal(stmts[3].Info.FullBytes, &types); err != nil || len(types) != 1 || types[0].String() != "0.4.0.1862.1.6.2" {
		t.Errorf("qc type %v (%v), want eseal", types, err)
	}
	// organizationIdentifier made it into the subject.
	found := false
	for _, n := range c.Subject.Names {
		if n.Type.String() == "2.5.4.97" && n.Value == "VATPT-500000000" {
			found = true
		}
	}
	if !found {
		t.Errorf("organizationIdentifier missing from %v", c.Subject)
	}
}

func TestIssueRefusals(t *testing.T) {
	h := pkitest.NewHierarchy(t)
	key := pkitest.NewKey(t, "ecdsa-p256")
	p := pki.BuiltinProfiles()["qualified-sign"]
	for _, tc := range []struct {
		name   string
		modify func(r *pki.Request)
		now    time.Time
		want   string
	}{
		{"too long", func(r *pki.Request) { r.NotAfter = pkitest.Now.AddDate(4, 0, 0) }, pkitest.Now, "exceeds the 1095 days"},
		{"after the CA", func(r *pki.Request) {}, pkitest.Now.AddDate(9, 0, 0), "later than the issuing CA's notAfter"},
		{"before the CA", func(r *pki.Request) {}, pkitest.Now.AddDate(-1, 0, 0), "before the issuing CA's notBefore"},
		{"not after", func(r *pki.Request) { r.NotAfter = pkitest.Now.Add(-time.Hour) }, pkitest.Now, "is not after notBefore"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := pkitest.Request("qualified-sign", key.Public())
			tc.modify(req)
			_, err := h.Issuing.Issuer.Issue(p, req, mustSerial(t), tc.now, h.Linter)
			if selo.ErrorCode(err) != selo.EINVALID || !strings.Contains(selo.ErrorMessage(err), tc.want) {
				t.Fatalf("got %v, want EINVALID containing %q", err, tc.want)
			}
		})
	}
	for _, serial := range []*big.Int{nil, big.NewInt(0), big.NewInt(-5), new(big.Int).Lsh(big.NewInt(1), 170)} {
		if _, err := h.Issuing.Issuer.Issue(p, pkitest.Request("qualified-sign", key.Public()), serial, pkitest.Now, h.Linter); selo.ErrorCode(err) != selo.EINVALID {
			t.Errorf("serial %v: got %v, want EINVALID", serial, err)
		}
	}
}

// TestIssueLintRefusal shows that a certificate failing an error lint is
// refused and never signed by the real key: a profile whose PDS is not https
// would fail zlint's ETSI rules, so the profile loader refuses it; here an
// RSA TLS certificate valid for more than the BRs allow reaches the linter.
func TestIssueLintRefusal(t *testing.T) {
	h := pkitest.NewHierarchy(t)
	p := pki.BuiltinProfiles()["tls-server"]
	p.ValidityDays = 398 // the pre-SC-081 ceiling: zlint refuses it after 2026-03-15
	key := pkitest.NewKey(t, "ecdsa-p256")
	_, err := h.TLS.Issuer.Issue(p, pkitest.Request("tls-server", key.Public()), mustSerial(t), pkitest.Now, h.Linter)
	if selo.ErrorCode(err) != selo.EINVALID || !strings.Contains(selo.ErrorMessage(err), "e_server_cert_valid_time_longer_than_200_days") {
		t.Fatalf("got %v, want a lint refusal naming e_server_cert_valid_time_longer_than_200_days", err)
	}
}

func TestReissue(t *testing.T) {
	h := pkitest.NewHierarchy(t)
	for _, tc := range issueProfiles {
		t.Run(tc.profile, func(t *testing.T) {
			old := issue(t, h, tc.profile, tc.keys[0]).Cert
			// A new CA of the other hierarchy branch stands in for "the new CA".
			newCA := h.Root
			later := pkitest.Now.Add(48 * time.Hour)
			p := pki.BuiltinProfiles()[tc.profile]
			iss, err := pki.NewIssuer(newCA.Cert, newCA.Key, newCA.URLs)
			if err != nil {
				t.Fatal(err)
			}
			re, err := iss.Reissue(p, old, mustSerial(t), later, h.Linter)
			if err != nil {
				t.Fatalf("reissue: %v", err)
			}
			c := re.Cert
			switch {
			case !bytes.Equal(c.RawSubject, old.RawSubject):
				t.Error("subject changed")
			case !bytes.Equal(c.RawSubjectPublicKeyInfo, old.RawSubjectPublicKeyInfo):
				t.Error("public key changed")
			case !c.NotAfter.Equal(old.NotAfter):
				t.Errorf("notAfter %v, want %v", c.NotAfter, old.NotAfter)
			case !c.NotBefore.Equal(later):
				t.Errorf("notBefore %v, want %v", c.NotBefore, later)
			case c.SerialNumber.Cmp(old.SerialNumber) == 0:
				t.Error("serial reused")
			case !slices.Equal(c.DNSNames, old.DNSNames) || !slices.Equal(c.EmailAddresses, old.EmailAddresses):
				t.Error("SANs changed")
			case !bytes.Equal(c.RawIssuer, newCA.Cert.RawSubject):
				t.Error("not issued by the new CA")
			}
			if err := c.CheckSignatureFrom(newCA.Cert); err != nil {
				t.Error(err)
			}
		})
	}
	t.Run("expired", func(t *testing.T) {
		old := issue(t, h, "tls-server", "ecdsa-p256").Cert
		_, err := h.TLS.Issuer.Reissue(pki.BuiltinProfiles()["tls-server"], old, mustSerial(t), old.NotAfter, h.Linter)
		if selo.ErrorCode(err) != selo.EINVALID {
			t.Fatalf("got %v, want EINVALID", err)
		}
	})
}

func TestCACertificates(t *testing.T) {
	h := pkitest.NewHierarchy(t)
	for _, ca := range []*pkitest.CA{h.Root, h.Issuing, h.TLS} {
		c := ca.Cert
		if !c.IsCA || !c.BasicConstraintsValid || c.KeyUsage != x509.KeyUsageCertSign|x509.KeyUsageCRLSign || len(c.SubjectKeyId) != 20 {
			t.Errorf("%s: ca bits wrong: isCA %v ku %v ski %x", ca.ID, c.IsCA, c.KeyUsage, c.SubjectKeyId)
		}
		set := "ca"
		if ca == h.TLS {
			set = "ca-tls"
		}
		findings, err := h.Linter.Lint(set, c.Raw)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range findings {
			if f.Status == "error" || f.Status == "fatal" {
				t.Errorf("%s: %s %s %s", ca.ID, f.Status, f.Lint, f.Details)
			}
		}
	}
	if h.Root.Cert.MaxPathLen != -1 || h.Issuing.Cert.MaxPathLen != 0 || !h.Issuing.Cert.MaxPathLenZero {
		t.Error("path lengths wrong")
	}
	if !slices.Equal(h.Issuing.Cert.CRLDistributionPoints, []string{h.Root.URLs.CRL}) || !slices.Equal(h.Issuing.Cert.IssuingCertificateURL, []string{h.Root.URLs.CAIssuers}) {
		t.Error("subordinate lacks the parent's CRL and AIA URLs")
	}
	if !bytes.Equal(h.Issuing.Cert.AuthorityKeyId, h.Root.Cert.SubjectKeyId) {
		t.Error("subordinate AKI is not the root's SKI")
	}
	roots := x509.NewCertPool()
	roots.AddCert(h.Root.Cert)
	if _, err := h.TLS.Cert.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: pkitest.Now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
		t.Errorf("tls CA does not chain to the root: %v", err)
	}

	// Refusals.
	key := pkitest.NewKey(t, "ecdsa-p256")
	for _, tc := range []struct {
		name string
		opts pki.CAOptions
		want string
	}{
		{"no common name", pki.CAOptions{ValidityDays: 10}, "common name"},
		{"zero validity", pki.CAOptions{Subject: pkix.Name{CommonName: "X"}}, "validity"},
		{"outlives parent", pki.CAOptions{Subject: pkix.Name{CommonName: "X"}, ValidityDays: 9200}, "validity"},
		{"outlives parent 2", pki.CAOptions{Subject: pkix.Name{CommonName: "X"}, ValidityDays: 9131}, "later than the parent"},
		{"bad policy", pki.CAOptions{Subject: pkix.Name{CommonName: "X"}, ValidityDays: 10, Policies: []string{"1.2.x"}}, "policy"},
		{"bad path length", pki.CAOptions{Subject: pkix.Name{CommonName: "X"}, ValidityDays: 10, PathLen: -2}, "path length"},
	} {
		_, err := pki.NewSubordinateCertificate(h.Root.Issuer, key.Public(), tc.opts, mustSerial(t), pkitest.Now, h.Linter)
		if selo.ErrorCode(err) != selo.EINVALID || !strings.Contains(selo.ErrorMessage(err), tc.want) {
			t.Errorf("%s: got %v, want EINVALID containing %q", tc.name, err, tc.want)
		}
	}
	// An issuing CA with path length 0 cannot make another CA.
	_, err := pki.NewSubordinateCertificate(h.Issuing.Issuer, key.Public(), pki.CAOptions{Subject: pkix.Name{CommonName: "X"}, ValidityDays: 10}, mustSerial(t), pkitest.Now, h.Linter)
	if selo.ErrorCode(err) != selo.EINVALID {
		t.Errorf("sub-CA under path length 0: got %v", err)
	}
	// A signer that does not match the certificate is refused.
	if _, err := pki.NewIssuer(h.Issuing.Cert, key, h.Issuing.URLs); selo.ErrorCode(err) != selo.EINVALID {
		t.Errorf("mismatched signer: got %v", err)
	}
	if _, err := pki.NewIssuer(h.Issuing.Cert, h.Issuing.Key, pki.IssuerURLs{CRL: "ftp://x"}); selo.ErrorCode(err) != selo.EINVALID {
		t.Errorf("bad urls: got %v", err)
	}
}

func TestRandomSerial(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		s := mustSerial(t)
		if s.Sign() <= 0 || s.BitLen() > 127 || s.BitLen() <= 64 {
			t.Fatalf("serial %x has %d bits", s, s.BitLen())
		}
		if seen[pki.SerialHex(s)] {
			t.Fatal("duplicate serial")
		}
		seen[pki.SerialHex(s)] = true
	}
}

// TestCAWithPolicies covers CA certificates with CA/B TLS policies, which are
// linted with the TLS BRs too, and shows their non-error findings.
func TestCAWithPolicies(t *testing.T) {
	h := pkitest.NewHierarchy(t)
	key := pkitest.NewKey(t, "ecdsa-p384")
	subject := pkix.Name{Country: []string{"PT"}, Organization: []string{"Selo Test Trust Services"}, CommonName: "Selo Test Root CA E2"}
	der, err := pki.NewRootCertificate(key, pki.CAOptions{Subject: subject, ValidityDays: 3000, PathLen: -1, Policies: []string{"2.23.140.1.2.1"}}, mustSerial(t), pkitest.Now, h.Linter)
	if err != nil {
		t.Fatalf("root with a TLS policy: %v", err)
	}
	root, _ := x509.ParseCertificate(der)
	if len(root.ExtKeyUsage) != 0 || !bytes.Equal(root.AuthorityKeyId, root.SubjectKeyId) {
		t.Errorf("root: eku %v aki %x ski %x", root.ExtKeyUsage, root.AuthorityKeyId, root.SubjectKeyId)
	}
	if err := root.CheckSignatureFrom(root); err != nil {
		t.Errorf("root is not self-signed: %v", err)
	}
	findings, _ := h.Linter.Lint("ca-tls", der)
	t.Logf("root findings: %v", findings)
	findings, _ = h.Linter.Lint("ca-tls", h.TLS.Cert.Raw)
	t.Logf("tls issuing CA findings: %v", findings)
	if !slices.Equal(h.TLS.Cert.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}) {
		t.Errorf("tls issuing CA eku %v, want serverAuth", h.TLS.Cert.ExtKeyUsage)
	}
}

// TestIssueConcurrent issues from many goroutines with one Issuer and Linter,
// as the service does; run with -race.
func TestIssueConcurrent(t *testing.T) {
	h := pkitest.NewHierarchy(t)
	p := pki.BuiltinProfiles()["qualified-seal"]
	key := pkitest.NewKey(t, "ecdsa-p256")
	errs := make(chan error, 8)
	for range 8 {
		go func() {
			s, err := pki.RandomSerial()
			if err == nil {
				_, err = h.Issuing.Issuer.Issue(p, pkitest.Request("qualified-seal", key.Public()), s, pkitest.Now, h.Linter)
			}
			errs <- err
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
