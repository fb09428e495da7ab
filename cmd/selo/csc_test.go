package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/server"
)

// TestCSCCommands walks an integrator's session: info, login, credentials,
// an SMS code read from the outbox, a batch of files signed, every
// signature checked by openssl; a wrong code fails clearly and writes nothing.
func TestCSCCommands(t *testing.T) {
	t.Parallel()
	s := newCSCServer(t)
	cred := s.credential(t, selo.ApprovalSMS, selo.KeyECDSAP256)
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "cfg", "csc-token.json")
	tf := []string{"--token-file", tokenFile}
	csc := func(args ...string) []string { return append(append([]string{"csc"}, args...), tf...) }

	r := mustRunSelo(t, "csc", "info", "--server", s.url)
	if !strings.Contains(r.stdout, "CSC API 2.") || !strings.Contains(r.stdout, "signatures/signHash") || !strings.Contains(r.stdout, "ecdsa-with-SHA256") {
		t.Fatalf("csc info:\n%s", r)
	}
	// Not logged in yet.
	wantExit(t, runSelo(t, csc("credentials", "--server", s.url)...), 1, "not logged in", "selo csc login")
	// A wrong password.
	bad := writeFile(t, filepath.Join(dir, "bad"), "wrong password\n")
	wantExit(t, runSelo(t, csc("login", "--server", s.url, "--email", "maria@example.pt", "--password-file", bad)...), 1, "authentication_error")
	if _, err := os.Stat(tokenFile); !os.IsNotExist(err) {
		t.Fatalf("a failed login left a token file (%v)", err)
	}

	r = mustRunSelo(t, csc("login", "--server", s.url, "--email", "maria@example.pt", "--password-file", s.pwFile)...)
	var tok cscToken
	if err := json.Unmarshal(readFile(t, tokenFile), &tok); err != nil || tok.AccessToken == "" || tok.Server != s.url+server.CSCPrefix {
		t.Fatalf("token file: %+v %v", tok, err)
	}
	if fi, _ := os.Stat(tokenFile); fi.Mode().Perm() != 0o600 {
		t.Fatalf("token file mode %v, want 0600", fi.Mode().Perm())
	}
	if strings.Contains(r.stdout+r.stderr, tok.AccessToken) {
		t.Fatalf("login printed the access token without --json:\n%s", r)
	}

	// The server comes from the token file from now on.
	r = mustRunSelo(t, csc("credentials")...)
	for _, want := range []string{cred, "sms", "ECDSA P-256", "enabled", "CN="} {
		if !strings.Contains(r.stdout, want) {
			t.Fatalf("csc credentials: no %q:\n%s", want, r)
		}
	}
	var creds []cscCredentialOutput
	decodeJSON(t, mustRunSelo(t, csc("credentials", "--json")...), &creds)
	if len(creds) != 1 || creds[0].ID != cred || creds[0].SCAL != "2" || creds[0].Approval != "sms" || creds[0].Key != "ECDSA P-256" || creds[0].Subject == "" {
		t.Fatalf("csc credentials --json: %+v", creds)
	}
	r = mustRunSelo(t, csc("credentials", cred)...)
	if !strings.Contains(r.stdout, "Approval:    sms") || !strings.Contains(r.stdout, "SCAL 2") {
		t.Fatalf("csc credentials CRED:\n%s", r)
	}
	wantExit(t, runSelo(t, csc("credentials", "no-such-credential")...), 1, "credentialID")

	// A batch of files, one SMS code.
	files := make([]string, 5)
	for i := range files {
		files[i] = writeFile(t, filepath.Join(dir, fmt.Sprintf("invoice-%d.xml", i)), fmt.Sprintf("<invoice n=%d/>", i))
	}
	signArgs := func(otpFile string, extra ...string) []string {
		a := csc("sign-hash", cred, "--otp-file", otpFile)
		for _, f := range files {
			a = append(a, "--file", f)
		}
		return append(a, extra...)
	}
	// Without a code and without a terminal: a clear error, no SMS sent.
	before := s.smsCount(t)
	wantExit(t, runSelo(t, append(csc("sign-hash", cred), "--file", files[0])...), 1, "SELO_CSC_OTP", "send-otp")
	if s.smsCount(t) != before {
		t.Fatal("sign-hash without a terminal texted a code nobody can type")
	}

	mustRunSelo(t, csc("send-otp", cred)...)
	wrong := "000000"
	if s.smsCode(t) == wrong {
		wrong = "111111"
	}
	r = runSelo(t, signArgs(writeFile(t, filepath.Join(dir, "wrong"), wrong))...)
	wantExit(t, r, 1, "invalid_otp")
	for _, f := range files {
		if _, err := os.Stat(f + ".sig"); !os.IsNotExist(err) {
			t.Fatalf("a refused sign-hash wrote %s.sig", f)
		}
	}

	mustRunSelo(t, csc("send-otp", cred)...)
	otp := writeFile(t, filepath.Join(dir, "otp"), s.smsCode(t)+"\n")
	outDir := filepath.Join(dir, "sigs")
	if err := os.Mkdir(outDir, 0o700); err != nil {
		t.Fatal(err)
	}
	chain := filepath.Join(dir, "chain.pem")
	r = mustRunSelo(t, signArgs(otp, "--out-dir", outDir, "--cert-out", chain)...)
	if !strings.Contains(r.stderr, "5 signature(s)") || !strings.Contains(r.stderr, "verified") {
		t.Fatalf("sign-hash:\n%s", r)
	}
	// The signatures verify with a tool we did not write, and with Go.
	pub := filepath.Join(dir, "pub.pem")
	writeFile(t, pub, mustOpenSSL(t, "x509", "-in", chain, "-pubkey", "-noout"))
	block, _ := pem.Decode(readFile(t, chain))
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		sig := filepath.Join(outDir, filepath.Base(f)+".sig")
		if out := mustOpenSSL(t, "dgst", "-sha256", "-verify", pub, "-signature", sig, f); !strings.Contains(out, "Verified OK") {
			t.Fatalf("openssl dgst -verify %s: %s", f, out)
		}
		d := sha256.Sum256(readFile(t, f))
		if !ecdsa.VerifyASN1(cert.PublicKey.(*ecdsa.PublicKey), d[:], readFile(t, sig)) {
			t.Fatalf("%s does not verify", sig)
		}
	}
	// The code was single use.
	wantExit(t, runSelo(t, signArgs(otp)...), 1, "invalid_otp")

	// Hashes given in hex, JSON out.
	h1, h2 := sha256.Sum256([]byte("one")), sha256.Sum256([]byte("two"))
	mustRunSelo(t, csc("send-otp", cred)...)
	otp = writeFile(t, filepath.Join(dir, "otp"), s.smsCode(t))
	r = mustRunSelo(t, csc("sign-hash", cred, "--otp-file", otp, "--hash", hex.EncodeToString(h1[:]), "--hash", hex.EncodeToString(h2[:]), "--json")...)
	var out struct {
		CredentialID  string      `json:"credential_id"`
		HashAlgorithm string      `json:"hash_algorithm"`
		SignAlgorithm string      `json:"sign_algorithm"`
		Verified      bool        `json:"verified"`
		Signatures    []cscSigned `json:"signatures"`
	}
	decodeJSON(t, r, &out)
	if !out.Verified || len(out.Signatures) != 2 || out.Signatures[1].Hash != hex.EncodeToString(h2[:]) {
		t.Fatalf("sign-hash --json: %+v", out)
	}
	sig, _ := base64.StdEncoding.DecodeString(out.Signatures[1].Signature)
	if !ecdsa.VerifyASN1(cert.PublicKey.(*ecdsa.PublicKey), h2[:], sig) {
		t.Fatal("the printed signature does not verify")
	}

	// The token never goes to another server; logout revokes it.
	wantExit(t, runSelo(t, csc("credentials", "--server", "http://127.0.0.1:1")...), 1, "not logged in to http://127.0.0.1:1/csc/v2")
	mustRunSelo(t, csc("logout")...)
	if _, err := os.Stat(tokenFile); !os.IsNotExist(err) {
		t.Fatal("logout left the token file")
	}
	if _, err := s.svc.Authenticate(context.Background(), tok.AccessToken); err == nil {
		t.Fatal("the token still works after logout")
	}
}

