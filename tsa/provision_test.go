package tsa_test

import (
	"context"
	"crypto"
	"crypto/x509"
	"strings"
	"testing"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/internal/testenv"
	"github.com/selo-qtsp/selo/tsa"
)

func TestProvisionAndLoad(t *testing.T) {
	env := testenv.New(t)
	ctx := context.Background()
	p := &tsa.Provisioner{Store: env.Store, Keys: env.Keys, Linter: env.Linter, Clock: env.Clock}
	rec, err := p.Issue(ctx, tsa.IssueOptions{CAID: testenv.QualifiedID, URLs: env.Authority.URLs(testenv.QualifiedID), Actor: "cli:test"})
	if err != nil {
		t.Fatalf("issue: %v", err)
	}
	cert, _ := x509.ParseCertificate(rec.DER)
	if err := tsa.CheckCertificate(cert); err != nil {
		t.Fatal(err)
	}
	if cert.Subject.CommonName != "Selo Test Trust Services TSA" || rec.Profile != tsa.ProfileName {
		t.Fatalf("subject %q profile %q", cert.Subject, rec.Profile)
	}
	// The key is in the key store and never exportable.
	if _, err := env.Keys.ExportKey(ctx, rec.KeyID); selo.ErrorCode(err) != selo.EFORBIDDEN {
		t.Fatalf("export TSA key: %v", err)
	}
	// The issuance is in the audit log.
	entries, err := env.Store.ListAudit(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, e := range entries {
		if e.Action == "tsa-certificate.issue" && e.Outcome == selo.OutcomeSuccess && strings.Contains(e.Object, rec.Serial) {
			found = true
			if strings.Contains(e.Details, "PRIVATE") {
				t.Fatal("audit details hold key material")
			}
		}
	}
	if !found {
		t.Fatal("no audit entry for the TSA certificate")
	}
	chain, err := env.Authority.Chain(ctx, testenv.QualifiedID)
	if err != nil {
		t.Fatal(err)
	}
	r, err := tsa.Load(ctx, env.Store, env.Keys, rec.Serial, chain, tsa.Config{})
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	digest := make([]byte, 32)
	token, err := r.Timestamp(ctx, crypto.SHA256, digest)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := tsa.ParseToken(token)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	rootCert, _ := x509.ParseCertificate(env.Root.CertDER)
	roots.AddCert(rootCert)
	if _, err := tok.Verify(crypto.SHA256, digest, tsa.VerifyOptions{Roots: roots}); err != nil {
		t.Fatalf("verify token: %v", err)
	}
}

func TestProvisionRefusals(t *testing.T) {
	env := testenv.New(t)
	ctx := context.Background()
	p := &tsa.Provisioner{Store: env.Store, Keys: env.Keys, Linter: env.Linter}
	for name, opts := range map[string]tsa.IssueOptions{
		"root":    {CAID: testenv.RootID, URLs: env.Authority.URLs(testenv.RootID)},
		"unknown": {CAID: "nope", URLs: env.Authority.URLs("nope")},
		"long cn": {CAID: testenv.QualifiedID, URLs: env.Authority.URLs(testenv.QualifiedID), CommonName: strings.Repeat("x", 65)},
	} {
		if _, err := p.Issue(ctx, opts); err == nil {
			t.Errorf("%s: issued", name)
		}
	}
	entries, _ := env.Store.ListAudit(ctx, 0, 1000)
	failures := 0
	for _, e := range entries {
		if e.Action == "tsa-certificate.issue" && e.Outcome == selo.OutcomeFailure {
			failures++
		}
	}
	if failures != 3 {
		t.Fatalf("%d failure entries, want 3", failures)
	}
	// An ordinary certificate cannot be loaded as the TSA.
	c := env.Issue(t, "advanced-invoice", "ecdsa-p256")
	if _, err := tsa.Load(ctx, env.Store, env.Keys, c.Serial, nil, tsa.Config{}); selo.ErrorCode(err) != selo.EINVALID {
		t.Fatalf("load ordinary certificate: %v", err)
	}
}
