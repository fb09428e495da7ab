package lift

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"software.sslmate.com/src/go-pkcs12"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/authority"
	"github.com/selo-qtsp/selo/internal/testenv"
	"github.com/selo-qtsp/selo/keystore/pkcs11"
	"github.com/selo-qtsp/selo/pki/pkitest"
	"github.com/selo-qtsp/selo/registration"
	"github.com/selo-qtsp/selo/server"
)

const (
	updateTokenPIN = "4321"
	updateKeyLabel = "holder-sign"
	updateCertName = "Ana Silva"
)

// updateHSM is a SoftHSM2 set up once for the test binary with one token per
// test that asks, all made before any is opened (SoftHSM2 reads its token
// directory when the module is initialized).
var updateHSM struct {
	once    sync.Once
	module  string
	missing string
	tokens  []string
}

const updateTokenCount = 4

func setUpUpdateHSM() {
	for _, m := range []string{os.Getenv("SELO_TEST_PKCS11_MODULE"), "/usr/lib/softhsm/libsofthsm2.so", "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so", "/usr/lib64/pkcs11/libsofthsm2.so"} {
		if m != "" {
			if _, err := os.Stat(m); err == nil {
				updateHSM.module = m
				break
			}
		}
	}
	util, err := exec.LookPath("softhsm2-util")
	if updateHSM.module == "" || err != nil {
		updateHSM.missing = "SoftHSM2 is not installed (apt-get install softhsm2)"
		return
	}
	if _, err := exec.LookPath("pkcs11-tool"); err != nil {
		updateHSM.missing = "pkcs11-tool is not installed (apt-get install opensc)"
		return
	}
	dir, err := os.MkdirTemp("", "selo-update-softhsm-")
	if err != nil {
		updateHSM.missing = err.Error()
		return
	}
	conf := filepath.Join(dir, "softhsm2.conf")
	_ = os.Mkdir(filepath.Join(dir, "tokens"), 0o700)
	_ = os.WriteFile(conf, fmt.Appendf(nil, "directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n", filepath.Join(dir, "tokens")), 0o600)
	os.Setenv("SOFTHSM2_CONF", conf)
	for i := range updateTokenCount {
		label := fmt.Sprintf("holder-%d", i)
		if out, err := exec.Command(util, "--init-token", "--free", "--label", label, "--pin", updateTokenPIN, "--so-pin", "87654321").CombinedOutput(); err != nil {
			updateHSM.missing = fmt.Sprintf("softhsm2-util --init-token: %v: %s", err, out)
			return
		}
		updateHSM.tokens = append(updateHSM.tokens, label)
	}
}

var tokenMu sync.Mutex

// holderToken returns a fresh SoftHSM2 token's label, skipping (failing in
// CI) without SoftHSM2.
func holderToken(t *testing.T) string {
	t.Helper()
	updateHSM.once.Do(setUpUpdateHSM)
	if updateHSM.missing != "" {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI is set but %s", updateHSM.missing)
		}
		t.Skipf("SKIPPING TOKEN UPDATE TESTS: %s", updateHSM.missing)
	}
	tokenMu.Lock()
	defer tokenMu.Unlock()
	if len(updateHSM.tokens) == 0 {
		t.Fatal("out of test tokens: raise updateTokenCount")
	}
	label := updateHSM.tokens[0]
	updateHSM.tokens = updateHSM.tokens[1:]
	return label
}

