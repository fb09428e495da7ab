package authority_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/authority"
	"github.com/selo-qtsp/selo/internal/testenv"
	"github.com/selo-qtsp/selo/pki"
	"github.com/selo-qtsp/selo/pki/pkitest"
)

var oidQCStatements = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 1, 3}

// TestIssueEveryProfile issues each built-in profile from a CSR and from a
// key Selo generates, and checks the certificate, its record, its chain (with
// crypto/x509 and openssl) and its audit entry.
func TestIssueEveryProfile(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, s *stack) {
		ctx := context.Background()
		for _, tt := range []struct {
			profile, ca string
			csrKey      string            // pkitest.NewKey kind; "" to generate
			generate    selo.KeyAlgorithm // "" to send a CSR
			qscd        bool              // the key is in a QSCD (a token's CSR)
		}{
			{profile: "qualified-sign", ca: testenv.QualifiedID, csrKey: "ecdsa-p256"},
			{profile: "qualified-sign", ca: testenv.QualifiedID, csrKey: "ecdsa-p384", qscd: true},
			{profile: "qualified-seal", ca: testenv.QualifiedID, csrKey: "ecdsa-p256", qscd: true},
			{profile: "qualified-sign", ca: testenv.QualifiedID, generate: selo.KeyECDSAP384},
			{profile: "qualified-seal", ca: testenv.QualifiedID, csrKey: "rsa-3072"},
			{profile: "qualified-seal", ca: testenv.QualifiedID, generate: selo.KeyECDSAP256},
			{profile: "advanced-invoice", ca: testenv.QualifiedID, csrKey: "ecdsa-p384"},
			{profile: "advanced-invoice", ca: testenv.QualifiedID, generate: selo.KeyRSA2048},
			{profile: "advanced-email", ca: testenv.QualifiedID, csrKey: "rsa-2048"},
			{profile: "advanced-email", ca: testenv.QualifiedID, generate: selo.KeyECDSAP256},
			{profile: "tls-server", ca: testenv.TLSID, csrKey: "ecdsa-p256"},
			{profile: "tls-server", ca: testenv.TLSID, csrKey: "rsa-2048"},
			{profile: "tls-server", ca: testenv.TLSID, generate: selo.KeyECDSAP256},
		} {
			name := tt.profile + "/csr-" + tt.csrKey
			if tt.generate != "" {
				name = tt.profile + "/generated-" + string(tt.generate)
			}
			if tt.qscd {
				name += "-qscd"
			}
			t.Run(name, func(t *testing.T) {
				req := authority.IssueRequest{Profile: tt.profile, KeyInQSCD: tt.qscd}
				var wantPub crypto.PublicKey
				if tt.generate == "" {
					csr, key := testenv.CSR(t, tt.profile, tt.csrKey)
					req.CSR, wantPub = csr, key.Public()
				} else {
					r := pkitest.Request(tt.profile, nil)
					req.GenerateKey, req.Subject, req.DNSNames, req.EmailAddresses = tt.generate, r.Subject, r.DNSNames, r.EmailAddresses
				}
				before := time.Now()
				cert, err := s.A.Issue(ctx, "tester", req)
				if err != nil {
					t.Fatalf("Issue: %v", err)
				}
				leaf := leafOf(t, cert)

				if tt.generate != "" {
					if !strings.HasPrefix(cert.KeyID, "holder/") {
						t.Fatalf("KeyID = %q, want a holder key", cert.KeyID)
					}
					signer, err := s.Keys.Signer(ctx, cert.KeyID)
					if err != nil {
						t.Fatalf("the generated key is not in the key store: %v", err)
					}
					wantPub = signer.Public()
					if _, err := s.Keys.ExportKey(ctx, cert.KeyID); err != nil {
						t.Fatalf("a generated holder key must be exportable for its .pfx: %v", err)
					}
				} else if cert.KeyID != "" {
					t.Fatalf("KeyID = %q for a CSR, want none: Selo does not hold the key", cert.KeyID)
				}
				if !samePublicKey(leaf.PublicKey, wantPub) {
					t.Fatal("the certificate does not certify the requested key")
				}
				// Issue 12 item 4: QcSSCD only for a key in a QSCD.
				if want := tt.qscd && strings.HasPrefix(tt.profile, "qualified"); pki.HasQcSSCD(leaf) != want {
					t.Fatalf("QcSSCD %v, want %v", pki.HasQcSSCD(leaf), want)
				}
				checkIssued(t, s, cert, leaf, tt.profile, tt.ca, before)
			})
		}
		// A key Selo generates for a .pfx cannot be certified as in a QSCD.
		r := pkitest.Request("qualified-sign", nil)
		_, err := s.A.Issue(ctx, "tester", authority.IssueRequest{Profile: "qualified-sign", GenerateKey: selo.KeyECDSAP256,
			Subject: r.Subject, EmailAddresses: r.EmailAddresses, KeyInQSCD: true})
		if selo.ErrorCode(err) != selo.EINVALID || !strings.Contains(selo.ErrorMessage(err), "QSCD") {
			t.Fatalf("a generated key claimed in a QSCD: %v, want EINVALID", err)
		}
	})
}

