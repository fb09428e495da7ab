package main

// The PKCS#11 module (cmd/selo-pkcs11) loaded by tools nobody here wrote:
// pkcs11-tool (OpenSC), NSS (modutil, certutil, pdfsig) and OpenSSL's
// pkcs11 engine, against the in-process Selo server of cscserver_test.go.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/selo-qtsp/selo"
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
	var out strings.Builder
	buf := make([]byte, 4096)
	seen := 0
	for {
		n, rerr := stdout.Read(buf)
		out.Write(buf[:n])
		if i := strings.Index(out.String()[seen:], "PIN:"); i >= 0 {
			prompt := out.String()[seen : seen+i+4]
			seen += i + 4
			fmt.Fprintf(stdin, "%s\n", answer(prompt))
		}
		if rerr != nil {
			break
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
	} {
		t.Run(c.mech, func(t *testing.T) {
			sig := filepath.Join(t.TempDir(), "sig")
			args := []string{"--sign", "--mechanism", c.mech, "--id", e.keyID(t, c.cred), "--input-file", c.input, "--output-file", sig}
			if strings.HasPrefix(c.mech, "ECDSA") {
				args = append(args, "--signature-format", "openssl")
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
		{rsa, "RSA-PKCS-PSS", hash, "CKR_MECHANISM_INVALID"},
		{ec, "SHA256-RSA-PKCS", data, "CKR_KEY_TYPE_INCONSISTENT"},
		{ec, "ECDH1-DERIVE", data, "CKR_MECHANISM_INVALID"},
		{rsa, "SHA1-RSA-PKCS", data, "CKR_MECHANISM_INVALID"},
	} {
		args := []string{"--sign", "--mechanism", c.mech, "--id", e.keyID(t, c.cred), "--input-file", c.input, "--output-file", filepath.Join(dir, "x")}
		if strings.Contains(c.mech, "PSS") {
			args = append(args, "--hash-algorithm", "SHA256")
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
