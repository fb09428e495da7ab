package pades_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/selo-qtsp/selo/internal/signtest"
)

// TestNSSTrustsSignerChain asserts what pdfsig 22.12 cannot report (it
// reads a stale NSS error after a successful verification, see
// docs/document-signing.md): NSS's PKIX path builder, with the root trusted
// in an NSS database, accepts the signer's chain for e-mail signing, the
// usage poppler asks for.
func TestNSSTrustsSignerChain(t *testing.T) {
	signtest.Tool(t, "vfychain", "libnss3-tools")
	s := signtest.NewSigner(t, "ecdsa-p256")
	dir := t.TempDir()
	nss := filepath.Join(dir, "nss")
	os.Mkdir(nss, 0o700)
	root := signtest.WritePEM(t, dir, "root.pem", s.Root)
	if out, err := signtest.Run("certutil", "-N", "-d", "sql:"+nss, "--empty-password"); err != nil {
		t.Fatalf("certutil -N: %v\n%s", err, out)
	}
	leaf, issuing := filepath.Join(dir, "leaf.der"), filepath.Join(dir, "issuing.der")
	os.WriteFile(leaf, s.Cert.Raw, 0o600)
	os.WriteFile(issuing, s.Chain[0].Raw, 0o600)
	// Without the root trusted NSS must refuse, or the check proves nothing.
	if out, _ := signtest.Run("vfychain", "-d", "sql:"+nss, "-pp", "-u", "4", leaf, issuing); strings.Contains(out, "Chain is good") {
		t.Fatalf("vfychain trusts an untrusted chain:\n%s", out)
	}
	if out, err := signtest.Run("certutil", "-A", "-d", "sql:"+nss, "-n", "root", "-t", "CT,C,C", "-i", root); err != nil {
		t.Fatalf("certutil -A: %v\n%s", err, out)
	}
	if out, err := signtest.Run("vfychain", "-d", "sql:"+nss, "-pp", "-u", "4", leaf, issuing); err != nil || !strings.Contains(out, "Chain is good") {
		t.Fatalf("vfychain: %v\n%s", err, out)
	}
}
