package main

// The PKCS#11 module (cmd/selo-pkcs11) loaded by tools nobody here wrote:
// pkcs11-tool (OpenSC), NSS (modutil, certutil, pdfsig) and OpenSSL's
// pkcs11 engine, against the in-process Selo server of cscserver_test.go.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/approval"
	"github.com/selo-qtsp/selo/authority"
	"github.com/selo-qtsp/selo/internal/signtest"
	"github.com/selo-qtsp/selo/pkcs11"
)

// moduleOnce builds the module once per test binary (a c-shared build
// takes minutes on a slow machine); TestMain removes it.
var moduleOnce struct {
	sync.Once
	dir, path string
	err       error
}

// pkcs11Module returns the path of libselo-pkcs11.so, built from this tree.
func pkcs11Module(t *testing.T) string {
	t.Helper()
	for _, tool := range []string{"pkcs11-tool", "openssl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is needed (.ci/run installs it): %v", tool, err)
		}
	}
	if out, err := exec.Command("go", "env", "CGO_ENABLED").Output(); err != nil || strings.TrimSpace(string(out)) != "1" {
		t.Skip("the PKCS#11 module is built with cgo, which this machine lacks (.ci/run installs gcc)")
	}
	moduleOnce.Do(func() {
		dir, err := os.MkdirTemp("", "selo-pkcs11-")
		if err != nil {
			moduleOnce.err = err
			return
		}
		moduleOnce.dir = dir
		moduleOnce.path = filepath.Join(dir, "libselo-pkcs11.so")
		out, err := exec.Command("go", "build", "-buildmode=c-shared", "-o", moduleOnce.path, "github.com/selo-qtsp/selo/cmd/selo-pkcs11").CombinedOutput()
		if err != nil {
			moduleOnce.err = fmt.Errorf("go build -buildmode=c-shared: %v\n%s", err, out)
		}
	})
	if moduleOnce.err != nil {
		t.Fatal(moduleOnce.err)
	}
	return moduleOnce.path
}

// p11Env is a holder's desktop: the module configured for the account of
// a cscServer, logged in with 'selo csc login'.
type p11Env struct {
	s                         *cscServer
	module, config, tokenFile string
	log, home                 string
	env                       []string
}

func newP11Env(t *testing.T, s *cscServer, tune func(*pkcs11.Config)) *p11Env {
	t.Helper()
	dir := t.TempDir()
	e := &p11Env{s: s, module: pkcs11Module(t), config: filepath.Join(dir, "pkcs11.json"), tokenFile: filepath.Join(dir, "token.json"),
		log: filepath.Join(dir, "pkcs11.log"), home: filepath.Join(dir, "home")}
	if err := os.Mkdir(e.home, 0o700); err != nil {
		t.Fatal(err)
	}
	mustRunSelo(t, "pkcs11", "setup", "--config", e.config, "--server", s.url, "--email", "maria@example.pt",
		"--token-file", e.tokenFile, "--log-file", e.log, "--timeout", "5s", "--wallet-timeout", "20s")
	if tune != nil {
		cfg, err := pkcs11.ReadConfig(e.config)
		if err != nil {
			t.Fatal(err)
		}
		tune(cfg)
		b, _ := json.Marshal(cfg)
		writeFile(t, e.config, string(b))
	}
	e.env = append(os.Environ(), "SELO_PKCS11_CONFIG="+e.config, "HOME="+e.home)
	return e
}

// login is 'selo csc login', which logs the token in.
func (e *p11Env) login(t *testing.T) {
	t.Helper()
	mustRunSelo(t, "csc", "login", "--server", e.s.url, "--email", "maria@example.pt", "--password-file", e.s.pwFile, "--token-file", e.tokenFile)
}

// run runs a tool with the module's environment (stdin may be nil) and
// returns its output; it fails the test if the tool runs over 60 s.
func (e *p11Env) run(t *testing.T, stdin io.Reader, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env, cmd.Stdin = e.env, stdin
	cmd.WaitDelay = 5 * time.Second
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("%s %s hung:\n%s", name, strings.Join(args, " "), out.String())
	}
	return out.String(), err
}

// tool runs pkcs11-tool with the module.
func (e *p11Env) tool(t *testing.T, stdin io.Reader, args ...string) (string, error) {
	t.Helper()
	return e.run(t, stdin, "pkcs11-tool", append([]string{"--module", e.module}, args...)...)
}