// checkIssued checks an issued certificate, its record and its audit entry.
func checkIssued(t *testing.T, s *stack, cert *selo.Certificate, leaf *x509.Certificate, profileName, caID string, before time.Time) {
	t.Helper()
	ctx := context.Background()
	profile := s.Profiles[profileName]

	// Serial: at least 64 bits of randomness, positive, at most 20 octets,
	// stored as lower-case hex.
	if leaf.SerialNumber.Sign() <= 0 || leaf.SerialNumber.BitLen() < 64 || len(leaf.SerialNumber.Bytes()) > 20 {
		t.Fatalf("serial %x has %d bits, want 64..159", leaf.SerialNumber, leaf.SerialNumber.BitLen())
	}
	if cert.Serial != leaf.SerialNumber.Text(16) {
		t.Fatalf("record serial %q, certificate serial %x", cert.Serial, leaf.SerialNumber)
	}
	if cert.CAID != caID || cert.Profile != profileName || cert.Status != selo.CertValid || cert.ReissuedFrom != "" || cert.SupersededBy != "" {
		t.Fatalf("record = ca %s profile %s status %s reissued from %q superseded by %q", cert.CAID, cert.Profile, cert.Status, cert.ReissuedFrom, cert.SupersededBy)
	}
	if cert.Subject != pki.NameString(leaf.Subject) || !cert.NotBefore.Equal(leaf.NotBefore) || !cert.NotAfter.Equal(leaf.NotAfter) {
		t.Fatalf("record subject/validity %q %v..%v differ from the certificate's %q %v..%v",
			cert.Subject, cert.NotBefore, cert.NotAfter, leaf.Subject, leaf.NotBefore, leaf.NotAfter)
	}
	if nb := leaf.NotBefore; nb.Before(before.Add(-time.Second).Truncate(time.Second)) || nb.After(time.Now()) {
		t.Fatalf("notBefore %v is not the time of issue", nb)
	}
	if got, want := leaf.NotAfter.Sub(leaf.NotBefore), time.Duration(profile.ValidityDays)*24*time.Hour-time.Second; got != want {
		t.Fatalf("validity %v, want %v (%d days)", got, want, profile.ValidityDays)
	}

	// The stored record, found by a serial typed by a person.
	typed := strings.ToUpper(cert.Serial)
	stored, err := s.A.FindCertificate(ctx, "0x"+typed)
	if err != nil {
		t.Fatalf("FindCertificate(%q): %v", typed, err)
	}
	if string(stored.DER) != string(leaf.Raw) || stored.Status != selo.CertValid || stored.CAID != caID {
		t.Fatal("the stored certificate differs from the one returned")
	}
	var findings []pki.LintFinding
	if err := json.Unmarshal(stored.LintResults, &findings); err != nil || findings == nil {
		t.Fatalf("stored lint results %q are not a JSON array of findings: %v", stored.LintResults, err)
	}
	for _, f := range findings {
		if f.Lint == "" || f.Status == "error" || f.Status == "fatal" {
			t.Fatalf("stored lint finding %+v: an issued certificate has no error or fatal finding", f)
		}
	}

	// Chain: issuing CA, then root; the certificate verifies against it.
	chain, err := s.A.Chain(ctx, caID)
	if err != nil {
		t.Fatal(err)
	}
	if len(chain) != 2 || chain[1].Subject.CommonName != caCert(t, s.Root).Subject.CommonName {
		t.Fatalf("chain of %s has %d certificates", caID, len(chain))
	}
	if err := leaf.CheckSignatureFrom(chain[0]); err != nil {
		t.Fatalf("not signed by %s: %v", caID, err)
	}
	verifyChain(t, leaf, chain, s.Clock.Now())
	opensslVerify(t, leaf, chain)

	// URLs built from the base URL and the CA ID.
	urls := s.A.URLs(caID)
	wantURLs := pki.IssuerURLs{
		CRL:       testenv.BaseURL + "/crl/" + caID + ".crl",
		OCSP:      testenv.BaseURL + "/ocsp",
		CAIssuers: testenv.BaseURL + "/ca/" + caID + ".crt",
	}
	if urls != wantURLs {
		t.Fatalf("URLs(%s) = %+v, want %+v", caID, urls, wantURLs)
	}
	if !slices.Equal(leaf.CRLDistributionPoints, []string{wantURLs.CRL}) ||
		!slices.Equal(leaf.OCSPServer, []string{wantURLs.OCSP}) ||
		!slices.Equal(leaf.IssuingCertificateURL, []string{wantURLs.CAIssuers}) {
		t.Fatalf("certificate URLs crl %v ocsp %v ca issuers %v, want %+v", leaf.CRLDistributionPoints, leaf.OCSPServer, leaf.IssuingCertificateURL, wantURLs)
	}

	// What the profile puts in every certificate.
	for _, p := range profile.Policies {
		if !pki.HasQcSSCD(leaf) {
			p = plainPolicy(p) // a key not in a QSCD: QCP-n / QCP-l
		}
		if !hasPolicy(t, leaf, p) {
			t.Fatalf("certificate lacks policy %s of profile %s (has %v)", p, profileName, leaf.Policies)
		}
	}
	hasQC := slices.ContainsFunc(leaf.Extensions, func(e pkix.Extension) bool { return e.Id.Equal(oidQCStatements) })
	if hasQC != (profile.QC != nil) {
		t.Fatalf("qcStatements present = %v, profile has QC statements = %v", hasQC, profile.QC != nil)
	}
	if leaf.IsCA || leaf.KeyUsage == 0 || leaf.KeyUsage&x509.KeyUsageCertSign != 0 {
		t.Fatalf("an end-entity certificate: IsCA %v, key usage %b", leaf.IsCA, leaf.KeyUsage)
	}
	switch profile.Kind {
	case pki.KindTLS:
		if !slices.Equal(leaf.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}) {
			t.Fatalf("tls-server EKU %v", leaf.ExtKeyUsage)
		}
	case pki.KindSMIME:
		if !slices.Equal(leaf.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection}) {
			t.Fatalf("advanced-email EKU %v", leaf.ExtKeyUsage)
		}
	}

	// Exactly one audit entry records the issue, with what was issued.
	entries := s.findAudit(t, "certificate.issue", "certificate/"+cert.Serial)
	if len(entries) != 1 || entries[0].Outcome != selo.OutcomeSuccess || entries[0].Actor != "tester" {
		t.Fatalf("%d audit entries for the issue of %s, want one success by tester", len(entries), cert.Serial)
	}
	d := details(t, entries[0])
	if d["ca"] != caID || d["profile"] != profileName || d["key_id"] != cert.KeyID || d["lint_findings"] != float64(len(findings)) || d["key"] != pki.KeyDescription(leaf.PublicKey) {
		t.Fatalf("audit details %s do not describe the issue", entries[0].Details)
	}
}

