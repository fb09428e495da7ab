package authority_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/authority"
	"github.com/selo-qtsp/selo/internal/testenv"
	"github.com/selo-qtsp/selo/pki"
)

// keyAlgorithmOf names the selo.KeyAlgorithm of a public key.
func keyAlgorithmOf(pub crypto.PublicKey) selo.KeyAlgorithm {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return selo.KeyECDSAP256
		case elliptic.P384():
			return selo.KeyECDSAP384
		}
	case *rsa.PublicKey:
		switch k.N.BitLen() {
		case 2048:
			return selo.KeyRSA2048
		case 3072:
			return selo.KeyRSA3072
		case 4096:
			return selo.KeyRSA4096
		}
	}
	return ""
}

// TestCreateCA makes roots and subordinates of each CA key type and checks
// the certificates, records, keys and audit entries, then issues under each
// subordinate.
func TestCreateCA(t *testing.T) {
	t.Parallel()
	s := sqliteStack(t, testenv.Options{})
	ctx := context.Background()
	for _, tt := range []struct {
		id, parent string
		alg        selo.KeyAlgorithm
		policies   []string
	}{
		{id: "root-p256", alg: selo.KeyECDSAP256},
		{id: "root-p384", alg: selo.KeyECDSAP384},
		{id: "root-rsa3072", alg: selo.KeyRSA3072},
		{id: "sub-p256", parent: testenv.RootID, alg: selo.KeyECDSAP256},
		{id: "sub-p384", parent: testenv.RootID, alg: selo.KeyECDSAP384},
		{id: "sub-rsa3072", parent: testenv.RootID, alg: selo.KeyRSA3072},
		{id: "sub-p256-of-rsa-root", parent: "root-rsa3072", alg: selo.KeyECDSAP256},
		{id: "sub-p384-of-p256-root", parent: "root-p256", alg: selo.KeyECDSAP384},
		{id: "sub-with-policy", parent: "root-p384", alg: selo.KeyECDSAP256, policies: []string{"0.4.0.194112.1.2", "0.4.0.194112.1.3"}},
	} {
		t.Run(tt.id, func(t *testing.T) {
			days := 3000
			if tt.parent == "" {
				days = 5000
			}
			before := time.Now()
			ca, err := s.A.CreateCA(ctx, "operator", authority.CreateCAOptions{
				ID: tt.id, Name: "Test CA " + tt.id, Organization: "Selo Test", Country: "PT",
				ParentID: tt.parent, KeyAlgorithm: tt.alg, ValidityDays: days, Policies: tt.policies,
			})
			if err != nil {
				t.Fatalf("CreateCA: %v", err)
			}
			if ca.ID != tt.id || ca.Name != "Test CA "+tt.id || ca.ParentID != tt.parent || ca.KeyID != "ca/"+tt.id ||
				ca.KeyAlgorithm != tt.alg || ca.Status != selo.CAActive || ca.IsRoot() != (tt.parent == "") || ca.CreatedAt.Before(before.Add(-time.Second)) {
				t.Fatalf("CA record %+v", ca)
			}
			stored, err := s.Store.FindCA(ctx, tt.id)
			if err != nil || !bytes.Equal(stored.CertDER, ca.CertDER) || stored.KeyID != ca.KeyID || stored.ParentID != tt.parent || stored.Status != selo.CAActive {
				t.Fatalf("stored CA %+v, %v", stored, err)
			}

			cert := caCert(t, ca)
			if !cert.IsCA || !cert.BasicConstraintsValid || cert.KeyUsage&(x509.KeyUsageCertSign|x509.KeyUsageCRLSign) != x509.KeyUsageCertSign|x509.KeyUsageCRLSign {
				t.Fatalf("not a CA certificate: IsCA %v, key usage %b", cert.IsCA, cert.KeyUsage)
			}
			if cert.Subject.CommonName != ca.Name || !slices.Equal(cert.Subject.Organization, []string{"Selo Test"}) || !slices.Equal(cert.Subject.Country, []string{"PT"}) {
				t.Fatalf("subject %s", cert.Subject)
			}
			if got := cert.NotAfter.Sub(cert.NotBefore); got != time.Duration(days)*24*time.Hour-time.Second {
				t.Fatalf("validity %v, want %d days", got, days)
			}
			if cert.SerialNumber.BitLen() < 64 {
				t.Fatalf("serial of %d bits", cert.SerialNumber.BitLen())
			}
			if got := keyAlgorithmOf(cert.PublicKey); got != tt.alg {
				t.Fatalf("key is %s, want %s", got, tt.alg)
			}
			signer, err := s.Keys.Signer(ctx, ca.KeyID)
			if err != nil || !samePublicKey(signer.Public(), cert.PublicKey) {
				t.Fatalf("the key store does not hold the key of the certificate: %v", err)
			}
			_, err = s.Keys.ExportKey(ctx, ca.KeyID)
			wantCode(t, err, selo.EFORBIDDEN)
			for _, p := range tt.policies {
				if !hasPolicy(t, cert, p) {
					t.Fatalf("CA certificate lacks policy %s", p)
				}
			}

			chain, err := s.A.Chain(ctx, tt.id)
			if err != nil {
				t.Fatal(err)
			}
			if tt.parent == "" {
				if len(chain) != 1 || !chain[0].Equal(cert) {
					t.Fatalf("chain of a root has %d certificates", len(chain))
				}
				if err := cert.CheckSignatureFrom(cert); err != nil {
					t.Fatalf("root is not self-signed: %v", err)
				}
				if cert.MaxPathLen != -1 || cert.MaxPathLenZero || len(cert.CRLDistributionPoints) != 0 || len(cert.IssuingCertificateURL) != 0 {
					t.Fatalf("root path length %d (zero %v), CRL DP %v, AIA %v", cert.MaxPathLen, cert.MaxPathLenZero, cert.CRLDistributionPoints, cert.IssuingCertificateURL)
				}
			} else {
				parentCA, err := s.Store.FindCA(ctx, tt.parent)
				if err != nil {
					t.Fatal(err)
				}
				parent := caCert(t, parentCA)
				if len(chain) != 2 || !chain[0].Equal(cert) || !chain[1].Equal(parent) {
					t.Fatalf("chain of %s is not [%s, %s]", tt.id, tt.id, tt.parent)
				}
				if err := cert.CheckSignatureFrom(parent); err != nil {
					t.Fatalf("not signed by the parent: %v", err)
				}
				if !bytes.Equal(cert.AuthorityKeyId, parent.SubjectKeyId) {
					t.Fatal("authority key identifier is not the parent's subject key identifier")
				}
				if cert.MaxPathLen != 0 || !cert.MaxPathLenZero {
					t.Fatalf("an issuing CA must have path length 0, has %d", cert.MaxPathLen)
				}
				if !slices.Equal(cert.CRLDistributionPoints, []string{testenv.BaseURL + "/crl/" + tt.parent + ".crl"}) ||
					!slices.Equal(cert.IssuingCertificateURL, []string{testenv.BaseURL + "/ca/" + tt.parent + ".crt"}) ||
					!slices.Equal(cert.OCSPServer, []string{testenv.BaseURL + "/ocsp"}) {
					t.Fatalf("subordinate URLs: CRL %v, AIA %v, OCSP %v", cert.CRLDistributionPoints, cert.IssuingCertificateURL, cert.OCSPServer)
				}
				verifyChain(t, cert, chain[1:], time.Now())
				opensslVerify(t, cert, chain[1:])

				// The new CA issues, and what it issues verifies.
				csr, _ := testenv.CSR(t, "advanced-invoice", "ecdsa-p256")
				issued, err := s.A.Issue(ctx, "tester", authority.IssueRequest{Profile: "advanced-invoice", CAID: tt.id, CSR: csr})
				if err != nil {
					t.Fatalf("issue under %s: %v", tt.id, err)
				}
				leaf := leafOf(t, issued)
				verifyChain(t, leaf, chain, time.Now())
				opensslVerify(t, leaf, chain)
			}

			gen := s.findAudit(t, "key.generate", "key/ca/"+tt.id)
			created := s.findAudit(t, "ca.create", "ca/"+tt.id)
			if len(gen) != 1 || len(created) != 1 || gen[0].Seq > created[0].Seq || created[0].Outcome != selo.OutcomeSuccess || created[0].Actor != "operator" {
				t.Fatalf("audit: %d key.generate and %d ca.create entries, want one of each, in that order", len(gen), len(created))
			}
			if d := details(t, gen[0]); d["algorithm"] != string(tt.alg) || d["purpose"] != "ca" {
				t.Fatalf("key.generate details %s", gen[0].Details)
			}
			if d := details(t, created[0]); d["parent"] != tt.parent || d["serial"] != pki.SerialHex(cert.SerialNumber) || d["algorithm"] != string(tt.alg) {
				t.Fatalf("ca.create details %s", created[0].Details)
			}
		})
	}
	s.verifyAudit(t)
}

