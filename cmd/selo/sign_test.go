package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/keystore/pkcs11"
)

// issuingCA returns the ID of the first non-root CA that init made.
func issuingCA(t *testing.T) string {
	t.Helper()
	_, out := templateDataDir(t)
	for _, ca := range out.CAs {
		if ca.Parent != "" && strings.Contains(strings.ToLower(ca.ID), "qualified") {
			return ca.ID
		}
	}
	t.Fatalf("no qualified issuing CA in %+v", out.CAs)
	return ""
}

// signerPFX issues a qualified signature certificate with a held key and
// exports it as a .pfx; it returns the path and the password file.
func signerPFX(t *testing.T, data string) (string, string) {
	t.Helper()
	q := issueNaturalPerson(t, data)
	dir := t.TempDir()
	pw := writeFile(t, filepath.Join(dir, "pw"), "sign-test-pass-1")
	pfx := filepath.Join(dir, "ana.pfx")
	mustRunSelo(t, "cert", "pfx", q.Serial, "--out", pfx, "--data", data, "--password-file", pw)
	return pfx, pw
}

type verifyOutput struct {
	File    string `json:"file"`
	Content string `json:"content"`
	Trust   string `json:"trust"`
	Valid   bool   `json:"valid"`
	Report  struct {
		Format     string `json:"format"`
		Detached   bool   `json:"detached"`
		Signatures []struct {
			Signer      string `json:"signer"`
			Level       string `json:"level"`
			Status      string `json:"status"`
			DigestOK    bool   `json:"digest_ok"`
			ChainOK     bool   `json:"chain_ok"`
			TimestampOK bool   `json:"timestamp_ok"`
			Timestamp   string `json:"timestamp"`
		} `json:"signatures"`
	} `json:"report"`
}

func verifyJSON(t *testing.T, args ...string) (verifyOutput, result) {
	t.Helper()
	r := runSelo(t, append([]string{"verify", "--json"}, args...)...)
	var v verifyOutput
	dec := strings.NewReader(r.stdout)
	if err := jsonDecodeLoose(dec, &v); err != nil {
		t.Fatalf("verify --json: %v\n%s", err, r)
	}
	return v, r
}

func TestSignFileAndVerify(t *testing.T) {
	data := dataDir(t)
	pfx, pw := signerPFX(t, data)
	dir := t.TempDir()
	doc := writeFile(t, filepath.Join(dir, "contract.txt"), "Contrato n.º 42\nValor: 1000 EUR\n")

	// Detached, B-B: contract.txt.p7s beside the file.
	r := mustRunSelo(t, "sign", "file", doc, "--pfx", pfx, "--password-file", pw, "--data", data)
	if !strings.Contains(r.stdout, "B-B") {
		t.Fatalf("sign output:\n%s", r)
	}
	v, r := verifyJSON(t, doc+".p7s", "--data", data)
	if r.code != 0 || !v.Valid || v.Report.Signatures[0].Level != "B-B" || !strings.Contains(v.Report.Signatures[0].Signer, "Maria Silva") {
		t.Fatalf("verify:\n%s", r)
	}
	text := mustRunSelo(t, "verify", doc+".p7s", "--data", data)
	for _, want := range []string{"VALID", "Maria Silva", "unchanged since signing", "leads to a trusted root", "revocation    UNKNOWN (no OCSP responder or CRL gave a usable answer); not counted against the signature"} {
		if !strings.Contains(text.stdout, want) {
			t.Errorf("verify text lacks %q:\n%s", want, text)
		}
	}

	// One changed byte: invalid, exit 1, said plainly.
	tampered := writeFile(t, filepath.Join(dir, "tampered.txt"), "Contrato n.º 42\nValor: 9000 EUR\n")
	r = runSelo(t, "verify", doc+".p7s", "--content", tampered, "--data", data)
	wantExit(t, r, 1, "not every signature is valid")
	if !strings.Contains(r.stdout, "INVALID") || !strings.Contains(r.stdout, "CHANGED after signing") {
		t.Fatalf("tampered:\n%s", r)
	}

	// Enveloping.
	env := filepath.Join(dir, "contract.p7m")
	mustRunSelo(t, "sign", "file", doc, "--enveloping", "--out", env, "--pfx", pfx, "--password-file", pw, "--data", data)
	if v, r := verifyJSON(t, env, "--data", data); r.code != 0 || !v.Valid || v.Report.Detached {
		t.Fatalf("verify enveloping:\n%s", r)
	}

	// Trusting only another root: intact but indeterminate.
	other := writeFile(t, filepath.Join(dir, "other-root.pem"), otherRootPEM(t))
	if v, r := verifyJSON(t, doc+".p7s", "--trust", other, "--data", data); r.code != 1 || v.Report.Signatures[0].Status != "indeterminate" || !v.Report.Signatures[0].DigestOK {
		t.Fatalf("other root:\n%s", r)
	}

	// openssl, the peer, agrees with the data directory's chain.
	caID := issuingCA(t)
	chain := filepath.Join(dir, "chain.pem")
	mustRunSelo(t, "ca", "chain", caID, "--out", chain, "--data", data)
	mustOpenSSL(t, "cms", "-verify", "-binary", "-inform", "DER", "-in", doc+".p7s", "-content", doc, "-CAfile", chain, "-purpose", "any", "-out", filepath.Join(dir, "out"))
}