// csrPEM returns a PEM CSR for tmpl signed by key.
func csrPEM(t testing.TB, key crypto.Signer, tmpl *x509.CertificateRequest) []byte {
	t.Helper()
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
}

// TestIssueRefusals checks that every refused request fails with its code,
// leaves no certificate and no holder key behind, and is audited as a failure.
func TestIssueRefusals(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, s *stack) {
		ctx := context.Background()
		retired, err := s.A.CreateCA(ctx, "tester", authority.CreateCAOptions{ID: "retired-ecc-t1", Name: "Retired CA", ParentID: testenv.RootID, KeyAlgorithm: selo.KeyECDSAP256, ValidityDays: 365})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.A.RetireCA(ctx, "tester", retired.ID); err != nil {
			t.Fatal(err)
		}

		p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		p521, _ := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
		rsa1024, _ := rsa.GenerateKey(rand.Reader, 1024)
		_, ed, _ := ed25519.GenerateKey(rand.Reader)
		csrFor := func(profile string, key crypto.Signer) []byte {
			r := pkitest.Request(profile, key.Public())
			return csrPEM(t, key, &x509.CertificateRequest{Subject: r.Subject, DNSNames: r.DNSNames, EmailAddresses: r.EmailAddresses})
		}
		goodCSR, _ := testenv.CSR(t, "qualified-sign", "ecdsa-p256")
		block, _ := pem.Decode(goodCSR)
		broken := append([]byte(nil), block.Bytes...)
		broken[len(broken)-1] ^= 0x01 // in the signature
		brokenCSR := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: broken})
		certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.Root.CertDER})
		rsa2048CSR, _ := testenv.CSR(t, "qualified-sign", "rsa-2048")
		tlsReq := pkitest.Request("tls-server", nil)
		sealReq := pkitest.Request("qualified-seal", nil)

		for _, tt := range []struct {
			name string
			req  authority.IssueRequest
			code string
		}{
			{"garbage CSR", authority.IssueRequest{Profile: "qualified-sign", CSR: []byte("not a csr at all")}, selo.EINVALID},
			{"certificate instead of CSR", authority.IssueRequest{Profile: "qualified-sign", CSR: certPEM}, selo.EINVALID},
			{"CSR with a broken signature", authority.IssueRequest{Profile: "qualified-sign", CSR: brokenCSR}, selo.EINVALID},
			{"RSA 1024", authority.IssueRequest{Profile: "tls-server", CSR: csrFor("tls-server", rsa1024)}, selo.EINVALID},
			{"RSA 2048 under a 3072-bit profile", authority.IssueRequest{Profile: "qualified-sign", CSR: rsa2048CSR}, selo.EINVALID},
			{"curve P-521", authority.IssueRequest{Profile: "advanced-email", CSR: csrFor("advanced-email", p521)}, selo.EINVALID},
			{"Ed25519", authority.IssueRequest{Profile: "advanced-email", CSR: csrFor("advanced-email", ed)}, selo.EINVALID},
			{"email SAN on tls-server", authority.IssueRequest{Profile: "tls-server", CSR: csrPEM(t, p256, &x509.CertificateRequest{
				Subject: pkix.Name{CommonName: "www.example.pt"}, DNSNames: []string{"www.example.pt"}, EmailAddresses: []string{"web@example.pt"}})}, selo.EINVALID},
			{"IP SAN on tls-server", authority.IssueRequest{Profile: "tls-server", CSR: csrPEM(t, p256, &x509.CertificateRequest{
				DNSNames: []string{"www.example.pt"}, IPAddresses: []net.IP{net.ParseIP("192.0.2.1")}})}, selo.EINVALID},
			{"no DNS SAN on tls-server", authority.IssueRequest{Profile: "tls-server", CSR: csrPEM(t, p256, &x509.CertificateRequest{
				Subject: pkix.Name{CommonName: "www.example.pt"}})}, selo.EINVALID},
			{"DNS SAN on qualified-seal", authority.IssueRequest{Profile: "qualified-seal", CSR: csrPEM(t, p256, &x509.CertificateRequest{
				Subject: sealReq.Subject, DNSNames: []string{"example.pt"}})}, selo.EINVALID},
			// A DV profile leaves a CSR's O, L, ST, C out; other attributes are refused.
			{"serialNumber on tls-server", authority.IssueRequest{Profile: "tls-server", CSR: csrPEM(t, p256, &x509.CertificateRequest{
				Subject: pkix.Name{SerialNumber: "X1"}, DNSNames: []string{"www.example.pt"}})}, selo.EINVALID},
			{"unvalidated organization on tls-server-ov", authority.IssueRequest{Profile: "tls-server-ov", CSR: csrPEM(t, p256, &x509.CertificateRequest{
				Subject: pkix.Name{Organization: []string{"Exemplo, Lda."}, Locality: []string{"Lisboa"}, Country: []string{"PT"}}, DNSNames: []string{"www.example.pt"}})}, selo.EINVALID},
			{"organization on advanced-email", authority.IssueRequest{Profile: "advanced-email", CSR: csrPEM(t, p256, &x509.CertificateRequest{
				Subject: pkix.Name{CommonName: "ana@example.pt", Organization: []string{"Exemplo, Lda."}}, EmailAddresses: []string{"ana@example.pt"}})}, selo.EINVALID},
			{"qualified-sign without serialNumber", authority.IssueRequest{Profile: "qualified-sign", CSR: csrPEM(t, p256, &x509.CertificateRequest{
				Subject: pkix.Name{Country: []string{"PT"}, CommonName: "Ana Silva"}})}, selo.EINVALID},
			{"unknown profile", authority.IssueRequest{Profile: "no-such-profile", CSR: goodCSR}, selo.ENOTFOUND},
			{"unknown CA", authority.IssueRequest{Profile: "qualified-sign", CAID: "no-such-ca", CSR: goodCSR}, selo.ENOTFOUND},
			{"retired CA", authority.IssueRequest{Profile: "qualified-sign", CAID: retired.ID, CSR: goodCSR}, selo.EINVALID},
			{"root CA", authority.IssueRequest{Profile: "qualified-sign", CAID: testenv.RootID, CSR: goodCSR}, selo.EINVALID},
			{"CSR and generated key", authority.IssueRequest{Profile: "qualified-sign", CSR: goodCSR, GenerateKey: selo.KeyECDSAP256}, selo.EINVALID},
			{"neither CSR nor generated key", authority.IssueRequest{Profile: "qualified-sign"}, selo.EINVALID},
			{"unknown key type to generate", authority.IssueRequest{Profile: "tls-server", GenerateKey: "ed25519", Subject: tlsReq.Subject, DNSNames: tlsReq.DNSNames}, selo.EINVALID},
			{"generated RSA 2048 under a 3072-bit profile", authority.IssueRequest{Profile: "qualified-seal", GenerateKey: selo.KeyRSA2048, Subject: sealReq.Subject}, selo.EINVALID},
			{"generated key for a subject the profile refuses", authority.IssueRequest{Profile: "tls-server", GenerateKey: selo.KeyECDSAP256,
				Subject: pkix.Name{SerialNumber: "X1"}, DNSNames: tlsReq.DNSNames}, selo.EINVALID},
			{"generated key without the required SAN", authority.IssueRequest{Profile: "advanced-email", GenerateKey: selo.KeyECDSAP256,
				Subject: pkix.Name{CommonName: "ana@example.pt"}}, selo.EINVALID},
		} {
			t.Run(tt.name, func(t *testing.T) {
				certsBefore := len(s.certificates(t, selo.CertificateFilter{}))
				cert, err := s.A.Issue(ctx, "tester", tt.req)
				if cert != nil {
					t.Fatalf("Issue returned certificate %s under %s", cert.Serial, cert.CAID)
				}
				wantCode(t, err, tt.code)
				if n := len(s.certificates(t, selo.CertificateFilter{})); n != certsBefore {
					t.Fatalf("%d certificates after a refusal, want %d", n, certsBefore)
				}
				if keys := s.holderKeys(t); len(keys) != 0 {
					t.Fatalf("a refused request left holder keys %v", keys)
				}
				wantFailureAudit(t, s.lastAudit(t), "certificate.issue", "profile/"+tt.req.Profile, tt.code)
			})
		}
		s.verifyAudit(t)
	})
}