// TestCSCWalletApproval: sign-hash waits while the holder approves in the wallet.
func TestCSCWalletApproval(t *testing.T) {
	t.Parallel()
	s := newCSCServer(t)
	cred := s.credential(t, selo.ApprovalWallet, selo.KeyECDSAP384)
	wallet, key := s.registerWallet(t)
	tf := filepath.Join(t.TempDir(), "token.json")
	mustRunSelo(t, "csc", "login", "--server", s.url, "--email", "maria@example.pt", "--password-file", s.pwFile, "--token-file", tf)

	file := writeFile(t, filepath.Join(t.TempDir(), "lease.pdf"), "%PDF-1.7 lease")
	done := make(chan result, 1)
	go func() {
		done <- runSelo(t, "csc", "sign-hash", cred, "--token-file", tf, "--hash-alg", "sha384", "--file", file, "--description", "lease.pdf", "--wait", "1m")
	}()
	// The holder sees the request in the wallet and approves it.
	pending := s.approveInWallet(t, wallet, key)
	if pending[0].Description != "lease.pdf" || len(pending[0].Hashes) != 1 {
		t.Fatalf("the wallet shows %+v", pending[0])
	}
	r := <-done
	if r.code != 0 || !strings.Contains(r.stderr, "waiting for the holder") || !strings.Contains(r.stderr, "ecdsa-with-SHA384") {
		t.Fatalf("sign-hash with a wallet approval:\n%s", r)
	}
	if len(readFile(t, file+".sig")) == 0 {
		t.Fatal("no signature file")
	}
}

