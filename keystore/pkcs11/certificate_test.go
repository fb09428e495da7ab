//go:build cgo

package pkcs11

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/selo-qtsp/selo"
)

// pkcs11Tool returns OpenSC's pkcs11-tool, skipping (failing in CI) without it.
func pkcs11Tool(t *testing.T) string {
	t.Helper()
	tool, err := exec.LookPath("pkcs11-tool")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("CI is set but pkcs11-tool is not installed (apt-get install opensc)")
		}
		t.Skip("SKIPPING PEER CHECK: pkcs11-tool is not installed (apt-get install opensc)")
	}
	return tool
}

// leafFor returns a certificate for pub signed by a throwaway CA.
func leafFor(t *testing.T, pub crypto.PublicKey, serial int64) *x509.Certificate {
	t.Helper()
	ca, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "Holder"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, ca)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return c
}

// TestTokenKeyMadeByPeerTool finds a key that pkcs11-tool made (not a Selo
// key label), signs with it, installs certificates beside it and reads them
// back with pkcs11-tool.
func TestTokenKeyMadeByPeerTool(t *testing.T) {
	requireSoftHSM(t)
	tool := pkcs11Tool(t)
	label := "holder-" + randomSuffix(t)
	idHex := randomSuffix(t)[:8]
	id, _ := hex.DecodeString(idHex)
	if out, err := exec.Command(tool, "--module", softHSM.module, "--token-label", testToken, "--login", "--pin", testPIN,
		"--keypairgen", "--key-type", "EC:prime256v1", "--label", label, "--id", idHex).CombinedOutput(); err != nil {
		t.Fatalf("pkcs11-tool --keypairgen: %v\n%s", err, out)
	}
	tok, err := OpenToken(testConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer tok.Close()

	byLabel, err := tok.FindKey(nil, label)
	if err != nil {
		t.Fatal(err)
	}
	byID, err := tok.FindKey(id, "")
	if err != nil || !bytes.Equal(byLabel.ID, id) || byID.Label != label {
		t.Fatalf("by id %+v %v; by label %+v", byID, err, byLabel)
	}
	if _, err := tok.FindKey(nil, label+"-none"); selo.ErrorCode(err) != selo.ENOTFOUND {
		t.Fatalf("missing key: %v", err)
	}
	digest := sha256.Sum256([]byte("challenge"))
	sig, err := byLabel.Signer.Sign(rand.Reader, digest[:], crypto.SHA256)
	if err != nil || !ecdsa.VerifyASN1(byLabel.Signer.Public().(*ecdsa.PublicKey), digest[:], sig) {
		t.Fatalf("token signature does not verify: %v", err)
	}

	old := leafFor(t, byLabel.Signer.Public(), 1001)
	nw := leafFor(t, byLabel.Signer.Public(), 1002)
	if err := tok.ImportCertificate(id, label, old); err != nil {
		t.Fatal(err)
	}
	if err := tok.ImportCertificate(id, label, nw); err != nil {
		t.Fatal(err)
	}
	if err := tok.ImportCertificate(id, label, nw); err != nil { // again: no second object
		t.Fatal(err)
	}
	certs, err := tok.Certificates(id)
	if err != nil || len(certs) != 2 {
		t.Fatalf("certificates %d, %v", len(certs), err)
	}
	if err := tok.RelabelCertificate(id, old.SerialNumber, label+" (superseded)"); err != nil {
		t.Fatal(err)
	}
	if err := tok.RelabelCertificate(id, big.NewInt(5), "x"); selo.ErrorCode(err) != selo.ENOTFOUND {
		t.Fatalf("relabel a missing certificate: %v", err)
	}
	certs, _ = tok.Certificates(id)
	labels := map[int64]string{}
	for _, c := range certs {
		labels[c.Certificate.SerialNumber.Int64()] = c.Label
	}
	if labels[1001] != label+" (superseded)" || labels[1002] != label {
		t.Fatalf("labels %v", labels)
	}
	if err := tok.DeleteCertificate(id, old.SerialNumber); err != nil {
		t.Fatal(err)
	}
	certs, err = tok.Certificates(id)
	if err != nil || len(certs) != 1 || certs[0].Certificate.SerialNumber.Int64() != 1002 || certs[0].Label != label {
		t.Fatalf("after delete: %v, %v", certs, err)
	}
	// With no name given, the key is the one with a certificate — as long
	// as only one key has one.
	if k, err := tok.FindKey(nil, ""); err == nil && !bytes.Equal(k.ID, id) {
		t.Fatalf("FindKey() = %x", k.ID)
	}

	// pkcs11-tool reads the same certificate off the token.
	out := filepath.Join(t.TempDir(), "cert.der")
	if b, err := exec.Command(tool, "--module", softHSM.module, "--token-label", testToken,
		"--read-object", "--type", "cert", "--id", idHex, "--output-file", out).CombinedOutput(); err != nil {
		t.Fatalf("pkcs11-tool --read-object: %v\n%s", err, b)
	}
	der, _ := os.ReadFile(out)
	if !bytes.Equal(der, nw.Raw) {
		t.Fatal("pkcs11-tool reads another certificate than the one installed")
	}
	if err := tok.ImportCertificate(nil, label, nw); selo.ErrorCode(err) != selo.EINVALID {
		t.Fatalf("import without id: %v", err)
	}
}

func TestOpenTokenRefusals(t *testing.T) {
	requireSoftHSM(t)
	cfg := testConfig()
	cfg.TokenLabel = "no-such-token"
	if _, err := OpenToken(cfg); err == nil {
		t.Fatal("opened a token that does not exist")
	}
}