func pkcs11Tool(t *testing.T, token string, args ...string) []byte {
	t.Helper()
	out, err := exec.Command("pkcs11-tool", append([]string{"--module", updateHSM.module, "--token-label", token}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("pkcs11-tool %v: %v\n%s", args, err, out)
	}
	return out
}

// provider is a Selo server that issued under testenv's qualified CA.
type provider struct {
	env *testenv.Env
	srv *httptest.Server
	reg *registration.Service
}

func newProvider(t *testing.T) *provider {
	t.Helper()
	p := &provider{env: testenv.New(t)}
	p.serve(t, p.env.Authority)
	return p
}

func (p *provider) serve(t *testing.T, auth *authority.Authority) {
	t.Helper()
	reg := testenv.RegistrationService(t, p.env.Store, auth, p.env.Keys, nil) // e-mails into an outbox
	h := server.New(server.Config{Authority: auth, Registration: reg, Logger: slog.New(slog.DiscardHandler), PublicRateLimit: server.RateLimit{Off: true}}).Handler()
	if p.srv == nil {
		p.srv = httptest.NewServer(h)
		t.Cleanup(p.srv.Close)
	} else {
		p.srv.Config.Handler = h
	}
	p.reg = reg
}

// issue issues a qualified-sign certificate for key under the current CA.
func (p *provider) issue(t *testing.T, key crypto.Signer) *x509.Certificate {
	t.Helper()
	c, err := p.env.Authority.Issue(context.Background(), testenv.Actor, authority.IssueRequest{Profile: "qualified-sign",
		CSR: pkitest.NewCSR(t, key, pkitest.Request("qualified-sign", key.Public()))})
	if err != nil {
		t.Fatal(err)
	}
	x, _ := x509.ParseCertificate(c.DER)
	return x
}

// rotate makes a new root and issuing CA, retires the old issuing CA and
// restarts the server configured with the new one.
func (p *provider) rotate(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	for _, o := range []authority.CreateCAOptions{
		{ID: "root-ecc-t2", Name: "Selo Test Root CA ECC T2", Organization: "Selo Test Trust Services", Country: "PT", KeyAlgorithm: selo.KeyECDSAP384, ValidityDays: 9000},
		{ID: "qualified-ecc-t2", Name: "Selo Test Qualified CA ECC T2", Organization: "Selo Test Trust Services", Country: "PT", ParentID: "root-ecc-t2", KeyAlgorithm: selo.KeyECDSAP256, ValidityDays: 3650},
	} {
		if _, err := p.env.Authority.CreateCA(ctx, testenv.Actor, o); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := p.env.Authority.RetireCA(ctx, testenv.Actor, testenv.QualifiedID); err != nil {
		t.Fatal(err)
	}
	auth, err := authority.New(authority.Config{Store: p.env.Store, Keys: p.env.Keys, Profiles: p.env.Profiles, Linter: p.env.Linter,
		BaseURL: testenv.BaseURL, ProfileCA: map[string]string{"qualified-sign": "qualified-ecc-t2"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = auth.Close() })
	p.serve(t, auth)
}

// opensslVerify checks cert against the new hierarchy with the openssl binary.
func (p *provider) opensslVerify(t *testing.T, certPEM []byte) {
	t.Helper()
	if _, err := exec.LookPath("openssl"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("CI is set but openssl is not installed")
		}
		t.Skip("SKIPPING PEER CHECK: openssl is not installed")
	}
	dir := t.TempDir()
	write := func(name string, der []byte) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	ctx := context.Background()
	root, _ := p.env.Store.FindCA(ctx, "root-ecc-t2")
	issuing, _ := p.env.Store.FindCA(ctx, "qualified-ecc-t2")
	leaf := filepath.Join(dir, "leaf.pem")
	if err := os.WriteFile(leaf, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("openssl", "verify", "-CAfile", write("root.pem", root.CertDER), "-untrusted", write("issuing.pem", issuing.CertDER), leaf).CombinedOutput()
	if err != nil || !strings.Contains(string(out), ": OK") {
		t.Fatalf("openssl verify: %v\n%s", err, out)
	}
	// And the old hierarchy does not vouch for it.
	oldRoot, _ := p.env.Store.FindCA(ctx, testenv.RootID)
	oldIssuing, _ := p.env.Store.FindCA(ctx, testenv.QualifiedID)
	if out, err := exec.Command("openssl", "verify", "-CAfile", write("oldroot.pem", oldRoot.CertDER), "-untrusted", write("oldissuing.pem", oldIssuing.CertDER), leaf).CombinedOutput(); err == nil {
		t.Fatalf("openssl verify with the old chain passed:\n%s", out)
	}
}

// tokenWithCertificate makes a key on token with pkcs11-tool, as a holder's
// token software would, has p certify it, and installs the certificate.
func tokenWithCertificate(t *testing.T, p *provider, token, keyType, idHex string) *x509.Certificate {
	t.Helper()
	pkcs11Tool(t, token, "--login", "--pin", updateTokenPIN, "--keypairgen", "--key-type", keyType, "--label", updateKeyLabel, "--id", idHex)
	tok, err := pkcs11.OpenToken(pkcs11.Config{Module: updateHSM.module, TokenLabel: token, PIN: updateTokenPIN})
	if err != nil {
		t.Fatal(err)
	}
	defer tok.Close()
	key, err := tok.FindKey(nil, updateKeyLabel)
	if err != nil {
		t.Fatal(err)
	}
	cert := p.issue(t, key.Signer)
	if err := tok.ImportCertificate(key.ID, updateCertName, cert); err != nil {
		t.Fatal(err)
	}
	return cert
}

func tokenCertificates(t *testing.T, token string) map[string]*x509.Certificate {
	t.Helper()
	tok, err := pkcs11.OpenToken(pkcs11.Config{Module: updateHSM.module, TokenLabel: token, PIN: updateTokenPIN})
	if err != nil {
		t.Fatal(err)
	}
	defer tok.Close()
	key, err := tok.FindKey(nil, updateKeyLabel)
	if err != nil {
		t.Fatal(err)
	}
	certs, err := tok.Certificates(key.ID)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*x509.Certificate{}
	for _, c := range certs {
		out[c.Label] = c.Certificate
	}
	return out
}

func TestUpdateTokenUnderNewCA(t *testing.T) {
	for _, tt := range []struct{ name, keyType string }{{"ecdsa", "EC:prime256v1"}, {"rsa", "rsa:3072"}} {
		t.Run(tt.name, func(t *testing.T) {
			token := holderToken(t)
			p := newProvider(t)
			old := tokenWithCertificate(t, p, token, tt.keyType, "c0ffee")
			p.rotate(t)
			client := &UpdateClient{BaseURL: p.srv.URL}
			opts := TokenUpdateOptions{Module: updateHSM.module, TokenLabel: token, PIN: updateTokenPIN, KeyLabel: updateKeyLabel}
			res, err := UpdateToken(context.Background(), client, opts)
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Updated) != 1 || res.Updated[0].CA != "qualified-ecc-t2" || res.Updated[0].AlreadyUpdated {
				t.Fatalf("result %+v", res)
			}

			// Read the certificate back off the token with pkcs11-tool: the
			// one under the holder's label is the new one.
			der := filepath.Join(t.TempDir(), "cert.der")
			pkcs11Tool(t, token, "--read-object", "--type", "cert", "--label", updateCertName, "--output-file", der)
			raw, _ := os.ReadFile(der)
			nw, err := x509.ParseCertificate(raw)
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case nw.Issuer.CommonName != "Selo Test Qualified CA ECC T2":
				t.Fatalf("issuer %s", nw.Issuer)
			case !bytes.Equal(nw.RawSubjectPublicKeyInfo, old.RawSubjectPublicKeyInfo):
				t.Fatal("the public key changed")
			case !nw.NotAfter.Equal(old.NotAfter):
				t.Fatalf("notAfter %s, want %s", nw.NotAfter, old.NotAfter)
			}
			p.opensslVerify(t, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: raw}))
			// The old one stays, relabelled.
			certs := tokenCertificates(t, token)
			if len(certs) != 2 || certs[updateCertName+" (superseded)"].SerialNumber.Cmp(old.SerialNumber) != 0 {
				t.Fatalf("token certificates %v", certs)
			}

			// Run again: nothing new, nothing issued.
			again, err := UpdateToken(context.Background(), client, opts)
			if err != nil || len(again.Updated) != 0 || !strings.Contains(again.Skipped[nw.SerialNumber.Text(16)], "nothing to update") {
				t.Fatalf("second run %+v, %v", again, err)
			}
			if n := len(tokenCertificates(t, token)); n != 2 {
				t.Fatalf("%d certificates on the token after a second run", n)
			}
			list, _ := p.env.Store.ListCertificates(context.Background(), selo.CertificateFilter{CAID: "qualified-ecc-t2"})
			if len(list) != 1 {
				t.Fatalf("%d certificates under the new CA", len(list))
			}
		})
	}
}