// credentialFiles writes a credential's certificate and public key as PEM.
func (e *p11Env) credentialFiles(t *testing.T, cred string) (certPEM, pubPEM string) {
	t.Helper()
	chain := e.s.credentialChain(t, cred)
	dir := t.TempDir()
	certPEM = writeFile(t, filepath.Join(dir, "cert.pem"), string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: chain[0].Raw})))
	pubPEM = filepath.Join(dir, "pub.pem")
	mustOpenSSL(t, "x509", "-in", certPEM, "-pubkey", "-noout", "-out", pubPEM)
	return certPEM, pubPEM
}

// keyID is the CKA_ID the module gives a credential's objects, in hex.
func (e *p11Env) keyID(t *testing.T, cred string) string {
	t.Helper()
	return hex.EncodeToString(pkcs11.KeyID(e.s.credentialChain(t, cred)[0]))
}

// interactive runs pkcs11-tool on a terminal (script(1)), as a holder does:
// pkcs11-tool reads PINs from the terminal only. Each time it asks for a
// PIN, answer is given the prompt and types its answer.
func (e *p11Env) interactive(t *testing.T, answer func(prompt string) string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var q []string
	for _, a := range append([]string{"pkcs11-tool", "--module", e.module}, args...) {
		q = append(q, shellQuote(a))
	}
	line := strings.Join(q, " ")
	cmd := exec.CommandContext(ctx, "script", "-q", "-e", "-c", line, "/dev/null")
	cmd.Env = e.env
	cmd.WaitDelay = 5 * time.Second
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	chunks := make(chan []byte)
	go func() {
		defer close(chunks)
		for {
			buf := make([]byte, 4096)
			n, err := stdout.Read(buf)
			if n > 0 {
				chunks <- buf[:n]
			}
			if err != nil {
				return
			}
		}
	}()
	// pkcs11-tool prints the prompt, then turns the terminal's echo off with
	// TCSAFLUSH, which throws away what was typed in between. On a loaded
	// machine the answer can land in that gap: the terminal then echoes it
	// and pkcs11-tool waits for ever. An echoed answer was thrown away, so it
	// is typed again — but only once the output has been quiet for a while:
	// typed at once, it may land in the gap again, and again (a flood of
	// echoes), and one typed while the echo goes off can be cut in two, the
	// first letters flushed and the rest read as a wrong PIN.
	const quiet = 300 * time.Millisecond
	var out strings.Builder
	seen := 0
	typed := ""     // the last answer, while it may still come back as an echo
	echoed := false // typed came back as an echo and was not typed again yet
	retype := time.NewTimer(time.Hour)
	defer retype.Stop()
	for done := false; !done; {
		select {
		case chunk, ok := <-chunks:
			if !ok {
				done = true
				break
			}
			out.Write(chunk)
			if typed != "" {
				if i := strings.Index(out.String()[seen:], typed+"\r\n"); i >= 0 {
					seen += i + len(typed) + 2
					echoed = true
				}
			}
			if i := strings.Index(out.String()[seen:], "PIN:"); i >= 0 {
				prompt := out.String()[seen : seen+i+4]
				seen += i + 4
				typed, echoed = answer(prompt), false
				fmt.Fprintf(stdin, "%s\n", typed)
			}
			retype.Reset(quiet)
		case <-retype.C:
			if echoed {
				echoed = false
				fmt.Fprintf(stdin, "%s\n", typed)
			}
			retype.Reset(time.Hour)
		}
	}
	stdin.Close()
	err = cmd.Wait()
	if ctx.Err() != nil {
		t.Fatalf("pkcs11-tool %s hung:\n%s", strings.Join(args, " "), out.String())
	}
	return out.String(), err
}

// smsAnswer types the code the service texts after the signature starts.
func (e *p11Env) smsAnswer(t *testing.T) func(string) string {
	n := e.s.smsCount(t)
	return func(prompt string) string {
		if !strings.Contains(prompt, "context specific") {
			t.Errorf("pkcs11-tool asked %q", prompt)
			return ""
		}
		for deadline := time.Now().Add(20 * time.Second); e.s.smsCount(t) == n; time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Error("no SMS after the signature started")
				return ""
			}
		}
		n = e.s.smsCount(t)
		return e.s.smsCode(t)
	}
}