// TestIssueUnderNamedCA issues from a CA named in the request rather than
// the profile's, and refuses a profile that has no CA when none is named.
func TestIssueUnderNamedCA(t *testing.T) {
	t.Parallel()
	s := sqliteStack(t, testenv.Options{})
	ctx := context.Background()
	other, err := s.A.CreateCA(ctx, "tester", authority.CreateCAOptions{ID: "qualified-ecc-t2", Name: "Selo Test Qualified CA ECC T2", ParentID: testenv.RootID, KeyAlgorithm: selo.KeyECDSAP384, ValidityDays: 3650})
	if err != nil {
		t.Fatal(err)
	}
	csr, _ := testenv.CSR(t, "qualified-seal", "ecdsa-p256")
	cert, err := s.A.Issue(ctx, "tester", authority.IssueRequest{Profile: "qualified-seal", CAID: other.ID, CSR: csr})
	if err != nil {
		t.Fatal(err)
	}
	if cert.CAID != other.ID {
		t.Fatalf("issued by %s, want %s", cert.CAID, other.ID)
	}
	leaf := leafOf(t, cert)
	chain, err := s.A.Chain(ctx, other.ID)
	if err != nil {
		t.Fatal(err)
	}
	verifyChain(t, leaf, chain, time.Now())
	if leaf.CRLDistributionPoints[0] != testenv.BaseURL+"/crl/"+other.ID+".crl" {
		t.Fatalf("CRL DP %v names the wrong CA", leaf.CRLDistributionPoints)
	}

	bare := s.with(t, s.Store, func(c *authority.Config) { c.ProfileCA = nil })
	_, err = bare.Issue(ctx, "tester", authority.IssueRequest{Profile: "qualified-seal", CSR: csr})
	wantCode(t, err, selo.EINVALID)
	if _, err := bare.Issue(ctx, "tester", authority.IssueRequest{Profile: "qualified-seal", CAID: testenv.QualifiedID, CSR: csr}); err != nil {
		t.Fatalf("a named CA needs no ProfileCA entry: %v", err)
	}
}

