//go:build cgo

package pkcs11

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/ThalesGroup/crypto11"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/keystore/keystoretest"
)

const (
	testToken = "selo-test"
	testPIN   = "1234"
	testSOPIN = "5678"
)

// softHSM is the SoftHSM2 set up by TestMain, or why there is none.
var softHSM struct {
	module  string
	missing string
}

// moduleCandidates are where distributions put SoftHSM2's module.
var moduleCandidates = []string{
	"/usr/lib/softhsm/libsofthsm2.so",                  // Debian, Ubuntu
	"/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so", // older Debian
	"/usr/lib64/pkcs11/libsofthsm2.so",                 // Fedora
	"/usr/local/lib/softhsm/libsofthsm2.so",            // source build
	"/opt/homebrew/lib/softhsm/libsofthsm2.so",         // macOS
}

// TestMain gives the whole test binary one SoftHSM2 configuration and token in
// a temporary directory. One, because a PKCS#11 module reads its
// configuration once per process (C_Initialize), so SOFTHSM2_CONF cannot
// change between tests.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "selo-softhsm-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	softHSM.missing = setUpSoftHSM(dir)
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

func setUpSoftHSM(dir string) (missing string) {
	candidates := moduleCandidates
	if m := os.Getenv("SELO_TEST_PKCS11_MODULE"); m != "" {
		candidates = []string{m}
	}
	for _, c := range candidates {
		if _, err := os.Stat(c); err == nil {
			softHSM.module = c
			break
		}
	}
	if softHSM.module == "" {
		return "the SoftHSM2 module is not installed (apt-get install softhsm2, or set SELO_TEST_PKCS11_MODULE)"
	}
	util, err := exec.LookPath("softhsm2-util")
	if err != nil {
		return "softhsm2-util is not installed (apt-get install softhsm2)"
	}
	tokens := filepath.Join(dir, "tokens")
	if err := os.Mkdir(tokens, 0o700); err != nil {
		return err.Error()
	}
	conf := filepath.Join(dir, "softhsm2.conf")
	if err := os.WriteFile(conf, fmt.Appendf(nil, "directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n", tokens), 0o600); err != nil {
		return err.Error()
	}
	os.Setenv("SOFTHSM2_CONF", conf)
	out, err := exec.Command(util, "--init-token", "--free", "--label", testToken, "--pin", testPIN, "--so-pin", testSOPIN).CombinedOutput()
	if err != nil {
		// Not a missing tool: a broken one. Fail even on a laptop.
		fmt.Fprintf(os.Stderr, "softhsm2-util --init-token: %v\n%s", err, out)
		os.Exit(1)
	}
	return ""
}

// requireSoftHSM skips t, loudly, when SoftHSM2 is missing, and fails it when
// CI is set, since CI installs it.
func requireSoftHSM(t testing.TB) {
	t.Helper()
	if softHSM.missing == "" {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("CI is set but %s", softHSM.missing)
	}
	t.Skipf("SKIPPING PKCS#11 TESTS: %s", softHSM.missing)
}

func testConfig() Config {
	return Config{Module: softHSM.module, TokenLabel: testToken, PIN: testPIN}
}

func openTestStore(t testing.TB) *Store {
	t.Helper()
	requireSoftHSM(t)
	s, err := Open(testConfig())
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	requireSoftHSM(t)
	keystoretest.Run(t, func(t *testing.T) selo.KeyStore { return openTestStore(t) })
}

// TestPeerToolSeesKey checks with OpenSC's pkcs11-tool that a generated key is
// on the token under its ID, and that the token itself calls it sensitive and
// never extractable.
func TestPeerToolSeesKey(t *testing.T) {
	s := openTestStore(t)
	tool, err := exec.LookPath("pkcs11-tool")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("CI is set but pkcs11-tool is not installed (apt-get install opensc)")
		}
		t.Skip("SKIPPING PEER CHECK: pkcs11-tool is not installed (apt-get install opensc)")
	}
	ctx := context.Background()
	id := "peer/" + randomSuffix(t) + "/ca-root"
	if _, err := s.GenerateKey(ctx, id, selo.KeyECDSAP256, selo.KeyOptions{Exportable: true}); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(tool, "--module", softHSM.module, "--token-label", testToken,
		"--login", "--pin", testPIN, "--list-objects").CombinedOutput()
	if err != nil {
		t.Fatalf("pkcs11-tool --list-objects: %v\n%s", err, out)
	}
	var private string
	for _, obj := range objects(string(out)) {
		if strings.HasPrefix(obj, "Private Key Object") && strings.Contains(obj, "label:      "+id+"\n") {
			private = obj
		}
	}
	t.Logf("pkcs11-tool on the private key:\n%s", private)
	if private == "" {
		t.Fatalf("pkcs11-tool does not list a private key labelled %q:\n%s", id, out)
	}
	for _, want := range []string{"sensitive", "always sensitive", "never extractable", "Usage:      sign"} {
		if !strings.Contains(private, want) {
			t.Errorf("pkcs11-tool does not say %q of the private key:\n%s", want, private)
		}
	}
	for _, never := range []string{"decrypt", "unwrap", "derive"} {
		if strings.Contains(private, never) {
			t.Errorf("the signing key may %s:\n%s", never, private)
		}
	}

	if err := s.DeleteKey(ctx, id); err != nil {
		t.Fatal(err)
	}
	out, err = exec.Command(tool, "--module", softHSM.module, "--token-label", testToken,
		"--login", "--pin", testPIN, "--list-objects").CombinedOutput()
	if err != nil {
		t.Fatalf("pkcs11-tool --list-objects: %v\n%s", err, out)
	}
	if strings.Contains(string(out), id) {
		t.Fatalf("pkcs11-tool still lists %q after DeleteKey:\n%s", id, out)
	}
}