// TestUpdateTokenResumes interrupts the installation after the new
// certificate is on the token but before the old one is relabelled.
func TestUpdateTokenResumes(t *testing.T) {
	token := holderToken(t)
	p := newProvider(t)
	old := tokenWithCertificate(t, p, token, "EC:prime256v1", "0a0b")
	p.rotate(t)
	client := &UpdateClient{BaseURL: p.srv.URL}
	tok, err := pkcs11.OpenToken(pkcs11.Config{Module: updateHSM.module, TokenLabel: token, PIN: updateTokenPIN})
	if err != nil {
		t.Fatal(err)
	}
	key, _ := tok.FindKey(nil, updateKeyLabel)
	first, err := client.Update(context.Background(), old, key.Signer)
	if err != nil {
		t.Fatal(err)
	}
	if err := tok.ImportCertificate(key.ID, updateCertName, first.Certificate); err != nil {
		t.Fatal(err)
	}
	tok.Close() // interrupted here

	res, err := UpdateToken(context.Background(), client, TokenUpdateOptions{Module: updateHSM.module, TokenLabel: token, PIN: updateTokenPIN})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Updated) != 1 || !res.Updated[0].AlreadyUpdated || !bytes.Equal(res.Updated[0].Certificate.Raw, first.Certificate.Raw) {
		t.Fatalf("resumed %+v", res)
	}
	certs := tokenCertificates(t, token)
	if len(certs) != 2 || !bytes.Equal(certs[updateCertName].Raw, first.Certificate.Raw) || certs[updateCertName+" (superseded)"] == nil {
		t.Fatalf("token certificates %v", certs)
	}
}

