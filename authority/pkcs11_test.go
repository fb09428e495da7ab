//go:build cgo

package authority_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/authority"
	"github.com/selo-qtsp/selo/internal/testenv"
	"github.com/selo-qtsp/selo/keystore/pkcs11"
	"github.com/selo-qtsp/selo/pki"
	"github.com/selo-qtsp/selo/pki/pkitest"
)

const (
	softHSMToken = "selo-authority-test"
	softHSMPIN   = "1234"
)

// softHSM is the SoftHSM2 module TestMain set up, or why there is none.
var softHSM struct {
	module  string
	missing string
}

// TestMain gives the test binary one SoftHSM2 token in a temporary
// directory: a PKCS#11 module reads its configuration once per process.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "selo-authority-softhsm-")
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
	candidates := []string{
		"/usr/lib/softhsm/libsofthsm2.so",
		"/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
		"/usr/lib64/pkcs11/libsofthsm2.so",
		"/usr/local/lib/softhsm/libsofthsm2.so",
		"/opt/homebrew/lib/softhsm/libsofthsm2.so",
	}
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
	if out, err := exec.Command(util, "--init-token", "--free", "--label", softHSMToken, "--pin", softHSMPIN, "--so-pin", "5678").CombinedOutput(); err != nil {
		// A broken tool, not a missing one: fail even on a laptop.
		fmt.Fprintf(os.Stderr, "softhsm2-util --init-token: %v\n%s", err, out)
		os.Exit(1)
	}
	return ""
}

// TestPKCS11 runs the authority with its keys in an HSM (SoftHSM2): CAs are
// made and issue on the token, a failed CA leaves no key there, and a key on
// the token is never exported in a .pfx.
func TestPKCS11(t *testing.T) {
	if softHSM.missing != "" {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI is set but %s", softHSM.missing)
		}
		t.Skipf("SKIPPING PKCS#11 TEST: %s", softHSM.missing)
	}
	ctx := context.Background()
	st, _ := bare(t)
	ks, err := pkcs11.Open(pkcs11.Config{Module: softHSM.module, TokenLabel: softHSMToken, PIN: softHSMPIN})
	if err != nil {
		t.Fatalf("open SoftHSM2 token: %v", err)
	}
	t.Cleanup(func() { _ = ks.Close() })
	a, err := authority.New(authority.Config{Store: st, Keys: ks, Profiles: pki.BuiltinProfiles(), Linter: testenv.Linter(t),
		BaseURL: testenv.BaseURL, ProfileCA: testenv.ProfileCA})
	if err != nil {
		t.Fatal(err)
	}
	s := &stack{A: a, Store: st, Keys: ks, Profiles: pki.BuiltinProfiles(), Clock: selo.SystemClock{}}

	for _, o := range []authority.CreateCAOptions{
		{ID: testenv.RootID, Name: "HSM Root CA", KeyAlgorithm: selo.KeyECDSAP384, ValidityDays: 9000},
		{ID: testenv.QualifiedID, Name: "HSM Qualified CA", ParentID: testenv.RootID, KeyAlgorithm: selo.KeyECDSAP256, ValidityDays: 3650},
		{ID: testenv.TLSID, Name: "HSM TLS CA", ParentID: testenv.RootID, KeyAlgorithm: selo.KeyRSA3072, ValidityDays: 3650, Policies: []string{"2.23.140.1.2.1"}},
	} {
		o.Organization, o.Country = "Selo Test Trust Services", "PT"
		ca, err := a.CreateCA(ctx, "operator", o)
		if err != nil {
			t.Fatalf("create CA %s on the token: %v", o.ID, err)
		}
		signer, err := ks.Signer(ctx, ca.KeyID)
		if err != nil || !samePublicKey(signer.Public(), caCert(t, ca).PublicKey) {
			t.Fatalf("the token does not hold the key of %s: %v", o.ID, err)
		}
		_, err = ks.ExportKey(ctx, ca.KeyID)
		wantCode(t, err, selo.EFORBIDDEN)
	}
	root, err := st.FindCA(ctx, testenv.RootID)
	if err != nil {
		t.Fatal(err)
	}
	s.Root = root

	for _, p := range []struct{ profile, ca, key string }{
		{"qualified-seal", testenv.QualifiedID, "ecdsa-p256"},
		{"tls-server", testenv.TLSID, "rsa-2048"},
	} {
		before := time.Now()
		cert := s.issue(t, p.profile, p.key)
		checkIssued(t, s, cert, leafOf(t, cert), p.profile, p.ca, before)
	}

	// A CA refused after its key was made on the token leaves no key there.
	_, err = a.CreateCA(ctx, "operator", authority.CreateCAOptions{ID: "too-long", Name: "Too long", KeyAlgorithm: selo.KeyECDSAP256, ValidityDays: 10000})
	wantCode(t, err, selo.EINVALID)
	if _, err := ks.Signer(ctx, "ca/too-long"); selo.ErrorCode(err) != selo.ENOTFOUND {
		t.Fatalf("the key of a refused CA stayed on the token: %v", err)
	}

	// A key Selo makes on the token for a holder certifies, but never leaves.
	email := pkitest.Request("advanced-email", nil)
	cert, err := a.Issue(ctx, "tester", authority.IssueRequest{Profile: "advanced-email", GenerateKey: selo.KeyECDSAP256,
		Subject: email.Subject, EmailAddresses: email.EmailAddresses})
	if err != nil {
		t.Fatalf("issue with a key generated on the token: %v", err)
	}
	_, err = a.PFX(ctx, "holder:ana", cert.Serial, nil, "long enough password")
	wantCode(t, err, selo.EFORBIDDEN)
	wantFailureAudit(t, s.lastAudit(t), "key.export", "certificate/"+cert.Serial, selo.EFORBIDDEN)
	s.verifyAudit(t)
}
