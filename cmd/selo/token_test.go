package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const tokenModule = "/usr/lib/softhsm/libsofthsm2.so"

// tokenSoftHSM makes a SoftHSM2 configuration with one token labelled label
// (PIN 1234, PUK 87654321), holding a P-256 key pair and its certificate
// written by OpenSC's pkcs11-tool, as a certificate update leaves them.
func tokenSoftHSM(t *testing.T, label string) {
	t.Helper()
	util, err := exec.LookPath("softhsm2-util")
	tool, terr := exec.LookPath("pkcs11-tool")
	if _, serr := os.Stat(tokenModule); err != nil || terr != nil || serr != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("CI is set but SoftHSM2 or pkcs11-tool is missing")
		}
		t.Skip("SKIPPING TOKEN TEST: SoftHSM2 or pkcs11-tool is not installed (apt-get install softhsm2 opensc)")
	}
	dir := t.TempDir()
	tokens := filepath.Join(dir, "tokens")
	os.Mkdir(tokens, 0o700)
	t.Setenv("SOFTHSM2_CONF", writeFile(t, filepath.Join(dir, "softhsm2.conf"), "directories.tokendir = "+tokens+"\nobjectstore.backend = file\nlog.level = ERROR\n"))
	for _, v := range []string{envTokenPIN, envTokenNewPIN, envTokenPUK} {
		t.Setenv(v, "")
	}
	if out, err := exec.Command(util, "--init-token", "--free", "--label", label, "--pin", "1234", "--so-pin", "87654321").CombinedOutput(); err != nil {
		t.Fatalf("softhsm2-util: %v\n%s", err, out)
	}
	p11 := func(args ...string) {
		t.Helper()
		args = append([]string{"--module", tokenModule, "--token-label", label, "--login", "--pin", "1234"}, args...)
		if out, err := exec.Command(tool, args...).CombinedOutput(); err != nil {
			t.Fatalf("pkcs11-tool %v: %v\n%s", args, err, out)
		}
	}
	p11("--keypairgen", "--key-type", "EC:prime256v1", "--id", "0a0b", "--label", "Ana Silva")
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(0x77), Subject: pkix.Name{CommonName: "Ana Silva"},
		NotBefore: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), NotAfter: time.Date(2029, 3, 1, 0, 0, 0, 0, time.UTC)}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	p11("--write-object", writeFile(t, filepath.Join(dir, "cert.der"), string(der)), "--type", "cert", "--id", "0a0b", "--label", "Ana Silva")
}

func TestTokenStatusAndList(t *testing.T) {
	tokenSoftHSM(t, "ana")
	data := dataDir(t)
	r := mustRunSelo(t, "token", "status", "--data", data)
	if !strings.Contains(r.stdout, `Token "ana" in slot`) || !strings.Contains(r.stdout, "PIN: ok\n") || !strings.Contains(r.stdout, "PUK: ok\n") {
		t.Fatalf("status:\n%s", r)
	}

	r = runSeloStdin(t, "1234\n", "token", "list", "--token", "ana", "--pin-file", "-", "--data", data)
	for _, want := range []string{`Token "ana" in slot`, ": 3 objects", `certificate  id 0a0b  "Ana Silva"`, "subject CN=Ana Silva",
		"serial  77", "valid   2026-03-01 00:00 UTC to 2029-03-01 00:00 UTC", `private key  id 0a0b  "Ana Silva"`,
		"EC P-256, sensitive, not extractable", `public key   id 0a0b`} {
		if r.code != 0 || !strings.Contains(r.stdout, want) {
			t.Fatalf("want %q in the list:\n%s", want, r)
		}
	}

	r = mustRunSelo(t, "token", "list", "--public", "--json", "--data", data)
	var objects []struct{ Class, ID, Subject string }
	if err := json.Unmarshal([]byte(r.stdout), &objects); err != nil {
		t.Fatalf("%v:\n%s", err, r)
	}
	if len(objects) != 2 || objects[0].Class != "certificate" || objects[1].Class != "public key" || objects[0].Subject != "CN=Ana Silva" {
		t.Fatalf("public list: %+v", objects)
	}

	// A PIN is never an argument, and without a terminal there is no prompt.
	wantExit(t, runSelo(t, "token", "list", "--data", data), 1, "no password", envTokenPIN)
	wantExit(t, runSelo(t, "token", "list", "--token", "bob", "--public", "--data", data), 1, `no token labelled "bob"`)
}

