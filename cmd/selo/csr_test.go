package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

const keyPassword = "key-password-1"

// parseCSRFile reads a PEM CSR written by selo.
func parseCSRFile(t *testing.T, path string) *x509.CertificateRequest {
	t.Helper()
	block, rest := pem.Decode(readFile(t, path))
	if block == nil || block.Type != "CERTIFICATE REQUEST" || len(strings.TrimSpace(string(rest))) != 0 {
		t.Fatalf("%s is not one PEM CERTIFICATE REQUEST", path)
	}
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if err := csr.CheckSignature(); err != nil {
		t.Fatalf("CSR signature: %v", err)
	}
	return csr
}

func TestCSRNew(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pw := writeFile(t, filepath.Join(dir, "pw"), keyPassword+"\n")
	keyFile, csrFile := filepath.Join(dir, "www.key"), filepath.Join(dir, "www.csr")

	r := mustRunSelo(t, "csr", "new", "--cn", "www.example.pt", "--san", "www.example.pt", "--san", "example.pt",
		"--san", "webmaster@example.pt", "--o", "Example Lda", "--ou", "Web", "--l", "Braga", "--st", "Braga", "--c", "PT",
		"--key-out", keyFile, "--out", csrFile, "--password-file", pw)
	if !strings.Contains(r.stderr, "wrote "+csrFile) || !strings.Contains(r.stderr, "wrote "+keyFile) {
		t.Errorf("csr new did not say what it wrote:\n%s", r)
	}

	// openssl accepts the CSR and its signature.
	if out := mustOpenSSL(t, "req", "-verify", "-noout", "-in", csrFile); !strings.Contains(strings.ToLower(out), "verify ok") {
		t.Errorf("openssl req -verify: %s", out)
	}
	csr := parseCSRFile(t, csrFile)
	if got, want := csr.Subject.String(), "CN=www.example.pt,OU=Web,O=Example Lda,L=Braga,ST=Braga,C=PT"; got != want {
		t.Errorf("CSR subject %q, want %q", got, want)
	}
	if !slices.Equal(csr.DNSNames, []string{"www.example.pt", "example.pt"}) || !slices.Equal(csr.EmailAddresses, []string{"webmaster@example.pt"}) {
		t.Errorf("CSR SANs: DNS %v, e-mail %v", csr.DNSNames, csr.EmailAddresses)
	}
	pub, ok := csr.PublicKey.(*rsa.PublicKey)
	if !ok || pub.N.BitLen() != 2048 {
		t.Errorf("default key is %T, want RSA 2048", csr.PublicKey)
	}

	// The key: private, encrypted, readable by openssl with the password
	// only, and the CSR's.
	if fi, err := os.Stat(keyFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v (want mode 0600)", err)
	}
	if block, _ := pem.Decode(readFile(t, keyFile)); block == nil || block.Type != "ENCRYPTED PRIVATE KEY" {
		t.Fatalf("key file is not an ENCRYPTED PRIVATE KEY")
	}
	mustOpenSSL(t, "pkey", "-in", keyFile, "-passin", "pass:"+keyPassword, "-noout")
	if out, err := openssl(t, "pkey", "-in", keyFile, "-passin", "pass:not-the-password", "-noout"); err == nil {
		t.Errorf("openssl read the key with a wrong password:\n%s", out)
	}
	key, err := readKeyFile(keyFile, keyPassword)
	if err != nil {
		t.Fatal(err)
	}
	if !key.(*rsa.PrivateKey).PublicKey.Equal(csr.PublicKey) {
		t.Error("the key file does not hold the CSR's key")
	}

	// A key file is never overwritten.
	keyBefore := readFile(t, keyFile)
	r = runSelo(t, "csr", "new", "--cn", "www.example.pt", "--key-out", keyFile, "--out", filepath.Join(dir, "again.csr"), "--password-file", pw)
	wantExit(t, r, 1, "never overwritten")
	if string(readFile(t, keyFile)) != string(keyBefore) {
		t.Error("csr new changed an existing key file")
	}
	if _, err := os.Stat(filepath.Join(dir, "again.csr")); !os.IsNotExist(err) {
		t.Errorf("a refused csr new wrote a CSR (%v)", err)
	}
}

