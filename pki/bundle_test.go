package pki_test

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/smallstep/pkcs7"
	"software.sslmate.com/src/go-pkcs12"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/pki"
	"github.com/selo-qtsp/selo/pki/pkitest"
)

func TestEncodePEM(t *testing.T) {
	h := pkitest.NewHierarchy(t)
	out := pki.EncodePEM(h.Issuing.Cert, h.Root.Cert)
	var n int
	for rest := out; ; n++ {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			t.Errorf("block type %q", b.Type)
		}
	}
	if n != 2 {
		t.Fatalf("%d blocks, want 2", n)
	}
}

func TestEncodeP7B(t *testing.T) {
	h := pkitest.NewHierarchy(t)
	leaf := issue(t, h, "qualified-sign", "ecdsa-p256").Cert
	der, err := pki.EncodeP7B(leaf, h.Issuing.Cert, h.Root.Cert)
	if err != nil {
		t.Fatal(err)
	}
	p7, err := pkcs7.Parse(der)
	if err != nil {
		t.Fatal(err)
	}
	if len(p7.Certificates) != 3 || !p7.Certificates[0].Equal(leaf) || !p7.Certificates[2].Equal(h.Root.Cert) {
		t.Fatalf("round trip: %d certificates", len(p7.Certificates))
	}
	if _, err := pki.EncodeP7B(); selo.ErrorCode(err) != selo.EINVALID {
		t.Errorf("empty bundle: %v", err)
	}
}

func TestEncodePFX(t *testing.T) {
	h := pkitest.NewHierarchy(t)
	for _, keyKind := range []string{"ecdsa-p256", "rsa-2048"} {
		key := pkitest.NewKey(t, keyKind)
		issued, err := h.Issuing.Issuer.Issue(pki.BuiltinProfiles()["advanced-email"], pkitest.Request("advanced-email", key.Public()), mustSerial(t), pkitest.Now, h.Linter)
		if err != nil {
			t.Fatal(err)
		}
		der, err := pki.EncodePFX(key, issued.Cert, []*x509.Certificate{h.Issuing.Cert, h.Root.Cert}, "correct horse")
		if err != nil {
			t.Fatal(err)
		}
		gotKey, gotCert, chain, err := pkcs12.DecodeChain(der, "correct horse")
		if err != nil {
			t.Fatal(err)
		}
		if !gotCert.Equal(issued.Cert) || len(chain) != 2 || !key.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(gotKey.(crypto.Signer).Public()) {
			t.Fatalf("%s: round trip mismatch", keyKind)
		}
		if _, _, _, err := pkcs12.DecodeChain(der, "wrong"); err == nil {
			t.Fatal("wrong password accepted")
		}
	}
	key := pkitest.NewKey(t, "ecdsa-p256")
	leaf := issue(t, h, "advanced-email", "ecdsa-p256").Cert
	if _, err := pki.EncodePFX(key, leaf, nil, ""); selo.ErrorCode(err) != selo.EINVALID {
		t.Errorf("empty password: %v", err)
	}
	if _, err := pki.EncodePFX(key, leaf, nil, "pw"); selo.ErrorCode(err) != selo.EINVALID {
		t.Errorf("key of another certificate: %v", err)
	}
}

// openssl returns the path of the openssl binary, skipping loudly without it
// (and failing in CI, which installs it).
func openssl(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("openssl")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("openssl is required in CI but was not found in PATH")
		}
		t.Skip("!!! SKIPPED: openssl not found in PATH; interop with OpenSSL is NOT tested on this machine !!!")
	}
	return path
}

func runOpenSSL(t *testing.T, bin string, args ...string) (string, error) {
	t.Helper()
	out, err := exec.Command(bin, args...).CombinedOutput()
	return string(out), err
}

func writeFile(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestOpenSSLVerify checks every profile's certificate chains to the root in
// OpenSSL, with the purpose a relying party would ask for. OpenSSL checks
// validity at -attime, the hierarchy's fixed time, not the real clock.
func TestOpenSSLVerify(t *testing.T) {
	bin := openssl(t)
	h := pkitest.NewHierarchy(t)
	dir := t.TempDir()
	root := writeFile(t, dir, "root.pem", pki.EncodePEM(h.Root.Cert))
	for _, tc := range issueProfiles {
		t.Run(tc.profile, func(t *testing.T) {
			iss := h.IssuerFor(tc.profile)
			leaf := issue(t, h, tc.profile, tc.keys[0]).Cert
			args := []string{"verify", "-attime", strconv.FormatInt(pkitest.Now.Add(time.Hour).Unix(), 10), "-CAfile", root,
				"-untrusted", writeFile(t, dir, tc.profile+"-issuing.pem", pki.EncodePEM(iss.Cert))}
			switch tc.profile {
			case "tls-server":
				args = append(args, "-purpose", "sslserver")
			case "advanced-email":
				args = append(args, "-purpose", "smimesign")
			}
			args = append(args, writeFile(t, dir, tc.profile+".pem", pki.EncodePEM(leaf)))
			out, err := runOpenSSL(t, bin, args...)
			if err != nil || !strings.Contains(out, ": OK") {
				t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
			}
		})
	}
}

func TestOpenSSLPKCS12AndPKCS7(t *testing.T) {
	bin := openssl(t)
	h := pkitest.NewHierarchy(t)
	dir := t.TempDir()
	key := pkitest.NewKey(t, "ecdsa-p256")
	issued, err := h.Issuing.Issuer.Issue(pki.BuiltinProfiles()["qualified-sign"], pkitest.Request("qualified-sign", key.Public()), mustSerial(t), pkitest.Now, h.Linter)
	if err != nil {
		t.Fatal(err)
	}
	pfx, err := pki.EncodePFX(key, issued.Cert, []*x509.Certificate{h.Issuing.Cert, h.Root.Cert}, "s3cret-pass")
	if err != nil {
		t.Fatal(err)
	}
	pfxPath := writeFile(t, dir, "order-1234.pfx", pfx)
	out, err := runOpenSSL(t, bin, "pkcs12", "-info", "-nokeys", "-in", pfxPath, "-passin", "pass:s3cret-pass")
	if err != nil || strings.Count(out, "BEGIN CERTIFICATE") != 3 || !strings.Contains(out, "AES-256-CBC") {
		t.Fatalf("openssl pkcs12 -info: %v\n%s", err, out)
	}
	if out, err := runOpenSSL(t, bin, "pkcs12", "-info", "-nokeys", "-in", pfxPath, "-passin", "pass:wrong"); err == nil {
		t.Fatalf("openssl accepted a wrong password:\n%s", out)
	}

	p7b, err := pki.EncodeP7B(issued.Cert, h.Issuing.Cert, h.Root.Cert)
	if err != nil {
		t.Fatal(err)
	}
	out, err = runOpenSSL(t, bin, "pkcs7", "-inform", "DER", "-print_certs", "-in", writeFile(t, dir, "chain.p7b", p7b))
	if err != nil {
		t.Fatalf("openssl pkcs7: %v\n%s", err, out)
	}
	for _, c := range []*x509.Certificate{issued.Cert, h.Issuing.Cert, h.Root.Cert} {
		if !bytes.Contains([]byte(out), bytes.TrimSpace(pki.EncodePEM(c))) {
			t.Errorf("p7b listing lacks %s", c.Subject)
		}
	}
}