// TestPKCS11Tool: pkcs11-tool lists the holder's token and objects and signs
// with every mechanism the keys allow, each signature approved by the SMS
// code typed at the key's PIN prompt, and openssl verifies the signatures
// against the credentials' certificates.
func TestPKCS11Tool(t *testing.T) {
	t.Parallel()
	s := newCSCServer(t)
	ec := s.credential(t, selo.ApprovalSMS, selo.KeyECDSAP256)
	rsa := s.credential(t, selo.ApprovalSMS, selo.KeyRSA3072)
	e := newP11Env(t, s, nil)
	e.login(t)

	out, err := e.tool(t, nil, "--list-slots", "--list-objects")
	if err != nil {
		t.Fatalf("list: %v\n%s", err, out)
	}
	for _, want := range []string{"token label        : maria@example.pt", "readonly", "ID:         " + e.keyID(t, ec), "ID:         " + e.keyID(t, rsa),
		"Private Key Object; EC", "Private Key Object; RSA", "always authenticate", "Selo Test Root CA"} {
		if !strings.Contains(out, want) {
			t.Errorf("--list-objects lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "login required") {
		t.Errorf("a token logged in by the token file asks for a login:\n%s", out)
	}

	dir := t.TempDir()
	data := writeFile(t, filepath.Join(dir, "data"), "contract of lease, 2026")
	sum := sha256.Sum256([]byte("contract of lease, 2026"))
	hash := writeFile(t, filepath.Join(dir, "hash"), string(sum[:]))
	// DigestInfo of SHA-256 (RFC 8017) before the hash: what CKM_RSA_PKCS signs.
	prefix, _ := hex.DecodeString("3031300d060960864801650304020105000420")
	digestInfo := writeFile(t, filepath.Join(dir, "digestinfo"), string(prefix)+string(sum[:]))
	for _, c := range []struct {
		cred, mech, input string
		verify            []string
	}{
		{ec, "ECDSA", hash, []string{"pkeyutl", "-verify", "-in", hash}},
		{ec, "ECDSA-SHA256", data, []string{"dgst", "-sha256", data}},
		{ec, "ECDSA-SHA384", data, []string{"dgst", "-sha384", data}},
		{rsa, "RSA-PKCS", digestInfo, []string{"pkeyutl", "-verify", "-pkeyopt", "digest:sha256", "-in", hash}},
		{rsa, "SHA256-RSA-PKCS", data, []string{"dgst", "-sha256", data}},
		{rsa, "RSA-PKCS-PSS", hash, []string{"pkeyutl", "-verify", "-pkeyopt", "rsa_padding_mode:pss", "-pkeyopt", "rsa_pss_saltlen:digest", "-pkeyopt", "digest:sha256", "-in", hash}},
	} {
		t.Run(c.mech, func(t *testing.T) {
			sig := filepath.Join(t.TempDir(), "sig")
			args := []string{"--sign", "--mechanism", c.mech, "--id", e.keyID(t, c.cred), "--input-file", c.input, "--output-file", sig}
			if strings.HasPrefix(c.mech, "ECDSA") {
				args = append(args, "--signature-format", "openssl")
			}
			if strings.Contains(c.mech, "PSS") {
				args = append(args, "--hash-algorithm", "SHA256", "--mgf", "MGF1-SHA256")
			}
			out, err := e.interactive(t, e.smsAnswer(t), args...)
			if err != nil {
				t.Fatalf("sign: %v\n%s\nmodule log:\n%s", err, out, readFile(t, e.log))
			}
			_, pub := e.credentialFiles(t, c.cred)
			v := append([]string{}, c.verify...)
			if v[0] == "dgst" {
				v = append(v[:2], "-verify", pub, "-signature", sig, v[2])
			} else {
				v = append(v, "-pubin", "-inkey", pub, "-sigfile", sig)
			}
			if out, err := openssl(t, v...); err != nil || !strings.Contains(out, "Verified") {
				t.Fatalf("openssl %s: %v\n%s", strings.Join(v, " "), err, out)
			}
		})
	}

	// What the key does not allow is refused before any code is sent.
	n := s.smsCount(t)
	for _, c := range []struct{ cred, mech, input, want string }{
		{ec, "RSA-PKCS-PSS", hash, "CKR_KEY_TYPE_INCONSISTENT"},
		{ec, "SHA256-RSA-PKCS", data, "CKR_KEY_TYPE_INCONSISTENT"},
		{ec, "ECDH1-DERIVE", data, "CKR_MECHANISM_INVALID"},
		{rsa, "SHA1-RSA-PKCS", data, "CKR_MECHANISM_INVALID"},
		{rsa, "RSA-PKCS-PSS --salt-len 20", hash, "CKR_MECHANISM_PARAM_INVALID"},
	} {
		mech, extra, _ := strings.Cut(c.mech, " ")
		args := []string{"--sign", "--mechanism", mech, "--id", e.keyID(t, c.cred), "--input-file", c.input, "--output-file", filepath.Join(dir, "x")}
		if extra != "" {
			args = append(args, strings.Fields(extra)...)
		}
		if strings.Contains(c.mech, "PSS") {
			args = append(args, "--hash-algorithm", "SHA256", "--mgf", "MGF1-SHA256")
		}
		out, err := e.tool(t, nil, args...)
		if err == nil || !strings.Contains(out, c.want) {
			t.Errorf("%s with %s: want %s:\n%s", c.mech, c.cred, c.want, out)
		}
	}
	if s.smsCount(t) != n {
		t.Error("a refused mechanism sent an SMS")
	}
}

// TestPKCS11Wallet: a credential approved in the wallet signs through
// pkcs11-tool with no PIN at all (the module waits while the holder
// approves), and a holder who does not approve within the module's wallet
// timeout gets CKR_FUNCTION_REJECTED, not a hang.
func TestPKCS11Wallet(t *testing.T) {
	t.Parallel()
	s := newCSCServer(t)
	cred := s.credential(t, selo.ApprovalWallet, selo.KeyECDSAP384)
	wallet, key := s.registerWallet(t)
	e := newP11Env(t, s, func(c *pkcs11.Config) { c.WalletTimeout = pkcs11.Duration(3 * time.Second) })
	e.login(t)
	out, err := e.tool(t, nil, "--list-objects", "--type", "privkey")
	if err != nil || strings.Contains(out, "always authenticate") {
		t.Fatalf("a wallet key asks for a PIN per signature (%v):\n%s", err, out)
	}
	data := writeFile(t, filepath.Join(t.TempDir(), "data"), "lease")
	sig := filepath.Join(t.TempDir(), "sig")
	done := make(chan struct{})
	go func() {
		defer close(done)
		pending := s.approveInWallet(t, wallet, key)
		if len(pending[0].Hashes) != 1 {
			t.Errorf("the wallet shows %d hashes", len(pending[0].Hashes))
		}
	}()
	out, err = e.tool(t, nil, "--sign", "--mechanism", "ECDSA-SHA384", "--id", e.keyID(t, cred), "--input-file", data, "--output-file", sig, "--signature-format", "openssl")
	<-done
	if err != nil {
		t.Fatalf("sign with a wallet approval: %v\n%s\n%s", err, out, readFile(t, e.log))
	}
	_, pub := e.credentialFiles(t, cred)
	if out, err := openssl(t, "dgst", "-sha384", "-verify", pub, "-signature", sig, data); err != nil {
		t.Fatalf("verify: %v\n%s", err, out)
	}
	if !strings.Contains(string(readFile(t, e.log)), "waiting for the holder's approval in the wallet") {
		t.Errorf("the log does not say the module waited for the wallet:\n%s", readFile(t, e.log))
	}

	// Nobody approves: the signature fails after the wallet timeout.
	start := time.Now()
	out, err = e.tool(t, nil, "--sign", "--mechanism", "ECDSA-SHA384", "--id", e.keyID(t, cred), "--input-file", data, "--output-file", sig)
	// OpenSC has no name for CKR_FUNCTION_REJECTED (0x200).
	if err == nil || !strings.Contains(out, "(0x200)") {
		t.Fatalf("an unapproved signature: %v\n%s", err, out)
	}
	if d := time.Since(start); d > 15*time.Second {
		t.Fatalf("an unapproved signature took %s with a wallet timeout of 3s", d)
	}
}

// TestPKCS11Errors: a wrong code, a revoked certificate, a wrong password,
// writes to the read-only token, and a service that is down or does not
// answer each reach the application as a CKR_ error within the module's
// timeout.
func TestPKCS11Errors(t *testing.T) {
	t.Parallel()
	s := newCSCServer(t)
	cred := s.credential(t, selo.ApprovalSMS, selo.KeyECDSAP256)
	e := newP11Env(t, s, nil)
	dir := t.TempDir()
	data := writeFile(t, filepath.Join(dir, "data"), "invoice")
	sign := []string{"--sign", "--mechanism", "ECDSA-SHA256", "--id", e.keyID(t, cred), "--input-file", data, "--output-file", filepath.Join(dir, "sig")}

	// No token file: the application asks for the token's PIN, the account
	// password; a wrong one is CKR_PIN_INCORRECT.
	out, err := e.interactive(t, func(string) string { return "not the password" }, "--login", "--list-objects")
	if err == nil || !strings.Contains(out, "CKR_PIN_INCORRECT") {
		t.Fatalf("a wrong password: %v\n%s", err, out)
	}
	pw := strings.TrimSpace(string(readFile(t, s.pwFile)))
	answers, sms := 0, e.smsAnswer(t)
	out, err = e.interactive(t, func(p string) string {
		answers++
		if answers == 1 {
			return pw // User PIN
		}
		return sms(p)
	}, append([]string{"--login"}, sign...)...)
	if err != nil || !strings.Contains(out, "Please enter User PIN") {
		t.Fatalf("log in with the password and sign: %v\n%s\n%s", err, out, readFile(t, e.log))
	}

	e.login(t)
	// A wrong code.
	out, err = e.interactive(t, func(string) string { return "00000000" }, sign...)
	if err == nil || !strings.Contains(out, "CKR_PIN_INCORRECT") {
		t.Fatalf("a wrong code: %v\n%s", err, out)
	}

	// The token is read-only.
	for _, args := range [][]string{
		{"--delete-object", "--type", "cert", "--id", e.keyID(t, cred)},
		{"--write-object", data, "--type", "data", "--label", "x"},
		{"--keypairgen", "--key-type", "EC:prime256v1"},
	} {
		out, err := e.tool(t, nil, args...)
		if err == nil || !strings.Contains(out, "CKR_TOKEN_WRITE_PROTECTED") {
			t.Errorf("%s: %v\n%s", args[0], err, out)
		}
	}

	// A revoked certificate signs no more; no code is sent for it.
	serial := s.credentialChain(t, cred)[0].SerialNumber.Text(16)
	if _, _, err := s.ca.Revoke(context.Background(), "operator", authority.RevokeRequest{Serial: serial, Reason: selo.ReasonKeyCompromise}); err != nil {
		t.Fatal(err)
	}
	n := s.smsCount(t)
	out, err = e.tool(t, nil, sign...)
	if err == nil || !strings.Contains(out, "CKR_KEY_FUNCTION_NOT_PERMITTED") || s.smsCount(t) != n {
		t.Fatalf("a revoked certificate: %v (SMS sent: %d)\n%s", err, s.smsCount(t)-n, out)
	}

	// A service that is down, and one that accepts and never answers.
	for name, addr := range map[string]string{"down": closedAddr(t), "silent": silentAddr(t)} {
		d := newP11Env(t, s, func(c *pkcs11.Config) {
			c.Accounts[0].Server = "http://" + addr + "/csc/v2"
			c.Timeout = pkcs11.Duration(2 * time.Second)
		})
		writeFile(t, d.tokenFile, `{"server":"http://`+addr+`/csc/v2","access_token":"tok","expires_at":"2099-01-01T00:00:00Z"}`)
		start := time.Now()
		out, err := d.tool(t, nil, "--list-objects")
		if err == nil || !strings.Contains(out, "CKR_DEVICE_ERROR") {
			t.Errorf("service %s: %v\n%s", name, err, out)
		}
		if el := time.Since(start); el > 10*time.Second {
			t.Errorf("service %s: pkcs11-tool took %s with a 2s timeout", name, el)
		}
	}
}

// closedAddr is an address where nothing listens.
func closedAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// silentAddr is an address that accepts connections and never answers.
func silentAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	return l.Addr().String()
}

// certLabel is the CKA_LABEL the module gives a credential's certificate.
func (e *p11Env) certLabel(t *testing.T, cred string) string {
	t.Helper()
	out, err := e.tool(t, nil, "--list-objects", "--type", "cert")
	if err != nil {
		t.Fatalf("list the certificates: %v\n%s", err, out)
	}
	for _, block := range strings.Split(out, "Certificate Object")[1:] {
		if !strings.Contains(block, "ID:         "+e.keyID(t, cred)) {
			continue
		}
		for _, l := range strings.Split(block, "\n") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(l), "label:"); ok {
				return strings.TrimSpace(v)
			}
		}
	}
	t.Fatalf("no label:\n%s", out)
	return ""
}