func TestSignFileErrors(t *testing.T) {
	data := dataDir(t)
	pfx, pw := signerPFX(t, data)
	dir := t.TempDir()
	doc := writeFile(t, filepath.Join(dir, "a.txt"), "a")
	wantExit(t, runSelo(t, "sign", "file", doc, "--data", data), 2, "exactly one of --pfx, --pkcs11-key and --credential")
	wantExit(t, runSelo(t, "sign", "file", doc, "--pfx", pfx, "--pkcs11-key", "x", "--data", data), 2)
	wantExit(t, runSelo(t, "sign", "file", doc, "--pfx", pfx, "--password-file", pw, "--hash", "md5", "--data", data), 2, "--hash")
	bad := writeFile(t, filepath.Join(dir, "bad"), "wrong-password")
	wantExit(t, runSelo(t, "sign", "file", doc, "--pfx", pfx, "--password-file", bad, "--data", data), 1, "wrong password")
	wantExit(t, runSelo(t, "sign", "file", filepath.Join(dir, "missing.txt"), "--pfx", pfx, "--password-file", pw, "--data", data), 1, "cannot open")
	// An unreachable TSA fails the signature and leaves no output behind.
	r := runSelo(t, "sign", "file", doc, "--pfx", pfx, "--password-file", pw, "--tsa", "http://127.0.0.1:1/tsa", "--data", data)
	wantExit(t, r, 1, "TSA")
	if _, err := os.Stat(doc + ".p7s"); !os.IsNotExist(err) {
		t.Fatalf("a failed signature left %s.p7s behind", doc)
	}
	// verify: not a signature; a detached signature without its content.
	wantExit(t, runSelo(t, "verify", doc, "--data", data), 1, "not a valid CMS signature")
	mustRunSelo(t, "sign", "file", doc, "--out", filepath.Join(dir, "sig.bin"), "--pfx", pfx, "--password-file", pw, "--data", data)
	wantExit(t, runSelo(t, "verify", filepath.Join(dir, "sig.bin"), "--data", data), 2, "--content")
}