// TestCSCUsageErrors: mistakes in a csc command line exit 2 and reach no server.
func TestCSCUsageErrors(t *testing.T) {
	t.Parallel()
	tf := filepath.Join(t.TempDir(), "none.json")
	h := strings.Repeat("ab", 32)
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"info"}, "give --server"},
		{[]string{"info", "--server", "ftp://example.eu"}, `--server "ftp://example.eu" is not an http(s) base URL`},
		{[]string{"info", "--server", "https://example.eu/csc/v2?"}, `is not an http(s) base URL`},
		{[]string{"info", "--server", "https://example.eu?a=/csc/v2"}, `is not an http(s) base URL`},
		{[]string{"login", "--server", "http://127.0.0.1:1"}, "csc login needs --server and --email"},
		{[]string{"send-otp"}, "csc send-otp needs a credential ID"},
		{[]string{"sign-hash"}, "csc sign-hash needs a credential ID"},
		{[]string{"sign-hash", "C"}, "needs --hash or --file"},
		{[]string{"sign-hash", "C", "--hash", h, "--file", "x"}, "needs --hash or --file"},
		{[]string{"sign-hash", "C", "--hash", "zz"}, "--hash 1: want 32 hex-encoded bytes"},
		{[]string{"sign-hash", "C", "--hash", h, "--hash-alg", "sha384"}, "want 48 hex-encoded bytes"},
		{[]string{"sign-hash", "C", "--hash", h, "--hash-alg", "md5"}, "--hash-alg must be"},
		{[]string{"sign-hash", "C", "--otp", "123456", "--hash", h}, "unknown flag: --otp"},
	} {
		r := runSelo(t, append(append([]string{"csc"}, tc.args...), "--token-file", tf)...)
		wantExit(t, r, 2, tc.msg, "Run 'selo --help' for usage.")
	}
	// Files that cannot be read, and two files that would share a signature file.
	dir := t.TempDir()
	wantExit(t, runSelo(t, "csc", "sign-hash", "C", "--file", filepath.Join(dir, "missing"), "--token-file", tf), 1, "cannot read")
	a := writeFile(t, filepath.Join(dir, "a"), "a")
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o700); err != nil {
		t.Fatal(err)
	}
	b := writeFile(t, filepath.Join(dir, "sub", "a"), "b")
	wantExit(t, runSelo(t, "csc", "sign-hash", "C", "--file", a, "--file", b, "--out-dir", dir, "--token-file", tf), 2, "would both be signed")
}

// TestCSCPromptsOnTerminal: on a terminal, sign-hash asks for the code; for
// an SMS credential it has the code texted first.
func TestCSCPromptsOnTerminal(t *testing.T) {
	t.Parallel()
	s := newCSCServer(t)
	data := filepath.Join(t.TempDir(), "data")
	tf := filepath.Join(t.TempDir(), "token.json")
	mustRunSelo(t, "csc", "login", "--server", s.url, "--email", "maria@example.pt", "--password-file", s.pwFile, "--token-file", tf)
	file := writeFile(t, filepath.Join(t.TempDir(), "invoice.xml"), "<invoice/>")

	// Authenticator: the code from the app, typed at the prompt.
	totpCred := s.credential(t, selo.ApprovalAuthenticator, selo.KeyECDSAP256)
	code, out := onTerminal(t, s.authenticatorCode(t)+"\n", "csc", "sign-hash", totpCred, "--file", file, "--token-file", tf, "--data", data)
	if code != 0 || !strings.Contains(out, "Authenticator code: ") || !strings.Contains(out, "1 signature(s)") {
		t.Fatalf("sign-hash with an authenticator on a terminal: exit %d\n%s", code, out)
	}

	// SMS: the command texts the code before it asks; a wrong one is refused.
	smsCred := s.credential(t, selo.ApprovalSMS, selo.KeyECDSAP256)
	before := s.smsCount(t)
	code, out = onTerminal(t, "00000000\n", "csc", "sign-hash", smsCred, "--file", file, "--token-file", tf, "--data", data)
	if code != 1 || !strings.Contains(out, "texted") || !strings.Contains(out, "SMS code: ") || !strings.Contains(out, "invalid_otp") {
		t.Fatalf("sign-hash with SMS on a terminal: exit %d\n%s", code, out)
	}
	if s.smsCount(t) != before+1 {
		t.Fatal("sign-hash on a terminal did not text the code")
	}
}