// mustRun runs a tool with the module's environment and fails on error.
func (e *p11Env) mustRun(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := e.run(t, nil, name, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s\nmodule log:\n%s", name, strings.Join(args, " "), err, out, readFile(t, e.log))
	}
	return out
}

// TestPKCS11NSS: the module added to an NSS database with modutil shows the
// holder's certificates to certutil, and pdfsig signs a PDF through it,
// approved by SMS codes (pdfsig signs twice per document and asks for no PIN
// itself: the module's code command asks the holder) and in the wallet;
// pdfsig then calls both signatures valid.
func TestPKCS11NSS(t *testing.T) {
	t.Parallel()
	signtest.Tool(t, "pdfsig", "poppler-utils")
	signtest.Tool(t, "modutil", "libnss3-tools")
	s := newCSCServer(t)
	// RSA keys: poppler 22.12 sizes the signature by a first one and fails
	// when the second differs in length, as ECDSA signatures (DER) may.
	sms := s.credential(t, selo.ApprovalSMS, selo.KeyRSA3072)
	wal := s.credential(t, selo.ApprovalWallet, selo.KeyRSA3072)
	wallet, key := s.registerWallet(t)
	// The code command: the holder types each code the phone shows into a
	// dialog; here the test writes it into a file the command waits for.
	codes := t.TempDir()
	ask := writeFile(t, filepath.Join(codes, "ask"), "#!/bin/sh\nf="+codes+"/code\ni=0\nwhile [ ! -s \"$f\" ]; do sleep 0.05; i=$((i+1)); [ $i -gt 400 ] && exit 1; done\ncat \"$f\"; rm -f \"$f\"\n")
	if err := os.Chmod(ask, 0o700); err != nil {
		t.Fatal(err)
	}
	e := newP11Env(t, s, func(c *pkcs11.Config) { c.CodeCommand = []string{ask} })
	e.login(t)

	db := t.TempDir()
	e.mustRun(t, "certutil", "-N", "-d", "sql:"+db, "--empty-password")
	e.mustRun(t, "modutil", "-dbdir", "sql:"+db, "-add", "Selo", "-libfile", e.module, "-force")
	root, cn := s.credentialRoot(t, sms)
	e.mustRun(t, "certutil", "-A", "-d", "sql:"+db, "-n", "Selo test root", "-t", "C,,", "-i", root)
	list := e.mustRun(t, "certutil", "-L", "-d", "sql:"+db, "-h", "all")
	smsNick, walNick := "maria@example.pt:"+e.certLabel(t, sms), "maria@example.pt:"+e.certLabel(t, wal)
	for _, want := range []string{smsNick, walNick} {
		if !strings.Contains(list, want) {
			t.Fatalf("certutil -L -h all lacks %q:\n%s", want, list)
		}
	}

	dir := t.TempDir()
	in := writeFile(t, filepath.Join(dir, "lease.pdf"), string(onePagePDF()))
	// SMS: each code texted when a signature starts goes to the code command.
	signed := filepath.Join(dir, "lease-sms.pdf")
	typed := make(chan int)
	go func() {
		n, typing := s.smsCount(t), 0
		defer func() { typed <- typing }()
		for deadline := time.Now().Add(40 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			if c := s.smsCount(t); c > n {
				n = c
				if err := os.WriteFile(filepath.Join(codes, "code.tmp"), []byte(s.smsCode(t)+"\n"), 0o600); err != nil {
					t.Error(err)
					return
				}
				os.Rename(filepath.Join(codes, "code.tmp"), filepath.Join(codes, "code"))
				if typing++; typing == 2 {
					return
				}
			}
		}
	}()
	e.mustRun(t, "pdfsig", "-add-signature", "-nssdir", "sql:"+db, "-nick", smsNick, "-reason", "lease", in, signed)
	if n := <-typed; n != 2 {
		t.Errorf("pdfsig took %d codes; want 2 (a size estimate and the signature)", n)
	}
	pdfsigValid(t, signed, cn)

	// Wallet: pdfsig waits while the holder approves.
	signed = filepath.Join(dir, "lease-wallet.pdf")
	done := make(chan struct{})
	go func() {
		defer close(done)
		// pdfsig signs twice: two approvals.
		s.approveInWallet(t, wallet, key)
		s.approveInWallet(t, wallet, key)
	}()
	e.mustRun(t, "pdfsig", "-add-signature", "-nssdir", "sql:"+db, "-nick", walNick, in, signed)
	<-done
	pdfsigValid(t, signed, cn)
}