// TestTSAInitServeAndSignBT: tsa init makes the TSA certificate, serve
// answers /tsa with it, and sign file --tsa makes B-T signatures that
// verify with the timestamp.
func TestTSAInitServeAndSignBT(t *testing.T) {
	data := dataDir(t)
	r := mustRunSelo(t, "tsa", "init", "--ca", issuingCA(t), "--data", data)
	if !strings.Contains(r.stdout, "TSA certificate") {
		t.Fatalf("tsa init:\n%s", r)
	}
	if !strings.Contains(mustRunSelo(t, "audit", "list", "--json", "--limit", "0", "--data", data).stdout, "tsa-certificate.issue") {
		t.Fatal("no audit entry for the TSA certificate")
	}
	cfg, _ := os.ReadFile(filepath.Join(data, "selo.yaml"))
	if !strings.Contains(string(cfg), "tsa-certificate:") {
		t.Fatalf("config not updated:\n%s", cfg)
	}
	base, _ := serveInProcess(t, data)

	pfx, pw := signerPFX(t, data)
	doc := writeFile(t, filepath.Join(t.TempDir(), "invoice.xml"), "<Invoice><ID>FT 1</ID></Invoice>")
	r = mustRunSelo(t, "sign", "file", doc, "--pfx", pfx, "--password-file", pw, "--tsa", base+"/tsa", "--data", data)
	if !strings.Contains(r.stdout, "B-T") {
		t.Fatalf("sign --tsa:\n%s", r)
	}
	v, r := verifyJSON(t, doc+".p7s", "--data", data)
	s := v.Report.Signatures[0]
	if r.code != 0 || s.Level != "B-T" || !s.TimestampOK || s.Timestamp == "" {
		t.Fatalf("verify B-T:\n%s", r)
	}
}

func jsonDecodeLoose(r io.Reader, v any) error { return json.NewDecoder(r).Decode(v) }

// otherRootPEM is a self-signed root that signed nothing here.
func otherRootPEM(t *testing.T) string {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "Other Root"}, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

// TestSignFilePKCS11 signs with a key on a SoftHSM2 token: the key never
// leaves the token, the signature verifies against the chain given.
func TestSignFilePKCS11(t *testing.T) {
	const module = "/usr/lib/softhsm/libsofthsm2.so"
	util, err := exec.LookPath("softhsm2-util")
	if _, serr := os.Stat(module); err != nil || serr != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI is set but SoftHSM2 is missing")
		}
		t.Skip("SKIPPING PKCS#11 SIGNING TEST: SoftHSM2 is not installed (apt-get install softhsm2)")
	}
	dir := t.TempDir()
	tokens := filepath.Join(dir, "tokens")
	os.Mkdir(tokens, 0o700)
	conf := writeFile(t, filepath.Join(dir, "softhsm2.conf"), "directories.tokendir = "+tokens+"\nobjectstore.backend = file\nlog.level = ERROR\n")
	t.Setenv("SOFTHSM2_CONF", conf)
	if out, err := exec.Command(util, "--init-token", "--free", "--label", "signtest", "--pin", "1234", "--so-pin", "5678").CombinedOutput(); err != nil {
		t.Fatalf("softhsm2-util: %v\n%s", err, out)
	}
	ks, err := pkcs11.Open(pkcs11.Config{Module: module, TokenLabel: "signtest", PIN: "1234"})
	if err != nil {
		t.Fatal(err)
	}
	key, err := ks.GenerateKey(context.Background(), "doc-signer", selo.KeyECDSAP256, selo.KeyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "HSM Test CA"}, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, _ := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, caKey.Public(), caKey)
	ca, _ := x509.ParseCertificate(caDER)
	leafDER, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "HSM Seal"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature}, ca, key.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	ks.Close()
	pemOf := func(der ...[]byte) string {
		var b strings.Builder
		for _, d := range der {
			b.Write(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: d}))
		}
		return b.String()
	}
	certFile := writeFile(t, filepath.Join(dir, "seal-chain.pem"), pemOf(leafDER, caDER))
	root := writeFile(t, filepath.Join(dir, "root.pem"), pemOf(caDER))
	doc := writeFile(t, filepath.Join(dir, "doc.txt"), "signed in a token")
	data := dataDir(t)

	t.Setenv("SELO_PKCS11_PIN", "1234")
	mustRunSelo(t, "sign", "file", doc, "--pkcs11-key", "doc-signer", "--cert", certFile,
		"--pkcs11-module", module, "--pkcs11-token", "signtest", "--data", data)
	v, r := verifyJSON(t, doc+".p7s", "--trust", root, "--data", data)
	if r.code != 0 || !v.Valid || !strings.Contains(v.Report.Signatures[0].Signer, "HSM Seal") {
		t.Fatalf("verify:\n%s", r)
	}
	mustOpenSSL(t, "cms", "-verify", "-binary", "-inform", "DER", "-in", doc+".p7s", "-content", doc, "-CAfile", root, "-purpose", "any", "-out", filepath.Join(dir, "out"))
}