// TestCreateCARefusals checks each refusal: its code, a failure audit entry,
// no CA row and no key left behind, so the ID can be used again.
func TestCreateCARefusals(t *testing.T) {
	t.Parallel()
	s := sqliteStack(t, testenv.Options{})
	ctx := context.Background()
	valid := func(id string) authority.CreateCAOptions {
		return authority.CreateCAOptions{ID: id, Name: "CA " + id, ParentID: testenv.RootID, KeyAlgorithm: selo.KeyECDSAP256, ValidityDays: 365}
	}
	change := func(id string, f func(*authority.CreateCAOptions)) authority.CreateCAOptions {
		o := valid(id)
		f(&o)
		return o
	}
	for _, tt := range []struct {
		name string
		opts authority.CreateCAOptions
		code string
	}{
		{"upper-case id", valid("Bad-ID"), selo.EINVALID},
		{"empty id", valid(""), selo.EINVALID},
		{"id with a slash", valid("a/b"), selo.EINVALID},
		{"id starting with a dash", valid("-ca"), selo.EINVALID},
		{"id of 64 characters", valid(strings.Repeat("a", 64)), selo.EINVALID},
		{"no name", change("no-name", func(o *authority.CreateCAOptions) { o.Name = "" }), selo.EINVALID},
		{"unknown key type", change("dsa", func(o *authority.CreateCAOptions) { o.KeyAlgorithm = "dsa-1024" }), selo.EINVALID},
		{"RSA 2048 CA key", change("rsa-2048", func(o *authority.CreateCAOptions) { o.KeyAlgorithm = selo.KeyRSA2048 }), selo.EINVALID},
		{"zero validity", change("zero-days", func(o *authority.CreateCAOptions) { o.ValidityDays = 0 }), selo.EINVALID},
		{"negative validity", change("negative-days", func(o *authority.CreateCAOptions) { o.ValidityDays = -5 }), selo.EINVALID},
		{"three-letter country", change("prt", func(o *authority.CreateCAOptions) { o.Country = "PRT" }), selo.EINVALID},
		{"duplicate id", change(testenv.QualifiedID, func(o *authority.CreateCAOptions) {}), selo.ECONFLICT},
		{"unknown parent", change("orphan", func(o *authority.CreateCAOptions) { o.ParentID = "no-such-ca" }), selo.ENOTFOUND},
		// Refused by pki after the key was generated: the key must go.
		{"lower-case country", change("lower-country", func(o *authority.CreateCAOptions) { o.Country = "pt" }), selo.EINVALID},
		{"validity beyond 25 years", change("too-long", func(o *authority.CreateCAOptions) { o.ParentID, o.ValidityDays = "", 10000 }), selo.EINVALID},
		{"validity beyond the parent's", change("outlives-parent", func(o *authority.CreateCAOptions) { o.ValidityDays = 9100 }), selo.EINVALID},
		{"parent with path length 0", change("grandchild", func(o *authority.CreateCAOptions) { o.ParentID = testenv.QualifiedID }), selo.EINVALID},
		{"TLS CA without organization and country (lint)", change("tls-anonymous", func(o *authority.CreateCAOptions) { o.Policies = []string{"2.23.140.1.2.1"} }), selo.EINVALID},
		{"policy that is not an oid", change("bad-policy", func(o *authority.CreateCAOptions) { o.Policies = []string{"qualified"} }), selo.EINVALID},
	} {
		t.Run(tt.name, func(t *testing.T) {
			casBefore, err := s.Store.ListCAs(ctx)
			if err != nil {
				t.Fatal(err)
			}
			ca, err := s.A.CreateCA(ctx, "operator", tt.opts)
			if ca != nil {
				t.Fatalf("CreateCA returned CA %s", ca.ID)
			}
			wantCode(t, err, tt.code)
			wantFailureAudit(t, s.lastAudit(t), "ca.create", "ca/"+tt.opts.ID, tt.code)
			if cas, _ := s.Store.ListCAs(ctx); len(cas) != len(casBefore) {
				t.Fatalf("%d CAs after a refusal, want %d", len(cas), len(casBefore))
			}
			if tt.code == selo.ECONFLICT {
				// The existing CA and its key are untouched.
				if _, err := s.Keys.Signer(ctx, "ca/"+tt.opts.ID); err != nil {
					t.Fatalf("a refused duplicate removed the key of the existing CA: %v", err)
				}
				s.issue(t, "qualified-seal", "ecdsa-p256")
				return
			}
			if _, err := s.Keys.Signer(ctx, "ca/"+tt.opts.ID); err == nil {
				t.Fatalf("a refused CA left its key ca/%s in the key store", tt.opts.ID)
			}
		})
	}

	// An ID whose creation failed after its key was made can be used again.
	if _, err := s.A.CreateCA(ctx, "operator", valid("too-long")); err != nil {
		t.Fatalf("the ID of a refused CA cannot be used again: %v", err)
	}
	s.verifyAudit(t)
}