// TestPKCS11OpenSSLEngine: OpenSSL signs through the module with its pkcs11
// engine (libengine-pkcs11-openssl) and a pkcs11: URI, approved in the
// wallet; openssl verifies the signature with the certificate.
func TestPKCS11OpenSSLEngine(t *testing.T) {
	t.Parallel()
	engine := "/usr/lib/x86_64-linux-gnu/engines-3/pkcs11.so"
	if _, err := os.Stat(engine); err != nil {
		t.Fatalf("the pkcs11 engine is needed (libengine-pkcs11-openssl, which .ci/run installs): %v", err)
	}
	s := newCSCServer(t)
	cred := s.credential(t, selo.ApprovalWallet, selo.KeyECDSAP256)
	wallet, key := s.registerWallet(t)
	e := newP11Env(t, s, nil)
	e.login(t)
	conf := writeFile(t, filepath.Join(t.TempDir(), "openssl.cnf"), `openssl_conf = openssl_init
[openssl_init]
engines = engine_section
[engine_section]
pkcs11 = pkcs11_section
[pkcs11_section]
engine_id = pkcs11
dynamic_path = `+engine+`
MODULE_PATH = `+e.module+`
init = 0
`)
	e.env = append(e.env, "OPENSSL_CONF="+conf)
	id := e.keyID(t, cred)
	var uri strings.Builder
	uri.WriteString("pkcs11:token=maria%40example.pt;type=private;id=")
	for i := 0; i < len(id); i += 2 {
		uri.WriteString("%" + id[i:i+2])
	}
	dir := t.TempDir()
	data := writeFile(t, filepath.Join(dir, "data"), "purchase order 77")
	sig := filepath.Join(dir, "sig")
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.approveInWallet(t, wallet, key)
	}()
	e.mustRun(t, "openssl", "dgst", "-engine", "pkcs11", "-keyform", "engine", "-sign", uri.String(), "-sha256", "-out", sig, data)
	<-done
	_, pub := e.credentialFiles(t, cred)
	mustOpenSSL(t, "dgst", "-sha256", "-verify", pub, "-signature", sig, data)
}