func TestTokenChangePINAndUnblock(t *testing.T) {
	tokenSoftHSM(t, "ana")
	data := dataDir(t)
	list := func(pin string) result {
		return runSeloStdin(t, pin+"\n", "token", "list", "--pin-file", "-", "--data", data)
	}

	wantExit(t, runSeloStdin(t, "0000\n5555\n5555\n", "token", "change-pin", "--pin-file", "-", "--new-pin-file", "-", "--data", data),
		1, `wrong PIN for token "ana" (the token does not say how many tries are left)`)
	r := mustRunSelo(t, "token", "status", "--data", data)
	if !strings.Contains(r.stdout, "PIN: a wrong PIN was entered: fewer tries left") {
		t.Fatalf("status after a wrong PIN:\n%s", r)
	}

	r = runSeloStdin(t, "1234\n5555\n", "token", "change-pin", "--pin-file", "-", "--new-pin-file", "-", "--data", data)
	if r.code != 0 || !strings.Contains(r.stdout, `The PIN of token "ana" is changed.`) {
		t.Fatalf("change-pin:\n%s", r)
	}
	wantExit(t, list("1234"), 1, "wrong PIN")
	if r := list("5555"); r.code != 0 {
		t.Fatalf("the new PIN:\n%s", r)
	}

	// Secrets from files and the environment.
	dir := t.TempDir()
	t.Setenv(envTokenNewPIN, "7777")
	wantExit(t, runSelo(t, "token", "unblock", "--puk-file", writeFile(t, filepath.Join(dir, "puk"), "99999999\n"), "--data", data),
		1, `wrong PUK for token "ana"`)
	wantExit(t, list("7777"), 1, "wrong PIN")
	r = runSelo(t, "token", "unblock", "--puk-file", writeFile(t, filepath.Join(dir, "puk2"), "87654321\n"), "--data", data)
	if r.code != 0 || !strings.Contains(r.stdout, `The PIN of token "ana" is unblocked and set to the new PIN.`) {
		t.Fatalf("unblock:\n%s", r)
	}
	if r := list("7777"); r.code != 0 {
		t.Fatalf("the PIN set by unblock:\n%s", r)
	}
	wantExit(t, runSeloStdin(t, "87654321\n", "token", "unblock", "--puk-file", "-", "--new-pin-file", "-", "--data", data),
		1, "new pin: standard input has no line for it")
}

// TestTokenRefusesImportExport: the commands a holder might look for to copy
// keys or certificates exist only to refuse, and the token is unchanged.
func TestTokenRefusesImportExport(t *testing.T) {
	tokenSoftHSM(t, "ana")
	data := dataDir(t)
	before := mustRunSelo(t, "token", "list", "--public", "--json", "--data", data).stdout
	dir := t.TempDir()
	for _, args := range [][]string{
		{"import", "--cert", writeFile(t, filepath.Join(dir, "c.pem"), "x"), "--key", "k.pem"},
		{"export", "--id", "0a0b", "--out", filepath.Join(dir, "key.pem")},
		{"write"}, {"delete", "--id", "0a0b"},
	} {
		r := runSelo(t, append(append([]string{"token"}, args...), "--data", data)...)
		wantExit(t, r, 1, "selo token does not "+args[0]+" keys or certificates",
			"at no time import or export certificates to your cryptographic device", "the certificate update ('selo update') is the only writer")
	}
	if _, err := os.Stat(filepath.Join(dir, "key.pem")); !os.IsNotExist(err) {
		t.Fatalf("export wrote a file: %v", err)
	}
	if after := mustRunSelo(t, "token", "list", "--public", "--json", "--data", data).stdout; after != before {
		t.Fatalf("the token changed:\n%s\n%s", before, after)
	}
}