// TestIssueSerialCollision makes the store report the first serial taken:
// the authority issues again under a new serial, and gives up after a few
// collisions, dropping the key it generated.
func TestIssueSerialCollision(t *testing.T) {
	t.Parallel()
	s := sqliteStack(t, testenv.Options{})
	ctx := context.Background()
	var mu sync.Mutex
	var attempts []string
	collide := 1
	// A collision is another certificate already holding the serial.
	hooked := &hookStore{Store: s.Store, createCertificate: func(ctx context.Context, next selo.Store, c *selo.Certificate, e *selo.AuditEntry) error {
		mu.Lock()
		attempts = append(attempts, c.Serial)
		n := len(attempts)
		mu.Unlock()
		if n <= collide {
			other := *c
			other.Subject, other.KeyID = "CN=someone else", ""
			if err := next.CreateCertificate(ctx, &other, &selo.AuditEntry{Actor: "other", Action: "certificate.issue", Object: "certificate/" + c.Serial, Outcome: selo.OutcomeSuccess, Details: "{}"}); err != nil {
				return err
			}
		}
		return next.CreateCertificate(ctx, c, e)
	}}
	a := s.with(t, hooked, nil)
	r := pkitest.Request("advanced-email", nil)
	req := authority.IssueRequest{Profile: "advanced-email", GenerateKey: selo.KeyECDSAP256, Subject: r.Subject, EmailAddresses: r.EmailAddresses}

	cert, err := a.Issue(ctx, "tester", req)
	if err != nil {
		t.Fatalf("Issue after one collision: %v", err)
	}
	if len(attempts) != 2 || cert.Serial != attempts[1] || attempts[0] == attempts[1] {
		t.Fatalf("attempts %v, certificate %s: want a second attempt with a new serial", attempts, cert.Serial)
	}
	if stored, err := s.Store.FindCertificate(ctx, cert.Serial); err != nil || stored.Subject != cert.Subject {
		t.Fatalf("the re-tried certificate is not stored: %v", err)
	}
	if got := s.holderKeys(t); !slices.Equal(got, []string{cert.KeyID}) {
		t.Fatalf("holder keys %v, want only %s", got, cert.KeyID)
	}

	mu.Lock()
	attempts, collide = nil, 1000
	mu.Unlock()
	_, err = a.Issue(ctx, "tester", req)
	wantCode(t, err, selo.ECONFLICT)
	if len(attempts) != 3 {
		t.Fatalf("%d attempts before giving up, want 3", len(attempts))
	}
	if got := s.holderKeys(t); !slices.Equal(got, []string{cert.KeyID}) {
		t.Fatalf("holder keys %v after a failed issue, want only %s", got, cert.KeyID)
	}
	wantFailureAudit(t, s.lastAudit(t), "certificate.issue", "profile/advanced-email", selo.ECONFLICT)
	s.verifyAudit(t)
}