// TestPKCS11Setup: setup adds an account or replaces the same one, keeps
// the others, and refuses what the module could not use.
func TestPKCS11Setup(t *testing.T) {
	t.Parallel()
	cfg := filepath.Join(t.TempDir(), "selo", "pkcs11.json")
	mustRunSelo(t, "pkcs11", "setup", "--config", cfg, "--server", "https://sign.example.eu", "--email", "maria@example.pt")
	mustRunSelo(t, "pkcs11", "setup", "--config", cfg, "--server", "https://sign.example.eu/csc/v2", "--email", "maria@example.pt", "--label", "Maria")
	r := mustRunSelo(t, "pkcs11", "setup", "--config", cfg, "--server", "https://other.example.eu", "--email", "maria@example.pt", "--wallet-timeout", "45s")
	if !strings.Contains(r.stdout, "2 account(s)") {
		t.Fatalf("setup:\n%s", r)
	}
	c, err := pkcs11.ReadConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Accounts) != 2 || c.Accounts[0].Server != "https://sign.example.eu/csc/v2" || c.Accounts[0].Label != "Maria" ||
		c.Accounts[1].Server != "https://other.example.eu/csc/v2" || time.Duration(c.WalletTimeout) != 45*time.Second {
		t.Fatalf("configuration: %+v", c)
	}
	if fi, err := os.Stat(cfg); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("configuration file mode: %v %v", fi.Mode(), err)
	}
	wantExit(t, runSelo(t, "pkcs11", "setup", "--config", cfg, "--email", "maria@example.pt"), 2, "--server")
	wantExit(t, runSelo(t, "pkcs11", "setup", "--config", cfg, "--server", "ftp://x", "--email", "maria@example.pt"), 2, "not an http(s) URL")
	wantExit(t, runSelo(t, "pkcs11", "setup", "--config", cfg, "--server", "https://x.eu", "--email", "maria", "--timeout", "1h"), 2, "e-mail")
	if c2, _ := pkcs11.ReadConfig(cfg); len(c2.Accounts) != 2 {
		t.Fatal("a refused setup changed the configuration")
	}
}

