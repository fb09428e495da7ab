package testenv_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"testing"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/authority"
	"github.com/selo-qtsp/selo/internal/testenv"
)

// TestNew checks the environment other packages rely on: the hierarchy, its
// key types, the API key and issuance for every built-in profile.
func TestNew(t *testing.T) {
	env := testenv.New(t)
	ctx := context.Background()

	parse := func(ca *selo.CA) *x509.Certificate {
		t.Helper()
		c, err := x509.ParseCertificate(ca.CertDER)
		if err != nil {
			t.Fatalf("CA %s: %v", ca.ID, err)
		}
		return c
	}
	root, qualified, tls := parse(env.Root), parse(env.Qualified), parse(env.TLS)
	curve := func(c *x509.Certificate) elliptic.Curve {
		if k, ok := c.PublicKey.(*ecdsa.PublicKey); ok {
			return k.Curve
		}
		return nil
	}
	if curve(root) != elliptic.P384() || curve(qualified) != elliptic.P256() {
		t.Fatal("root must be P-384 and the qualified CA P-256")
	}
	if k, ok := tls.PublicKey.(*rsa.PublicKey); !ok || k.N.BitLen() != 3072 {
		t.Fatal("TLS CA must be RSA 3072")
	}
	if env.Root.ID != testenv.RootID || env.Qualified.ParentID != testenv.RootID || env.TLS.ParentID != testenv.RootID {
		t.Fatal("hierarchy IDs")
	}

	key, err := env.Authority.AuthenticateAPIKey(ctx, env.APIKey)
	if err != nil || key.Name != testenv.APIKeyName {
		t.Fatalf("API key: %v %+v", err, key)
	}

	for _, tt := range []struct{ profile, key, ca string }{
		{"qualified-sign", "ecdsa-p256", testenv.QualifiedID},
		{"qualified-seal", "ecdsa-p384", testenv.QualifiedID},
		{"advanced-invoice", "rsa-3072", testenv.QualifiedID},
		{"advanced-email", "ecdsa-p256", testenv.QualifiedID},
		{"tls-server", "rsa-2048", testenv.TLSID},
	} {
		cert := env.Issue(t, tt.profile, tt.key)
		if cert.CAID != tt.ca {
			t.Fatalf("%s issued by %s, want %s", tt.profile, cert.CAID, tt.ca)
		}
		leaf, err := authority.ParsedCertificate(cert)
		if err != nil {
			t.Fatal(err)
		}
		chain, err := env.Authority.Chain(ctx, cert.CAID)
		if err != nil {
			t.Fatal(err)
		}
		roots, inter := x509.NewCertPool(), x509.NewCertPool()
		roots.AddCert(root)
		inter.AddCert(chain[0])
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
			t.Fatalf("%s does not verify: %v", tt.profile, err)
		}
	}

	if n, problem, err := env.Authority.VerifyAudit(ctx); err != nil || problem != nil || n == 0 {
		t.Fatalf("audit: %d entries, %+v, %v", n, problem, err)
	}
}
