package tsa_test

import (
	"context"
	"crypto"
	"crypto/x509"
	"testing"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/authority"
	"github.com/selo-qtsp/selo/internal/testenv"
	"github.com/selo-qtsp/selo/pki/timestamp"
	"github.com/selo-qtsp/selo/tsa"
)

// TestIssueAndLoad: a TSA certificate issued through the authority loads as
// a responder whose tokens verify to the CA's root.
func TestIssueAndLoad(t *testing.T) {
	env := testenv.New(t)
	ctx := context.Background()
	rec, err := env.Authority.IssueTimestamping(ctx, "cli:test", authority.TimestampingRequest{CAID: testenv.QualifiedID})
	if err != nil {
		t.Fatalf("issue: %v", err)
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
	tok, err := timestamp.ParseToken(token)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	rootCert, _ := x509.ParseCertificate(env.Root.CertDER)
	roots.AddCert(rootCert)
	if _, err := tok.Verify(crypto.SHA256, digest, timestamp.VerifyOptions{Roots: roots}); err != nil {
		t.Fatalf("verify token: %v", err)
	}
}

func TestLoadRefusesOrdinaryCertificate(t *testing.T) {
	env := testenv.New(t)
	// An ordinary certificate cannot be loaded as the TSA.
	c := env.Issue(t, "advanced-invoice", "ecdsa-p256")
	if _, err := tsa.Load(context.Background(), env.Store, env.Keys, c.Serial, nil, tsa.Config{}); selo.ErrorCode(err) != selo.EINVALID {
		t.Fatalf("load ordinary certificate: %v", err)
	}
}