// TestPKCS11Authorizer: an e-seal approved by an authorizer signs through the
// module with the authorizer's code (the ERP's code command prints it);
// once the holder disables the authorizer, its codes give the application
// a CKR_ error, not a hang.
func TestPKCS11Authorizer(t *testing.T) {
	t.Parallel()
	s := newCSCServer(t)
	ctx := context.Background()
	c, err := s.svc.AttachOrderCredential(ctx, "operator", s.env.OrderCredential(t, s.acct.Email, "qualified-seal", selo.ApprovalAuthorizer, selo.KeyECDSAP256))
	if err != nil {
		t.Fatal(err)
	}
	cred := c.CredentialID
	a, err := s.svc.RegisterAuthorizer(ctx, s.acct.ID, cred, "ERP")
	if err != nil {
		t.Fatal(err)
	}
	setup, err := s.svc.ConfirmAuthorizer(ctx, s.acct.ID, a.ID, s.smsCode(t))
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(setup.URI)
	if err != nil {
		t.Fatal(err)
	}
	secret, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.ToUpper(u.Query().Get("secret")))
	if err != nil {
		t.Fatal(err)
	}
	p := approval.OTPParams{Algorithm: approval.Algorithm(u.Query().Get("algorithm")), Digits: 6, Period: 30 * time.Second}
	if d, err := strconv.Atoi(u.Query().Get("digits")); err == nil {
		p.Digits = d
	}
	if sec, err := strconv.Atoi(u.Query().Get("period")); err == nil {
		p.Period = time.Duration(sec) * time.Second
	}
	codeFile := filepath.Join(t.TempDir(), "code")
	e := newP11Env(t, s, func(c *pkcs11.Config) { c.CodeCommand = []string{"cat", codeFile} })
	e.login(t)
	dir := t.TempDir()
	data := writeFile(t, filepath.Join(dir, "invoice.xml"), "<Invoice/>")
	sig := filepath.Join(dir, "sig")
	sign := []string{"--sign", "--mechanism", "ECDSA-SHA256", "--id", e.keyID(t, cred), "--input-file", data, "--output-file", sig, "--signature-format", "openssl"}
	writeFile(t, codeFile, approval.TOTP(secret, time.Now(), p)+"\n")
	if out, err := e.tool(t, nil, sign...); err != nil {
		t.Fatalf("sign with the authorizer's code: %v\n%s\n%s", err, out, readFile(t, e.log))
	}
	_, pub := e.credentialFiles(t, cred)
	mustOpenSSL(t, "dgst", "-sha256", "-verify", pub, "-signature", sig, data)

	if err := s.svc.SetAuthorizerEnabled(ctx, s.acct.ID, a.ID, false); err != nil {
		t.Fatal(err)
	}
	writeFile(t, codeFile, approval.TOTP(secret, time.Now().Add(p.Period), p)+"\n")
	start := time.Now()
	out, err := e.tool(t, nil, sign...)
	// The service refuses the approval (access_denied): CKR_FUNCTION_REJECTED,
	// which OpenSC prints as 0x200.
	if err == nil || !strings.Contains(out, "(0x200)") {
		t.Fatalf("a disabled authorizer: %v\n%s", err, out)
	}
	if el := time.Since(start); el > 20*time.Second {
		t.Fatalf("a disabled authorizer took %s", el)
	}
}