// TestCreateCAAuditFailureRemovesKey makes the store refuse the key.generate
// audit entry: the CA is not created and its key does not stay behind.
func TestCreateCAAuditFailureRemovesKey(t *testing.T) {
	t.Parallel()
	s := sqliteStack(t, testenv.Options{})
	ctx := context.Background()
	a := s.with(t, &hookStore{Store: s.Store, appendAudit: func(ctx context.Context, next selo.Store, e *selo.AuditEntry) error {
		if e.Action == "key.generate" {
			return errors.New("audit log unavailable")
		}
		return next.AppendAudit(ctx, e)
	}}, nil)
	opts := authority.CreateCAOptions{ID: "audit-less", Name: "Audit-less CA", ParentID: testenv.RootID, KeyAlgorithm: selo.KeyECDSAP256, ValidityDays: 365}
	_, err := a.CreateCA(ctx, "operator", opts)
	wantCode(t, err, selo.EINTERNAL)
	if _, err := s.Store.FindCA(ctx, opts.ID); selo.ErrorCode(err) != selo.ENOTFOUND {
		t.Fatalf("FindCA after a failed create: %v", err)
	}
	if _, err := s.Keys.Signer(ctx, "ca/"+opts.ID); selo.ErrorCode(err) != selo.ENOTFOUND {
		t.Fatalf("the key of a CA whose key generation could not be audited stayed in the key store: %v", err)
	}
	if _, err := s.A.CreateCA(ctx, "operator", opts); err != nil {
		t.Fatalf("the ID cannot be used again: %v", err)
	}
}