// TestIssueStoreFailure checks that a store error is not retried, drops the
// generated key and reaches the caller as an internal error.
func TestIssueStoreFailure(t *testing.T) {
	t.Parallel()
	s := sqliteStack(t, testenv.Options{})
	calls := 0
	a := s.with(t, &hookStore{Store: s.Store, createCertificate: func(context.Context, selo.Store, *selo.Certificate, *selo.AuditEntry) error {
		calls++
		return fmt.Errorf("disk on fire")
	}}, nil)
	r := pkitest.Request("tls-server", nil)
	_, err := a.Issue(context.Background(), "tester", authority.IssueRequest{Profile: "tls-server", GenerateKey: selo.KeyECDSAP256, Subject: r.Subject, DNSNames: r.DNSNames})
	wantCode(t, err, selo.EINTERNAL)
	if calls != 1 {
		t.Fatalf("%d store calls, want 1: only a serial collision is retried", calls)
	}
	if keys := s.holderKeys(t); len(keys) != 0 {
		t.Fatalf("holder keys %v left after a failed issue", keys)
	}
	wantFailureAudit(t, s.lastAudit(t), "certificate.issue", "profile/tls-server", selo.EINTERNAL)
	if d := details(t, s.lastAudit(t)); strings.Contains(fmt.Sprint(d), "disk on fire") {
		t.Fatalf("the audit log shows internal error details to its readers: %v", d)
	}
}