// serveInProcess runs 'selo serve' in this process until the test ends and
// returns its base URL once /healthz answers, and its standard error.
func serveInProcess(t *testing.T, data string, extra ...string) (string, *syncBuilder) {
	t.Helper()
	addr := freePort(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	var serveOut strings.Builder
	serveErr := &syncBuilder{}
	args := append([]string{"serve", "--data", data, "--listen", addr, "--roles", "api,ocsp"}, extra...)
	go func() { done <- Run(ctx, args, strings.NewReader(""), &serveOut, serveErr) }()
	t.Cleanup(func() { cancel(); <-done })
	base := "http://" + addr
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return base, serveErr
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("selo serve did not come up: %v\n%s", err, serveErr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// syncBuilder is a strings.Builder safe for a writer and a reader at once.
type syncBuilder struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuilder) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuilder) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestServeWithBrokenTSACertificate: a TSA certificate that cannot be loaded
// turns /tsa off with a warning; the rest of the server runs.
func TestServeWithBrokenTSACertificate(t *testing.T) {
	data := dataDir(t)
	base, stderr := serveInProcess(t, data, "--tsa-certificate", "1234abcd")
	if !strings.Contains(stderr.String(), "the timestamp authority is off") {
		t.Fatalf("no warning:\n%s", stderr.String())
	}
	resp, err := http.Post(base+"/tsa", "application/timestamp-query", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("POST /tsa: %d, want 404", resp.StatusCode)
	}
	wantExit(t, runSelo(t, "serve", "--data", data, "--tsa-certificate", "1", "--tsa-policy", "nonsense", "--listen", "127.0.0.1:0"), 2, "--tsa-policy")
}

// TestSignBatchCAdESIntoItsOwnFolder: with --out the folder being signed,
// a second run signs a new file and skips the others; it never signs the
// .p7s files the first run wrote.
func TestSignBatchCAdESIntoItsOwnFolder(t *testing.T) {
	t.Parallel()
	data := dataDir(t)
	pfx, pw := signerPFX(t, data)
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "a.xml"), "<a/>")
	writeFile(t, filepath.Join(dir, "b.txt"), "b")
	batch := func() string {
		r := mustRunSelo(t, "sign", "batch", dir, "--out", dir, "--format", "cades", "--pfx", pfx, "--password-file", pw, "--json")
		return r.stdout
	}
	var sum batchOutput
	if err := json.Unmarshal([]byte(batch()), &sum); err != nil || sum.Signed != 2 || len(sum.Files) != 2 {
		t.Fatalf("first run: %+v (%v)", sum, err)
	}
	writeFile(t, filepath.Join(dir, "c.txt"), "c")
	sum = batchOutput{}
	if err := json.Unmarshal([]byte(batch()), &sum); err != nil || sum.Signed != 1 || sum.Skipped != 2 || len(sum.Files) != 3 {
		t.Fatalf("second run: %+v (%v)", sum, err)
	}
	want := []string{"a.xml", "a.xml.p7s", "b.txt", "b.txt.p7s", "c.txt", "c.txt.p7s"}
	if got := listDir(t, dir); !slices.Equal(got, want) {
		t.Fatalf("folder holds %v, want %v", got, want)
	}
}