// TestRetireCA checks that a retired CA issues nothing, certifies no new CA,
// keeps what it issued, and that retiring is idempotent and audited.
func TestRetireCA(t *testing.T) {
	t.Parallel()
	s := sqliteStack(t, testenv.Options{})
	ctx := context.Background()
	before := s.issue(t, "qualified-sign", "ecdsa-p256")

	ca, err := s.A.RetireCA(ctx, "operator", testenv.QualifiedID)
	if err != nil || ca.Status != selo.CARetired {
		t.Fatalf("RetireCA = %+v, %v", ca, err)
	}
	if stored, err := s.Store.FindCA(ctx, testenv.QualifiedID); err != nil || stored.Status != selo.CARetired {
		t.Fatalf("stored status after RetireCA: %+v, %v", stored, err)
	}
	retire := s.findAudit(t, "ca.retire", "ca/"+testenv.QualifiedID)
	if len(retire) != 1 || retire[0].Outcome != selo.OutcomeSuccess || retire[0].Actor != "operator" {
		t.Fatalf("%d ca.retire entries", len(retire))
	}

	certs := len(s.certificates(t, selo.CertificateFilter{}))
	for _, req := range []authority.IssueRequest{
		{Profile: "qualified-sign"},
		{Profile: "advanced-invoice", CAID: testenv.QualifiedID},
	} {
		req.CSR, _ = testenv.CSR(t, req.Profile, "ecdsa-p256")
		_, err := s.A.Issue(ctx, "tester", req)
		wantCode(t, err, selo.EINVALID)
		if !strings.Contains(selo.ErrorMessage(err), "retired") {
			t.Fatalf("message %q does not say the CA is retired", selo.ErrorMessage(err))
		}
		wantFailureAudit(t, s.lastAudit(t), "certificate.issue", "profile/"+req.Profile, selo.EINVALID)
	}
	if n := len(s.certificates(t, selo.CertificateFilter{})); n != certs {
		t.Fatalf("a retired CA issued: %d certificates, want %d", n, certs)
	}
	// Other CAs go on issuing; what the retired CA issued is still valid.
	s.issue(t, "tls-server", "ecdsa-p256")
	if c, err := s.A.FindCertificate(ctx, before.Serial); err != nil || c.Status != selo.CertValid {
		t.Fatalf("certificate of the retired CA: %+v, %v", c, err)
	}
	if _, err := s.A.Chain(ctx, testenv.QualifiedID); err != nil {
		t.Fatalf("the chain of a retired CA is still served: %v", err)
	}

	// Retiring again changes nothing and writes nothing.
	entries := len(s.audit(t))
	if ca, err := s.A.RetireCA(ctx, "operator", testenv.QualifiedID); err != nil || ca.Status != selo.CARetired {
		t.Fatalf("second RetireCA = %+v, %v", ca, err)
	}
	if n := len(s.audit(t)); n != entries {
		t.Fatalf("retiring a retired CA wrote %d audit entries", n-entries)
	}

	_, err = s.A.RetireCA(ctx, "operator", "no-such-ca")
	wantCode(t, err, selo.ENOTFOUND)
	wantFailureAudit(t, s.lastAudit(t), "ca.retire", "ca/no-such-ca", selo.ENOTFOUND)

	// A retired root certifies no new CA, and its key stays.
	if _, err := s.A.RetireCA(ctx, "operator", testenv.RootID); err != nil {
		t.Fatal(err)
	}
	_, err = s.A.CreateCA(ctx, "operator", authority.CreateCAOptions{ID: "late-child", Name: "Late child", ParentID: testenv.RootID, KeyAlgorithm: selo.KeyECDSAP256, ValidityDays: 365})
	wantCode(t, err, selo.EINVALID)
	if _, err := s.Keys.Signer(ctx, "ca/late-child"); err == nil {
		t.Fatal("a refused CA left its key")
	}
	s.verifyAudit(t)
}