// TestIssueConcurrently issues from many goroutines at once, through an
// authority whose issuers are not built yet: every certificate gets its own
// serial, is stored, and is audited once, and the audit chain holds.
func TestIssueConcurrently(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, s *stack) {
		ctx := context.Background()
		a := s.with(t, s.Store, nil)
		profiles := []string{"qualified-sign", "advanced-email", "tls-server", "advanced-invoice"}
		const n = 24
		reqs := make([]authority.IssueRequest, n)
		for i := range reqs {
			p := profiles[i%len(profiles)]
			if i%3 == 0 {
				r := pkitest.Request(p, nil)
				reqs[i] = authority.IssueRequest{Profile: p, GenerateKey: selo.KeyECDSAP256, Subject: r.Subject, DNSNames: r.DNSNames, EmailAddresses: r.EmailAddresses}
			} else {
				csr, _ := testenv.CSR(t, p, "ecdsa-p256")
				reqs[i] = authority.IssueRequest{Profile: p, CSR: csr}
			}
		}
		certs := make([]*selo.Certificate, n)
		errs := make([]error, n)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range reqs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				certs[i], errs[i] = a.Issue(ctx, fmt.Sprintf("worker-%d", i), reqs[i])
			}()
		}
		close(start)
		wg.Wait()

		seen := map[string]bool{}
		for i, c := range certs {
			if errs[i] != nil {
				t.Fatalf("issue %d: %v", i, errs[i])
			}
			if seen[c.Serial] {
				t.Fatalf("serial %s issued twice", c.Serial)
			}
			seen[c.Serial] = true
			if leafOf(t, c).SerialNumber.Text(16) != c.Serial {
				t.Fatalf("record %s holds another certificate", c.Serial)
			}
			if got := s.findAudit(t, "certificate.issue", "certificate/"+c.Serial); len(got) != 1 || got[0].Actor != fmt.Sprintf("worker-%d", i) {
				t.Fatalf("certificate %s has %d audit entries, want one by worker-%d", c.Serial, len(got), i)
			}
		}
		if got := len(s.certificates(t, selo.CertificateFilter{})); got != n {
			t.Fatalf("%d certificates stored, want %d", got, n)
		}
		if got := len(s.holderKeys(t)); got != n/3 {
			t.Fatalf("%d holder keys, want %d", got, n/3)
		}
		s.verifyAudit(t)
	})
}

