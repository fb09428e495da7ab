package authority_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"software.sslmate.com/src/go-pkcs12"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/authority"
	"github.com/selo-qtsp/selo/internal/testenv"
	"github.com/selo-qtsp/selo/pki/pkitest"
)

// TestPFXGeneratedKey exports the key Selo generated for a holder and reads
// the .pfx back with openssl and go-pkcs12.
func TestPFXGeneratedKey(t *testing.T) {
	t.Parallel()
	s := sqliteStack(t, testenv.Options{})
	ctx := context.Background()
	r := pkitest.Request("qualified-seal", nil)
	cert, err := s.A.Issue(ctx, "tester", authority.IssueRequest{Profile: "qualified-seal", GenerateKey: selo.KeyECDSAP256, Subject: r.Subject})
	if err != nil {
		t.Fatal(err)
	}
	leaf := leafOf(t, cert)
	const password = "correct horse battery"
	pfx, err := s.A.PFX(ctx, "holder:ana", cert.Serial, nil, password)
	if err != nil {
		t.Fatalf("PFX: %v", err)
	}
	entries := s.findAudit(t, "key.export", "certificate/"+cert.Serial)
	if len(entries) != 1 || entries[0].Outcome != selo.OutcomeSuccess || entries[0].Actor != "holder:ana" {
		t.Fatalf("%d key.export audit entries", len(entries))
	}
	if d := details(t, entries[0]); d["key_id"] != cert.KeyID || d["format"] != "pkcs12" {
		t.Fatalf("key.export details %s", entries[0].Details)
	}
	if strings.Contains(entries[0].Details, password) {
		t.Fatal("the audit log holds the .pfx password")
	}

	key, got, chain, err := pkcs12.DecodeChain(pfx, password)
	if err != nil {
		t.Fatalf("go-pkcs12 cannot read the .pfx: %v", err)
	}
	if !got.Equal(leaf) || len(chain) != 2 || !chain[0].Equal(caCert(t, s.Qualified)) || !chain[1].Equal(caCert(t, s.Root)) {
		t.Fatalf("the .pfx holds the wrong certificates (%d CA certificates)", len(chain))
	}
	if signer, ok := key.(crypto.Signer); !ok || !samePublicKey(signer.Public(), leaf.PublicKey) {
		t.Fatal("the key in the .pfx does not match the certificate")
	}
	if _, _, _, err := pkcs12.DecodeChain(pfx, "wrong password!"); err == nil {
		t.Fatal("go-pkcs12 read the .pfx with a wrong password")
	}

	bin := requireOpenSSL(t)
	file := filepath.Join(t.TempDir(), "backup.pfx")
	if err := os.WriteFile(file, pfx, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "pkcs12", "-info", "-nokeys", "-in", file, "-passin", "pass:"+password).CombinedOutput()
	if err != nil {
		t.Fatalf("openssl pkcs12 -info with the right password: %v\n%s", err, out)
	}
	if n := strings.Count(string(out), "-----BEGIN CERTIFICATE-----"); n != 3 {
		t.Fatalf("openssl found %d certificates in the .pfx, want 3 (leaf, issuing CA, root)\n%s", n, out)
	}
	for _, cn := range []string{leaf.Subject.CommonName, caCert(t, s.Qualified).Subject.CommonName, caCert(t, s.Root).Subject.CommonName} {
		if !strings.Contains(string(out), cn) {
			t.Fatalf("openssl output does not name %q\n%s", cn, out)
		}
	}
	if out, err := exec.Command(bin, "pkcs12", "-info", "-nokeys", "-in", file, "-passin", "pass:wrong password!").CombinedOutput(); err == nil {
		t.Fatalf("openssl read the .pfx with a wrong password\n%s", out)
	}

	out, err = exec.Command(bin, "pkcs12", "-in", file, "-nocerts", "-nodes", "-passin", "pass:"+password).Output()
	if err != nil {
		t.Fatalf("openssl pkcs12 -nocerts: %v", err)
	}
	block, _ := pem.Decode(out[strings.Index(string(out), "-----BEGIN"):])
	if block == nil || block.Type != "PRIVATE KEY" {
		t.Fatalf("openssl gave no private key:\n%s", out)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if !samePublicKey(k.(crypto.Signer).Public(), leaf.PublicKey) {
		t.Fatal("the key openssl reads from the .pfx does not match the certificate")
	}
}

// TestPFXRefusals checks passwords, keys and serials a .pfx is refused for.
func TestPFXRefusals(t *testing.T) {
	t.Parallel()
	s := sqliteStack(t, testenv.Options{})
	ctx := context.Background()
	r := pkitest.Request("tls-server", nil)
	generated, err := s.A.Issue(ctx, "tester", authority.IssueRequest{Profile: "tls-server", GenerateKey: selo.KeyECDSAP256, Subject: r.Subject, DNSNames: r.DNSNames})
	if err != nil {
		t.Fatal(err)
	}
	csr, csrKey := testenv.CSR(t, "tls-server", "ecdsa-p256")
	fromCSR, err := s.A.Issue(ctx, "tester", authority.IssueRequest{Profile: "tls-server", CSR: csr})
	if err != nil {
		t.Fatal(err)
	}
	otherEC, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	otherRSA, _ := rsa.GenerateKey(rand.Reader, 2048)

	for _, tt := range []struct {
		name     string
		serial   string
		key      crypto.PrivateKey
		password string
		code     string
	}{
		{"empty password", generated.Serial, nil, "", selo.EINVALID},
		{"7-character password", generated.Serial, nil, "1234567", selo.EINVALID},
		// 4 characters in 8 bytes: the rule counts characters.
		{"short password in multi-byte characters", generated.Serial, nil, "çãõ§", selo.EINVALID},
		{"unknown serial", "0badc0de", nil, "long enough password", selo.ENOTFOUND},
		{"key Selo does not hold", fromCSR.Serial, nil, "long enough password", selo.EINVALID},
		{"another key of the same type", fromCSR.Serial, otherEC, "long enough password", selo.EINVALID},
		{"a key of another type", fromCSR.Serial, otherRSA, "long enough password", selo.EINVALID},
		{"a key that is not a signer", fromCSR.Serial, "not a key", "long enough password", selo.EINVALID},
	} {
		t.Run(tt.name, func(t *testing.T) {
			pfx, err := s.A.PFX(ctx, "holder:ana", tt.serial, tt.key, tt.password)
			if pfx != nil {
				t.Fatal("PFX returned data")
			}
			wantCode(t, err, tt.code)
			wantFailureAudit(t, s.lastAudit(t), "key.export", "certificate/"+tt.serial, tt.code)
			if tt.password != "" && strings.Contains(s.lastAudit(t).Details, tt.password) {
				t.Fatal("the audit log holds the password")
			}
		})
	}

	// Eight characters is enough; the holder's own key goes in a .pfx too.
	if _, err := s.A.PFX(ctx, "holder:ana", generated.Serial, nil, "12345678"); err != nil {
		t.Fatalf("an 8-character password: %v", err)
	}
	pfx, err := s.A.PFX(ctx, "holder:ana", strings.ToUpper(fromCSR.Serial), csrKey, "long enough password")
	if err != nil {
		t.Fatalf("PFX with the holder's own key: %v", err)
	}
	if key, leaf, _, err := pkcs12.DecodeChain(pfx, "long enough password"); err != nil || !leaf.Equal(leafOf(t, fromCSR)) || !samePublicKey(key.(crypto.Signer).Public(), csrKey.Public()) {
		t.Fatalf("the .pfx of the holder's own key: %v", err)
	}
}

// TestPFXAfterReissue exports the key of a re-issued certificate with the new
// CA's chain: the re-issue keeps the holder's key.
func TestPFXAfterReissue(t *testing.T) {
	t.Parallel()
	s := sqliteStack(t, testenv.Options{})
	ctx := context.Background()
	r := pkitest.Request("advanced-invoice", nil)
	old, err := s.A.Issue(ctx, "tester", authority.IssueRequest{Profile: "advanced-invoice", GenerateKey: selo.KeyECDSAP384, Subject: r.Subject})
	if err != nil {
		t.Fatal(err)
	}
	s.newHierarchy(t)
	cert, err := s.A.Reissue(ctx, "operator", old.Serial, newQualifiedID)
	if err != nil {
		t.Fatal(err)
	}
	pfx, err := s.A.PFX(ctx, "holder:ana", cert.Serial, nil, "long enough password")
	if err != nil {
		t.Fatal(err)
	}
	key, leaf, chain, err := pkcs12.DecodeChain(pfx, "long enough password")
	if err != nil {
		t.Fatal(err)
	}
	newCA, err := s.Store.FindCA(ctx, newQualifiedID)
	if err != nil {
		t.Fatal(err)
	}
	if !leaf.Equal(leafOf(t, cert)) || len(chain) != 2 || !chain[0].Equal(caCert(t, newCA)) || !samePublicKey(key.(crypto.Signer).Public(), leaf.PublicKey) {
		t.Fatal("the .pfx of a re-issued certificate does not hold it, its key and the new CA's chain")
	}
}
