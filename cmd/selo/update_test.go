package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"software.sslmate.com/src/go-pkcs12"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/authority"
	"github.com/selo-qtsp/selo/internal/testenv"
	"github.com/selo-qtsp/selo/pki/pkitest"
	"github.com/selo-qtsp/selo/server"
)

// updateProvider serves a provider that issued cert (in a .pfx) under
// testenv's qualified CA and has since moved to a new issuing CA.
func updateProvider(t *testing.T) (url string, old *x509.Certificate, pfxFile string) {
	t.Helper()
	env := testenv.New(t)
	ctx := context.Background()
	key := pkitest.NewKey(t, "ecdsa-p256")
	rec, err := env.Authority.Issue(ctx, testenv.Actor, authority.IssueRequest{Profile: "qualified-sign",
		CSR: pkitest.NewCSR(t, key, pkitest.Request("qualified-sign", key.Public()))})
	if err != nil {
		t.Fatal(err)
	}
	old, _ = x509.ParseCertificate(rec.DER)
	pfx, err := pkcs12.Modern.Encode(key, old, nil, "holder pass")
	if err != nil {
		t.Fatal(err)
	}
	pfxFile = filepath.Join(t.TempDir(), "Digital1234.pfx")
	if err := os.WriteFile(pfxFile, pfx, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := env.Authority.CreateCA(ctx, testenv.Actor, authority.CreateCAOptions{ID: "qualified-ecc-t2", Name: "Selo Test Qualified CA ECC T2",
		ParentID: testenv.RootID, KeyAlgorithm: selo.KeyECDSAP256, ValidityDays: 3650}); err != nil {
		t.Fatal(err)
	}
	if _, err := env.Authority.RetireCA(ctx, testenv.Actor, testenv.QualifiedID); err != nil {
		t.Fatal(err)
	}
	auth, err := authority.New(authority.Config{Store: env.Store, Keys: env.Keys, Profiles: env.Profiles, Linter: env.Linter,
		BaseURL: testenv.BaseURL, ProfileCA: map[string]string{"qualified-sign": "qualified-ecc-t2"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = auth.Close() })
	reg := testenv.RegistrationService(t, env.Store, auth, env.Keys, nil) // e-mails into an outbox
	srv := httptest.NewServer(server.New(server.Config{Authority: auth, Registration: reg, Logger: slog.New(slog.DiscardHandler)}).Handler())
	t.Cleanup(srv.Close)
	return srv.URL, old, pfxFile
}

func TestUpdatePFXCommand(t *testing.T) {
	url, old, in := updateProvider(t)
	dir := t.TempDir()
	pass := writeFile(t, filepath.Join(dir, "pass.txt"), "holder pass\n")
	out := filepath.Join(dir, "new.pfx")

	wantExit(t, runSelo(t, "update", "--server", url, "--pfx", in, "--out", out, "--password-file", writeFile(t, filepath.Join(dir, "bad.txt"), "nope")),
		1, "wrong password")
	r := mustRunSelo(t, "update", "--server", url, "--pfx", in, "--out", out, "--password-file", pass)
	if !strings.Contains(r.stdout, "Updated certificate "+old.SerialNumber.Text(16)) || !strings.Contains(r.stdout, "CA qualified-ecc-t2") {
		t.Fatalf("update said:\n%s", r)
	}
	key, nw, chain, err := pkcs12.DecodeChain(readFile(t, out), "holder pass")
	if err != nil || key == nil || len(chain) != 2 {
		t.Fatalf("new .pfx: %v, chain %d", err, len(chain))
	}
	if !bytes.Equal(nw.RawSubjectPublicKeyInfo, old.RawSubjectPublicKeyInfo) || !nw.NotAfter.Equal(old.NotAfter) || nw.Issuer.CommonName != "Selo Test Qualified CA ECC T2" {
		t.Fatalf("new certificate: issuer %s, notAfter %s", nw.Issuer, nw.NotAfter)
	}
	mustOpenSSL(t, "pkcs12", "-in", out, "-info", "-nokeys", "-passin", "pass:holder pass")

	// The same .pfx again: the same new certificate, and no file overwritten.
	wantExit(t, runSelo(t, "update", "--server", url, "--pfx", in, "--out", out, "--password-file", pass), 1, "exists")
	again := filepath.Join(dir, "again.pfx")
	mustRunSelo(t, "update", "--server", url, "--pfx", in, "--out", again, "--password-file", pass)
	_, nw2, _, err := pkcs12.DecodeChain(readFile(t, again), "holder pass")
	if err != nil || !bytes.Equal(nw2.Raw, nw.Raw) {
		t.Fatalf("second update gave another certificate: %v", err)
	}
	// Default output name: beside the input.
	mustRunSelo(t, "update", "--server", url, "--pfx", in, "--password-file", pass)
	if _, err := os.Stat(strings.TrimSuffix(in, ".pfx") + "-updated.pfx"); err != nil {
		t.Fatal(err)
	}
}

func TestUpdateCommandUsage(t *testing.T) {
	for _, tt := range []struct {
		args []string
		msg  string
	}{
		{[]string{"update", "--pfx", "a.pfx"}, "--server"},
		{[]string{"update", "--server", "http://x"}, "one of them"},
		{[]string{"update", "--server", "http://x", "--pfx", "a.pfx", "--token-label", "t"}, "one of them"},
		{[]string{"update", "--server", "http://x", "--pfx", "a.pfx", "--key-label", "k"}, "for a token"},
		{[]string{"update", "--server", "http://x", "--token-label", "t", "--out", "o.pfx"}, "for a .pfx"},
		{[]string{"update", "--server", "http://x", "--token-label", "t", "--key-id", "zz"}, "hexadecimal"},
		{[]string{"update", "--server", "http://x", "--token-label", "t", "--pin", "1234"}, "unknown flag"},
	} {
		wantExit(t, runSelo(t, tt.args...), 2, tt.msg)
	}
	// No PIN and no terminal: refused before the token is touched.
	t.Setenv("SELO_UPDATE_PIN", "")
	wantExit(t, runSelo(t, "update", "--server", "http://127.0.0.1:1", "--token-label", "t"), 1, "SELO_UPDATE_PIN")
}