func TestCSRNewKeyTypes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pw := writeFile(t, filepath.Join(dir, "pw"), keyPassword)
	for _, tc := range []struct {
		keyType, want string
	}{
		{"ecdsa-p256", "ECDSA P-256"},
		{"ecdsa-p384", "ECDSA P-384"},
		// rsa-2048, the default, in TestCSRNew.
	} {
		key, csrFile := filepath.Join(dir, tc.keyType+".key"), filepath.Join(dir, tc.keyType+".csr")
		mustRunSelo(t, "csr", "new", "--cn", "host.example.pt", "--key-type", tc.keyType, "--key-out", key, "--out", csrFile, "--password-file", pw)
		mustOpenSSL(t, "req", "-verify", "-noout", "-in", csrFile)
		csr := parseCSRFile(t, csrFile)
		// With no --san, the common name is the SAN.
		if !slices.Equal(csr.DNSNames, []string{"host.example.pt"}) {
			t.Errorf("%s: SANs %v, want the CN", tc.keyType, csr.DNSNames)
		}
		r := mustRunSelo(t, "csr", "show", csrFile)
		if !strings.Contains(r.stdout, "Key:        "+tc.want+"\n") {
			t.Errorf("%s: csr show does not say %q:\n%s", tc.keyType, tc.want, r)
		}
	}
	wantExit(t, runSelo(t, "csr", "new", "--cn", "x.example.pt", "--key-type", "dsa-1024", "--key-out", filepath.Join(dir, "dsa.key"), "--password-file", pw),
		2, "unknown --key-type")
	if _, err := os.Stat(filepath.Join(dir, "dsa.key")); !os.IsNotExist(err) {
		t.Errorf("a refused key type left a key file (%v)", err)
	}
}

func TestCSRNewPassword(t *testing.T) {
	dir := t.TempDir()
	csrNew := func(name string, extra ...string) result {
		return runSelo(t, append([]string{"csr", "new", "--cn", "p.example.pt", "--key-type", "ecdsa-p256",
			"--key-out", filepath.Join(dir, name+".key"), "--out", filepath.Join(dir, name+".csr")}, extra...)...)
	}
	// No password from anywhere, and no terminal to ask on.
	wantExit(t, csrNew("none"), 1, "no password", "SELO_KEY_PASSWORD")
	// Too short.
	wantExit(t, csrNew("short", "--password-file", writeFile(t, filepath.Join(dir, "short"), "1234567")), 1, "at least 8 characters")
	for _, name := range []string{"none", "short"} {
		if _, err := os.Stat(filepath.Join(dir, name+".key")); !os.IsNotExist(err) {
			t.Errorf("%s: a refused csr new left a key file (%v)", name, err)
		}
	}
	// A password is never a command-line argument.
	wantExit(t, csrNew("arg", "--password", keyPassword), 2, "unknown flag: --password")
	wantExit(t, csrNew("missing-file", "--password-file", filepath.Join(dir, "no-such-file")), 1, "read password file")

	// The environment.
	t.Setenv("SELO_KEY_PASSWORD", "from-the-environment")
	mustRunSelo(t, "csr", "new", "--cn", "p.example.pt", "--key-type", "ecdsa-p256",
		"--key-out", filepath.Join(dir, "env.key"), "--out", filepath.Join(dir, "env.csr"))
	if _, err := readKeyFile(filepath.Join(dir, "env.key"), "from-the-environment"); err != nil {
		t.Errorf("key written with SELO_KEY_PASSWORD: %v", err)
	}
	// The file beats the environment.
	mustRunSelo(t, "csr", "new", "--cn", "p.example.pt", "--key-type", "ecdsa-p256", "--password-file", writeFile(t, filepath.Join(dir, "pw"), keyPassword),
		"--key-out", filepath.Join(dir, "file.key"), "--out", filepath.Join(dir, "file.csr"))
	if _, err := readKeyFile(filepath.Join(dir, "file.key"), keyPassword); err != nil {
		t.Errorf("key written with --password-file: %v", err)
	}
}

// TestCSRNewDefaultFiles names the files after the common name in the
// current directory.
func TestCSRNewDefaultFiles(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	t.Setenv("SELO_KEY_PASSWORD", keyPassword)
	mustRunSelo(t, "csr", "new", "--cn", "*.example.pt", "--key-type", "ecdsa-p256")
	for _, f := range []string{"_.example.pt.key", "_.example.pt.csr"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("csr new --cn *.example.pt did not write %s: %v", f, err)
		}
	}
	wantExit(t, runSelo(t, "csr", "new", "--key-type", "ecdsa-p256"), 2, "needs --cn")
	// - writes the CSR to standard output.
	r := mustRunSelo(t, "csr", "new", "--cn", "out.example.pt", "--key-type", "ecdsa-p256", "--out", "-")
	if block, _ := pem.Decode([]byte(r.stdout)); block == nil || block.Type != "CERTIFICATE REQUEST" {
		t.Errorf("csr new --out - did not print the CSR:\n%s", r)
	}
}