// TestChain checks the order of Chain and that it stops on a looping or
// broken hierarchy instead of walking forever.
func TestChain(t *testing.T) {
	t.Parallel()
	s := sqliteStack(t, testenv.Options{})
	ctx := context.Background()
	chain, err := s.A.Chain(ctx, testenv.TLSID)
	if err != nil {
		t.Fatal(err)
	}
	if len(chain) != 2 || !chain[0].Equal(caCert(t, s.TLS)) || !chain[1].Equal(caCert(t, s.Root)) {
		t.Fatal("Chain(tls) is not [tls, root]")
	}
	if chain, err := s.A.Chain(ctx, testenv.RootID); err != nil || len(chain) != 1 || !chain[0].Equal(caCert(t, s.Root)) {
		t.Fatalf("Chain(root) = %d certificates, %v", len(chain), err)
	}
	_, err = s.A.Chain(ctx, "no-such-ca")
	wantCode(t, err, selo.ENOTFOUND)

	// Made behind the store's back: the root names the qualified CA as parent.
	s.exec(t, `UPDATE cas SET parent_id = $1 WHERE id = $2`, testenv.QualifiedID, testenv.RootID)
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if chain, err := s.A.Chain(ctx, testenv.QualifiedID); err == nil || !strings.Contains(err.Error(), "loop") {
		t.Fatalf("Chain over a loop = %d certificates, %v; want a loop error", len(chain), err)
	}
	s.exec(t, `UPDATE cas SET parent_id = NULL, cert_der = $1 WHERE id = $2`, []byte("not a certificate"), testenv.RootID)
	if _, err := s.A.Chain(ctx, testenv.QualifiedID); err == nil {
		t.Fatal("Chain returned a chain with an unparseable certificate")
	}
}
