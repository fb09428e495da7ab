package main

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// The tests in this package run the selo command line end to end: in process
// through Run where they can (fast, and -race sees the whole program), and as
// a built binary only where a signal or a real process matters.

func TestMain(m *testing.M) {
	// The operator's own settings must not leak into the tests.
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "SELO_") && name != "SELO_TEST_POSTGRES" {
			os.Unsetenv(name)
		}
	}
	code := m.Run()
	if initOnce.dir != "" {
		os.RemoveAll(filepath.Dir(initOnce.dir))
	}
	if buildOnce.path != "" {
		os.RemoveAll(filepath.Dir(buildOnce.path))
	}
	if moduleOnce.dir != "" {
		os.RemoveAll(moduleOnce.dir)
	}
	os.Exit(code)
}

// result is what one selo command did.
type result struct {
	args           []string
	code           int
	stdout, stderr string
}

func (r result) String() string {
	return "selo " + strings.Join(r.args, " ") + "\nexit " + strconv.Itoa(r.code) + "\nstdout:\n" + r.stdout + "\nstderr:\n" + r.stderr
}

// runSelo runs the command line in process with an empty standard input.
func runSelo(t *testing.T, args ...string) result {
	t.Helper()
	return runSeloStdin(t, "", args...)
}

func runSeloStdin(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := Run(t.Context(), args, strings.NewReader(stdin), &stdout, &stderr)
	return result{args: args, code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// mustRunSelo runs the command line and fails the test unless it exits 0.
func mustRunSelo(t *testing.T, args ...string) result {
	t.Helper()
	r := runSelo(t, args...)
	if r.code != 0 {
		t.Fatalf("want exit 0:\n%s", r)
	}
	return r
}

// wantExit fails the test unless r exited with code and its standard error
// holds every one of msgs.
func wantExit(t *testing.T, r result, code int, msgs ...string) {
	t.Helper()
	if r.code != code {
		t.Fatalf("want exit %d:\n%s", code, r)
	}
	for _, m := range msgs {
		if !strings.Contains(r.stderr, m) {
			t.Fatalf("want %q on standard error:\n%s", m, r)
		}
	}
}

// decodeJSON decodes the command's standard output, which must be one JSON value.
func decodeJSON(t *testing.T, r result, v any) {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(r.stdout))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("standard output is not the JSON expected: %v\n%s", err, r)
	}
	if dec.More() {
		t.Fatalf("more than one JSON value on standard output:\n%s", r)
	}
}

// initOnce holds one data directory initialized with `selo init` on the
// defaults; tests work on copies of it so that init runs once.
var initOnce struct {
	sync.Once
	dir string
	out initResult
	res result
	err string
}

// templateDataDir returns the shared initialized data directory. Tests must
// not change it: dataDir gives each test its own copy.
func templateDataDir(t *testing.T) (string, initResult) {
	t.Helper()
	initOnce.Do(func() {
		dir, err := os.MkdirTemp("", "selo-data-")
		if err != nil {
			initOnce.err = err.Error()
			return
		}
		initOnce.dir = filepath.Join(dir, "data")
		var stdout, stderr bytes.Buffer
		args := []string{"init", "--data", initOnce.dir, "--json"}
		code := Run(t.Context(), args, strings.NewReader(""), &stdout, &stderr)
		initOnce.res = result{args: args, code: code, stdout: stdout.String(), stderr: stderr.String()}
		if code != 0 {
			initOnce.err = "selo init failed:\n" + initOnce.res.String()
			return
		}
		if err := json.Unmarshal(stdout.Bytes(), &initOnce.out); err != nil {
			initOnce.err = "selo init --json: " + err.Error() + "\n" + initOnce.res.String()
		}
	})
	if initOnce.err != "" {
		t.Fatal(initOnce.err)
	}
	return initOnce.dir, initOnce.out
}

// dataDir returns a private copy of the initialized data directory.
func dataDir(t *testing.T) string {
	t.Helper()
	src, _ := templateDataDir(t)
	dst := filepath.Join(t.TempDir(), "data")
	copyDir(t, src, dst)
	return dst
}

func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		target := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		if d.IsDir() {
			return os.MkdirAll(target, info.Mode().Perm())
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, info.Mode().Perm())
	})
	if err != nil {
		t.Fatalf("copy %s: %v", src, err)
	}
}

// dirDigest returns a digest of every file's name, mode and contents under dir.
func dirDigest(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		rel, _ := filepath.Rel(dir, path)
		out[rel] = info.Mode().String() + " " + hex.EncodeToString(sum[:])
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func writeFile(t *testing.T, path, content string) string {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// parsePEMCertificates returns every CERTIFICATE block in b, which must hold
// nothing else.
func parsePEMCertificates(t *testing.T, b []byte) []*x509.Certificate {
	t.Helper()
	var certs []*x509.Certificate
	for {
		var block *pem.Block
		block, b = pem.Decode(b)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			t.Fatalf("PEM block %q, want CERTIFICATE", block.Type)
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		certs = append(certs, c)
	}
	if len(bytes.TrimSpace(b)) != 0 {
		t.Fatalf("trailing data after the certificates: %q", b)
	}
	if len(certs) == 0 {
		t.Fatal("no certificate in the PEM")
	}
	return certs
}

// chainFiles writes the CA's certificate and its chain: the issuing CA alone
// and the root alone, for openssl verify.
func chainFiles(t *testing.T, data, caID string) (issuing, root string) {
	t.Helper()
	r := mustRunSelo(t, "ca", "chain", caID, "--data", data)
	certs := parsePEMCertificates(t, []byte(r.stdout))
	dir := t.TempDir()
	root = filepath.Join(dir, "root.pem")
	writeFile(t, root, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: certs[len(certs)-1].Raw})))
	issuing = filepath.Join(dir, caID+".pem")
	var b []byte
	for _, c := range certs[:len(certs)-1] {
		b = append(b, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	writeFile(t, issuing, string(b))
	return issuing, root
}

// openssl runs the openssl command line. Without openssl the test is skipped
// on a developer's machine and fails in CI.
func openssl(t *testing.T, args ...string) (string, error) {
	t.Helper()
	path, err := exec.LookPath("openssl")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("openssl is not installed, and CI must run every test")
		}
		t.Skip("openssl is not installed")
	}
	cmd := exec.Command(path, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	return out.String(), err
}

func mustOpenSSL(t *testing.T, args ...string) string {
	t.Helper()
	out, err := openssl(t, args...)
	if err != nil {
		t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}