// TestKeyAttributes reads back, for each key type, the attributes that make a
// key sign-only and unexportable.
// objects splits pkcs11-tool --list-objects output into one string per
// object, each starting with its "... Object" line.
func objects(out string) []string {
	starts := regexp.MustCompile(`(?m)^\S.* Object`).FindAllStringIndex(out, -1)
	var objs []string
	for i, st := range starts {
		end := len(out)
		if i+1 < len(starts) {
			end = starts[i+1][0]
		}
		objs = append(objs, out[st[0]:end])
	}
	return objs
}

func TestKeyAttributes(t *testing.T) {
	s := openTestStore(t)
	for _, alg := range []selo.KeyAlgorithm{selo.KeyECDSAP256, selo.KeyRSA2048} {
		id := "usage/" + randomSuffix(t) + "/" + string(alg)
		if _, err := s.GenerateKey(context.Background(), id, alg, selo.KeyOptions{}); err != nil {
			t.Fatal(err)
		}
		checkAttributes(t, s, id)
	}
}

func checkAttributes(t *testing.T, s *Store, id string) {
	t.Helper()
	key, err := s.find(id)
	if err != nil {
		t.Fatal(err)
	}
	attrs, err := s.p11.GetAttributes(key, []crypto11.AttributeType{crypto11.CkaDecrypt, crypto11.CkaUnwrap, crypto11.CkaDerive, crypto11.CkaSign, crypto11.CkaSensitive, crypto11.CkaExtractable, crypto11.CkaPrivate})
	if err != nil {
		t.Fatal(err)
	}
	for typ, want := range map[crypto11.AttributeType]byte{
		crypto11.CkaDecrypt: 0, crypto11.CkaUnwrap: 0, crypto11.CkaDerive: 0, crypto11.CkaSign: 1,
		crypto11.CkaSensitive: 1, crypto11.CkaExtractable: 0, crypto11.CkaPrivate: 1,
	} {
		if v := attrs[typ].Value; len(v) != 1 || v[0] != want {
			t.Errorf("%s: attribute %v = %v, want %d", id, typ, v, want)
		}
	}
}

func TestKeysOutliveTheStore(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t)
	id := "reopen/" + randomSuffix(t)
	signer, err := s.GenerateKey(ctx, id, selo.KeyECDSAP384, selo.KeyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	again := openTestStore(t)
	got, err := again.Signer(ctx, id)
	if err != nil {
		t.Fatalf("Signer after reopening: %v", err)
	}
	if !signer.Public().(*ecdsa.PublicKey).Equal(got.Public()) {
		t.Fatal("public key changed across reopening")
	}
	keystoretest.CheckSigns(t, got)
}

// TestWrongPIN must run while no other store is open: PKCS#11 login is shared
// by every session of a process, so a second login with any PIN succeeds.
func TestWrongPIN(t *testing.T) {
	requireSoftHSM(t)
	cfg := testConfig()
	cfg.PIN = "0000"
	if _, err := Open(cfg); selo.ErrorCode(err) != selo.EUNAUTHORIZED {
		t.Fatalf("Open with a wrong PIN: got %v, want EUNAUTHORIZED", err)
	}
}

func TestOpenErrors(t *testing.T) {
	requireSoftHSM(t)
	for name, cfg := range map[string]Config{
		"no module":      {TokenLabel: testToken, PIN: testPIN},
		"missing module": {Module: "/nonexistent/libpkcs11.so", TokenLabel: testToken, PIN: testPIN},
		"no token":       {Module: softHSM.module, PIN: testPIN},
		"unknown token":  {Module: softHSM.module, TokenLabel: "no-such-token", PIN: testPIN},
	} {
		if s, err := Open(cfg); err == nil {
			_ = s.Close()
			t.Errorf("%s: Open succeeded", name)
		} else if strings.Contains(err.Error(), testPIN) {
			t.Errorf("%s: the error shows the PIN: %v", name, err)
		}
	}
}

func randomSuffix(t testing.TB) string {
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%x", b)
}

func BenchmarkPKCS11SignP256(b *testing.B) {
	ctx := context.Background()
	s := openTestStore(b)
	id := "bench/" + randomSuffix(b)
	if _, err := s.GenerateKey(ctx, id, selo.KeyECDSAP256, selo.KeyOptions{}); err != nil {
		b.Fatal(err)
	}
	digest := sha256.Sum256([]byte("benchmark"))
	b.ReportAllocs()
	for b.Loop() {
		signer, err := s.Signer(ctx, id)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := signer.Sign(rand.Reader, digest[:], crypto.SHA256); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPKCS11SignP256Parallel shows how signing scales over the session
// pool when many requests sign at once.
func BenchmarkPKCS11SignP256Parallel(b *testing.B) {
	ctx := context.Background()
	s := openTestStore(b)
	id := "bench/" + randomSuffix(b)
	signer, err := s.GenerateKey(ctx, id, selo.KeyECDSAP256, selo.KeyOptions{})
	if err != nil {
		b.Fatal(err)
	}
	digest := sha256.Sum256([]byte("benchmark"))
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := signer.Sign(rand.Reader, digest[:], crypto.SHA256); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