func TestNormalizeSerial(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ in, want string }{
		{"0a1b", "a1b"},
		{"0A:1B", "a1b"},
		{"0x0A1B", "a1b"},
		{"0X1b", "1b"},
		{"00 0a 1b", "a1b"},
		{"7f" + strings.Repeat("ff", 15), "7f" + strings.Repeat("ff", 15)},
		{strings.Repeat("0", 62) + "01", "1"},
	} {
		got, err := authority.NormalizeSerial(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("NormalizeSerial(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	for _, in := range []string{"", "0", "00:00", "0x", "xyz", "0a-1b", "-1", "1x2", "00x12", "0a1g", strings.Repeat("1", 65)} {
		if got, err := authority.NormalizeSerial(in); selo.ErrorCode(err) != selo.EINVALID {
			t.Errorf("NormalizeSerial(%q) = %q, %v; want invalid", in, got, err)
		}
	}
}

func TestFindCertificate(t *testing.T) {
	t.Parallel()
	s := sqliteStack(t, testenv.Options{})
	ctx := context.Background()
	cert := s.issue(t, "tls-server", "ecdsa-p256")
	var colons []string
	for i := 0; i < len(cert.Serial); i += 2 {
		colons = append(colons, strings.ToUpper(cert.Serial[i:min(i+2, len(cert.Serial))]))
	}
	for _, serial := range []string{cert.Serial, strings.ToUpper(cert.Serial), "0x" + cert.Serial, "00" + cert.Serial} {
		got, err := s.A.FindCertificate(ctx, serial)
		if err != nil || got.Serial != cert.Serial {
			t.Fatalf("FindCertificate(%q) = %v, %v", serial, got, err)
		}
	}
	if got, err := s.A.FindCertificate(ctx, strings.Join(colons, ":")); err != nil || got.Serial != cert.Serial {
		t.Fatalf("FindCertificate with colons: %v", err)
	}
	_, err := s.A.FindCertificate(ctx, "0badc0de")
	wantCode(t, err, selo.ENOTFOUND)
	_, err = s.A.FindCertificate(ctx, "not hex")
	wantCode(t, err, selo.EINVALID)

	if _, err := authority.ParsedCertificate(&selo.Certificate{Serial: "1", DER: []byte("garbage")}); err == nil {
		t.Fatal("ParsedCertificate accepted garbage")
	}
}

func TestNew(t *testing.T) {
	t.Parallel()
	st, ks := bare(t)
	profiles := pki.BuiltinProfiles()
	for _, cfg := range []authority.Config{
		{Keys: ks, Profiles: profiles},
		{Store: st, Profiles: profiles},
		{Store: st, Keys: ks},
	} {
		if _, err := authority.New(cfg); err == nil {
			t.Fatalf("New(%+v) accepted a config without store, key store or profiles", cfg)
		}
	}
	a, err := authority.New(authority.Config{Store: st, Keys: ks, Profiles: profiles, Linter: testenv.Linter(t), BaseURL: "https://pki.example.eu//"})
	if err != nil {
		t.Fatal(err)
	}
	if a.Store() != st || len(a.Profiles()) != len(profiles) || len(profiles) != 6 {
		t.Fatal("Store or Profiles do not return what the authority was given")
	}
	if got := a.URLs("ca-1"); got != (pki.IssuerURLs{CRL: "https://pki.example.eu/crl/ca-1.crl", OCSP: "https://pki.example.eu/ocsp", CAIssuers: "https://pki.example.eu/ca/ca-1.crt"}) {
		t.Fatalf("URLs with a trailing slash in the base URL: %+v", got)
	}
	if p, err := a.Profile("tls-server"); err != nil || p.Name != "tls-server" {
		t.Fatalf("Profile(tls-server) = %v, %v", p, err)
	}
	_, err = a.Profile("nope")
	wantCode(t, err, selo.ENOTFOUND)
}

// TestIssueReservedSerial: a request with a reserved serial gets exactly that
// serial; retrying it returns the same certificate instead of a second one;
// another key under the same serial is refused; and a public key with a
// key store ID is recorded and never deleted on failure.
func TestIssueReservedSerial(t *testing.T) {
	env := testenv.New(t)
	ctx := context.Background()
	key := pkitest.NewKey(t, "ecdsa-p256")
	preq := pkitest.Request("qualified-seal", key.Public())
	serial := big.NewInt(0x1234567890abcdef)
	req := authority.IssueRequest{Profile: "qualified-seal", PublicKey: key.Public(), Subject: preq.Subject, Serial: serial, KeyID: "order/o1"}
	first, err := env.Authority.Issue(ctx, "test", req)
	if err != nil {
		t.Fatal(err)
	}
	if first.Serial != "1234567890abcdef" || first.KeyID != "order/o1" {
		t.Fatalf("issued serial %s key %q", first.Serial, first.KeyID)
	}
	again, err := env.Authority.Issue(ctx, "test", req)
	if err != nil {
		t.Fatal(err)
	}
	if again.Serial != first.Serial || !bytes.Equal(again.DER, first.DER) {
		t.Fatal("a retried issuance with a reserved serial made a second certificate")
	}
	other := pkitest.NewKey(t, "ecdsa-p256")
	req.PublicKey = other.Public()
	if _, err := env.Authority.Issue(ctx, "test", req); selo.ErrorCode(err) != selo.ECONFLICT {
		t.Fatalf("another key under a taken serial: %v, want ECONFLICT", err)
	}
	certs, err := env.Store.ListCertificates(ctx, selo.CertificateFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(certs) != 1 {
		t.Fatalf("%d certificates stored, want 1", len(certs))
	}
	if _, err := env.Authority.Issue(ctx, "test", authority.IssueRequest{Profile: "qualified-seal", GenerateKey: selo.KeyECDSAP256, Serial: big.NewInt(7)}); selo.ErrorCode(err) != selo.EINVALID {
		t.Fatalf("generated key with reserved serial: %v, want EINVALID", err)
	}
}