func TestCSRShow(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pw := writeFile(t, filepath.Join(dir, "pw"), keyPassword)
	csrFile := filepath.Join(dir, "www.csr")
	mustRunSelo(t, "csr", "new", "--cn", "www.example.pt", "--san", "www.example.pt", "--san", "example.pt", "--san", "ops@example.pt",
		"--o", "Example Lda", "--c", "PT", "--key-type", "ecdsa-p256", "--key-out", filepath.Join(dir, "www.key"), "--out", csrFile, "--password-file", pw)

	r := mustRunSelo(t, "csr", "show", csrFile)
	for _, want := range []string{
		"Subject:    CN=www.example.pt,O=Example Lda,C=PT\n",
		"Key:        ECDSA P-256\n",
		"DNS name:   www.example.pt\n",
		"DNS name:   example.pt\n",
		"E-mail:     ops@example.pt\n",
		"Signature:  valid\n",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("csr show lacks %q:\n%s", want, r)
		}
	}
	if strings.Contains(r.stdout, "Key policy") {
		t.Errorf("csr show refuses an ECDSA P-256 key:\n%s", r)
	}
	var out csrOutput
	decodeJSON(t, mustRunSelo(t, "csr", "show", "--json", csrFile), &out)
	if !out.SignatureValid || !out.KeyAccepted || out.Key != "ECDSA P-256" || !slices.Equal(out.DNSNames, []string{"www.example.pt", "example.pt"}) ||
		!slices.Equal(out.EmailAddresses, []string{"ops@example.pt"}) {
		t.Errorf("csr show --json: %+v", out)
	}

	// DER is read as well as PEM.
	block, _ := pem.Decode(readFile(t, csrFile))
	der := filepath.Join(dir, "www.der")
	if err := os.WriteFile(der, block.Bytes, 0o600); err != nil {
		t.Fatal(err)
	}
	if r := mustRunSelo(t, "csr", "show", der); !strings.Contains(r.stdout, "Signature:  valid") {
		t.Errorf("csr show of a DER CSR:\n%s", r)
	}

	// An altered CSR: the signature no longer holds.
	tampered := slices.Clone(block.Bytes)
	tampered[len(tampered)-5] ^= 0xff
	badSig := filepath.Join(dir, "tampered.csr")
	writeFile(t, badSig, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: tampered})))
	r = runSelo(t, "csr", "show", badSig)
	if !strings.Contains(r.stdout, "Signature:  INVALID") {
		t.Errorf("csr show of an altered CSR:\n%s", r)
	}
	wantExit(t, r, 1, "does not verify")
	r = runSelo(t, "csr", "show", "--json", badSig)
	wantExit(t, r, 1, "does not verify")
	decodeJSON(t, r, &out)
	if out.SignatureValid {
		t.Error("csr show --json: an altered CSR has a valid signature")
	}

	// A key the policy refuses is shown as refused.
	weak, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	weakDER, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "weak.example.pt"}}, weak)
	if err != nil {
		t.Fatal(err)
	}
	weakFile := writeFile(t, filepath.Join(dir, "weak.csr"), string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: weakDER})))
	if r := mustRunSelo(t, "csr", "show", weakFile); !strings.Contains(r.stdout, "Key policy: refused") || !strings.Contains(r.stdout, "RSA 1024") {
		t.Errorf("csr show of an RSA 1024 CSR:\n%s", r)
	}

	// Not a CSR at all.
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	keyDER, _ := x509.MarshalPKCS8PrivateKey(ecKey)
	for _, tc := range []struct {
		name, content string
		msg           []string
	}{
		{"garbage", "this is not a certificate request\n", []string{"garbage is not a valid CSR", "neither PEM", "nor DER"}},
		{"empty", "", []string{"empty is not a valid CSR: the file is empty"}},
		{"key", string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})), []string{`"PRIVATE KEY" block`, "not a CERTIFICATE REQUEST"}},
		{"key-der", string(keyDER), []string{"this is a private key, not a certificate request"}},
		{"broken-pem", "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n", []string{"broken-pem is not a valid CSR", "not laid out as a PKCS#10 certificate request"}},
		{"damaged-base64", "-----BEGIN CERTIFICATE REQUEST-----\n!!!!\n-----END CERTIFICATE REQUEST-----\n", []string{"the PEM block is damaged"}},
		{"truncated", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: weakDER[:len(weakDER)/2]})), []string{"the request is cut short"}},
		{"certificate", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: selfSignedDER(t)})), []string{"this is a certificate, not a certificate request"}},
	} {
		path := writeFile(t, filepath.Join(dir, tc.name), tc.content)
		r := runSelo(t, "csr", "show", path)
		wantExit(t, r, 1, tc.msg...)
		if r.stdout != "" {
			t.Errorf("%s: csr show printed something for a broken CSR:\n%s", tc.name, r)
		}
		// Words, not a Go ASN.1 dump.
		for _, dump := range []string{"asn1", "{class:", "tags don't match", "optional:false"} {
			if strings.Contains(r.stderr, dump) {
				t.Errorf("%s: csr show prints Go internals (%q):\n%s", tc.name, dump, r)
			}
		}
	}
	wantExit(t, runSelo(t, "csr", "show", filepath.Join(dir, "no-such.csr")), 1, "read CSR")
	wantExit(t, runSelo(t, "csr", "show"), 2, "needs a CSR file")
}

// selfSignedDER is a certificate, to hand csr show in place of a CSR.
func selfSignedDER(t *testing.T) []byte {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "not a csr"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}