func TestUpdateTokenRefusals(t *testing.T) {
	token := holderToken(t)
	p := newProvider(t)
	tokenWithCertificate(t, p, token, "EC:prime256v1", "0102")
	client := &UpdateClient{BaseURL: p.srv.URL}
	opts := TokenUpdateOptions{Module: updateHSM.module, TokenLabel: token, PIN: updateTokenPIN, KeyLabel: updateKeyLabel}
	ctx := context.Background()

	// The CA is not retired: nothing to update, and nothing changes.
	res, err := UpdateToken(ctx, client, opts)
	if err != nil || len(res.Updated) != 0 || len(res.Skipped) != 1 {
		t.Fatalf("before the CA change: %+v, %v", res, err)
	}
	for _, m := range res.Skipped {
		if !strings.Contains(m, "nothing to update") {
			t.Fatalf("reason %q", m)
		}
	}
	bad := opts
	bad.PIN = "0000"
	if _, err := UpdateToken(ctx, client, bad); selo.ErrorCode(err) != selo.EUNAUTHORIZED {
		t.Fatalf("wrong PIN: %v", err)
	}
	bad = opts
	bad.KeyLabel = "no-such-key"
	if _, err := UpdateToken(ctx, client, bad); selo.ErrorCode(err) != selo.ENOTFOUND {
		t.Fatalf("missing key: %v", err)
	}
	bad = opts
	bad.KeyLabel, bad.KeyID = "", []byte{0x01, 0x02}
	if _, err := UpdateToken(ctx, client, bad); err != nil {
		t.Fatalf("by CKA_ID: %v", err)
	}
}

// TestUpdateRefusesForeignChallenge: a server that sends a challenge for
// another certificate, or other text, gets no signature.
func TestUpdateRefusesForeignChallenge(t *testing.T) {
	key := pkitest.NewKey(t, "ecdsa-p256")
	p := newProvider(t)
	cert := p.issue(t, key)
	signed := false
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/v1/update/complete" {
			signed = true
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"challenge":"please sign this invoice","serial":%q}`, cert.SerialNumber.Text(16))
	}))
	defer srv.Close()
	_, err := (&UpdateClient{BaseURL: srv.URL}).Update(context.Background(), cert, key)
	if selo.ErrorCode(err) != selo.EINVALID || signed {
		t.Fatalf("foreign challenge: %v (signed %v)", err, signed)
	}
	other := pkitest.NewKey(t, "ecdsa-p256")
	if _, err := (&UpdateClient{BaseURL: p.srv.URL}).Update(context.Background(), cert, other); selo.ErrorCode(err) != selo.EINVALID {
		t.Fatalf("key of another certificate: %v", err)
	}
}

func TestUpdatePFX(t *testing.T) {
	p := newProvider(t)
	key := pkitest.NewKey(t, "ecdsa-p256")
	old := p.issue(t, key)
	chain, _ := p.env.Authority.Chain(context.Background(), testenv.QualifiedID)
	in, err := pkcs12.Modern.Encode(key, old, chain, "holder pass")
	if err != nil {
		t.Fatal(err)
	}
	p.rotate(t)
	client := &UpdateClient{BaseURL: p.srv.URL}
	if _, _, err := UpdatePFX(context.Background(), client, in, "wrong"); selo.ErrorCode(err) != selo.EINVALID {
		t.Fatalf("wrong password: %v", err)
	}
	out, res, err := UpdatePFX(context.Background(), client, in, "holder pass")
	if err != nil {
		t.Fatal(err)
	}
	if res.CA != "qualified-ecc-t2" {
		t.Fatalf("result %+v", res)
	}
	// openssl opens the new .pfx and finds the new certificate and chain.
	dir := t.TempDir()
	pfx := filepath.Join(dir, "new.pfx")
	_ = os.WriteFile(pfx, out, 0o600)
	pemOut, err := exec.Command("openssl", "pkcs12", "-in", pfx, "-clcerts", "-nokeys", "-passin", "pass:holder pass").CombinedOutput()
	if err != nil {
		t.Fatalf("openssl pkcs12: %v\n%s", err, pemOut)
	}
	block, _ := pem.Decode(pemOut[bytes.Index(pemOut, []byte("-----BEGIN")):])
	nw, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(nw.RawSubjectPublicKeyInfo, old.RawSubjectPublicKeyInfo) || !nw.NotAfter.Equal(old.NotAfter) || hex.EncodeToString(nw.Raw) != hex.EncodeToString(res.Certificate.Raw) {
		t.Fatal("the new .pfx does not hold the new certificate for the same key")
	}
	p.opensslVerify(t, pem.EncodeToMemory(block))
	cas, err := exec.Command("openssl", "pkcs12", "-in", pfx, "-cacerts", "-nokeys", "-passin", "pass:holder pass").CombinedOutput()
	if err != nil || strings.Count(string(cas), "BEGIN CERTIFICATE") != 2 || !strings.Contains(string(cas), "Qualified CA ECC T2") {
		t.Fatalf("chain in the .pfx: %v\n%s", err, cas)
	}
}
