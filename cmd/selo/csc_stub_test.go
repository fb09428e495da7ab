package main

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/selo-qtsp/selo/csc"
	"github.com/selo-qtsp/selo/internal/csctest"
)

// stubToken writes a token file for the stub service, as 'selo csc login'
// would.
func stubToken(t *testing.T, s *csctest.Stub) string {
	t.Helper()
	b, _ := json.Marshal(cscToken{Server: s.URL, AccessToken: "token"})
	tf := filepath.Join(t.TempDir(), "token.json")
	if err := os.WriteFile(tf, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return tf
}

// TestCSCSignAlgoFollowsKeyAlgo: against a service whose RSA credential
// lists only rsaEncryption in key/algo (the CSC API v2 example, and the
// only signAlgo such a service takes), 'selo csc sign-hash' and 'selo sign
// file' sign with rsaEncryption and hashAlgorithmOID. They used to send
// sha256WithRSAEncryption, which a strict service refuses.
func TestCSCSignAlgoFollowsKeyAlgo(t *testing.T) {
	t.Parallel()
	s := csctest.New(t, "rsa")
	tf := stubToken(t, s)
	otp := writeFile(t, filepath.Join(t.TempDir(), "otp"), csctest.OTP)
	digest := sha256.Sum256([]byte("invoice 1"))

	r := mustRunSelo(t, "csc", "sign-hash", csctest.CredentialID, "--hash", hex.EncodeToString(digest[:]), "--token-file", tf, "--otp-file", otp, "--json")
	var out struct {
		SignAlgorithm string      `json:"sign_algorithm"`
		Signatures    []cscSigned `json:"signatures"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatal(err)
	}
	if out.SignAlgorithm != csc.OIDRSAEncryption || len(out.Signatures) != 1 {
		t.Fatalf("sign-hash:\n%s", r)
	}
	sig, _ := base64.StdEncoding.DecodeString(out.Signatures[0].Signature)
	if err := rsa.VerifyPKCS1v15(s.Cert.PublicKey.(*rsa.PublicKey), crypto.SHA256, digest[:], sig); err != nil {
		t.Fatal(err)
	}

	doc := writeFile(t, filepath.Join(t.TempDir(), "contract.txt"), "Contrato\n")
	mustRunSelo(t, "sign", "file", doc, "--credential", csctest.CredentialID, "--token-file", tf, "--otp-file", otp)
	if _, err := os.Stat(doc + ".p7s"); err != nil {
		t.Fatal(err)
	}
	if got := s.SignAlgos(); !slices.Equal(got, []string{csc.OIDRSAEncryption, csc.OIDRSAEncryption}) {
		t.Fatalf("signAlgo sent: %v", got)
	}
}

// TestCSCSignatureNotVerifiedWritesNothing: a service returning a
// signature that does not verify against the credential's certificate
// gets the command refused, with no signature file written.
func TestCSCSignatureNotVerifiedWritesNothing(t *testing.T) {
	t.Parallel()
	s := csctest.New(t, "ecdsa")
	s.Corrupt = true
	tf := stubToken(t, s)
	otp := writeFile(t, filepath.Join(t.TempDir(), "otp"), csctest.OTP)
	doc := writeFile(t, filepath.Join(t.TempDir(), "a.txt"), "a\n")
	r := runSelo(t, "csc", "sign-hash", csctest.CredentialID, "--file", doc, "--token-file", tf, "--otp-file", otp)
	wantExit(t, r, 1, "does not verify against the certificate")
	if _, err := os.Stat(doc + ".sig"); !os.IsNotExist(err) {
		t.Fatalf("a signature file was written: %v", err)
	}
	wantExit(t, runSelo(t, "sign", "file", doc, "--credential", csctest.CredentialID, "--token-file", tf, "--otp-file", otp), 1, "does not verify")
	if _, err := os.Stat(doc + ".p7s"); !os.IsNotExist(err) || !strings.Contains(r.stderr, csctest.CredentialID) {
		t.Fatalf("a signature was written: %v", err)
	}
}
