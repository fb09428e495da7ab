package main

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/docsign/xades"
	"github.com/selo-qtsp/selo/internal/signtest"
)

// xmlsecVerifier returns a function that runs 'xmlsec1 --verify' on a
// file with chain[last] trusted and the CAs between as untrusted helpers;
// it skips (fails in CI) without xmlsec1.
func xmlsecVerifier(t *testing.T, chain []*x509.Certificate) func(file string) ([]byte, error) {
	t.Helper()
	signtest.Tool(t, "xmlsec1", "")
	dir := t.TempDir()
	// xmlsec1 reads one certificate per --trusted-pem/--untrusted-pem file.
	pemFile := func(i int, c *x509.Certificate) string {
		return writeFile(t, filepath.Join(dir, fmt.Sprintf("c%d.pem", i)), string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})))
	}
	args := []string{"--verify", "--trusted-pem", pemFile(len(chain)-1, chain[len(chain)-1])}
	for i := 1; i < len(chain)-1; i++ {
		args = append(args, "--untrusted-pem", pemFile(i, chain[i]))
	}
	args = append(args, "--id-attr:Id", "http://uri.etsi.org/01903/v1.3.2#:SignedProperties")
	return func(file string) ([]byte, error) {
		return exec.Command("xmlsec1", append(args, file)...).CombinedOutput()
	}
}

// checkXAdES verifies a signed XML document with xades.Verify against the
// credential's root and fails unless its one signature is valid and made
// by the credential's certificate.
func checkXAdES(t *testing.T, file string, chain []*x509.Certificate, level string) {
	t.Helper()
	roots := x509.NewCertPool()
	roots.AddCert(chain[len(chain)-1])
	rep, err := xades.Verify(readFile(t, file), xades.VerifyOptions{Roots: roots})
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	if !rep.Valid() || len(rep.Signatures) != 1 || rep.Signatures[0].Level != level || !strings.Contains(rep.Signatures[0].Signer, chain[0].Subject.CommonName) {
		t.Fatalf("%s: %+v", file, rep.Signatures[0])
	}
}

// TestSignXMLRemote signs an e-invoice with a remote SMS credential through
// Selo's CSC API: xades.Verify and xmlsec1 accept the result; a wrong code
// and a document that cannot be signed write nothing, and the latter costs
// no approval (no SMS, no code used).
func TestSignXMLRemote(t *testing.T) {
	t.Parallel()
	s := newCSCServer(t)
	cred := s.credential(t, selo.ApprovalSMS, selo.KeyECDSAP256)
	chain := s.credentialChain(t, cred)
	dir := t.TempDir()
	tf := filepath.Join(t.TempDir(), "token.json")
	mustRunSelo(t, "csc", "login", "--server", s.url, "--email", "maria@example.pt", "--password-file", s.pwFile, "--token-file", tf)

	in := writeFile(t, filepath.Join(dir, "invoice.xml"), invoiceXML)
	r := mustRunSelo(t, "sign", "xml", in, "--credential", cred, "--token-file", tf, "--otp-file", s.sendOTP(t, tf, cred))
	out := filepath.Join(dir, "invoice-signed.xml")
	if !strings.Contains(r.stdout, "XAdES B-B") || !strings.Contains(r.stdout, chain[0].Subject.CommonName) || !strings.Contains(r.stdout, out) {
		t.Fatalf("sign xml --credential:\n%s", r)
	}
	checkXAdES(t, out, chain, xades.LevelBB)
	// The original is untouched and the signature sits inside the copy.
	if string(readFile(t, in)) != invoiceXML || !strings.HasPrefix(string(readFile(t, out)), invoiceXML[:strings.Index(invoiceXML, "</Invoice>")]) {
		t.Fatal("the signed copy does not keep the document byte for byte")
	}

	// Logging in with --csc and --user, --hash sha384 (an approval of a
	// SHA-384 digest by a P-256 credential), JSON output.
	out384 := filepath.Join(dir, "invoice-384.xml")
	r = mustRunSelo(t, "sign", "xml", in, out384, "--credential", cred, "--csc", s.url, "--user", "maria@example.pt",
		"--password-file", s.pwFile, "--otp-file", s.sendOTP(t, tf, cred), "--hash", "sha384", "--json")
	if !strings.Contains(r.stdout, `"hash": "SHA-384"`) {
		t.Fatalf("sign xml --hash sha384 --json:\n%s", r)
	}
	checkXAdES(t, out384, chain, xades.LevelBB)

	// selo verify agrees, offline, with the credential's root trusted.
	root := writeFile(t, filepath.Join(t.TempDir(), "root.pem"), string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: chain[len(chain)-1].Raw})))
	v, vr := verifyJSON(t, out, "--trust", root, "--offline")
	if vr.code != 0 || !v.Valid || v.Report.Format != "XAdES" {
		t.Fatalf("selo verify:\n%s", vr)
	}

	// Refusals write nothing. A wrong code:
	before := listDir(t, dir)
	s.sendOTP(t, tf, cred)
	wrong := "000000"
	if s.smsCode(t) == wrong {
		wrong = "111111"
	}
	bad := writeFile(t, filepath.Join(t.TempDir(), "wrong"), wrong)
	wantExit(t, runSelo(t, "sign", "xml", in, filepath.Join(dir, "never.xml"), "--credential", cred, "--token-file", tf, "--otp-file", bad), 1, "invalid_otp")
	// A document with a DTD is refused before any approval: no SMS is sent
	// even on a terminal-less run without --otp-file.
	dtd := writeFile(t, filepath.Join(t.TempDir(), "dtd.xml"), `<?xml version="1.0"?><!DOCTYPE a [<!ENTITY e "x">]><a>&e;</a>`)
	sms := s.smsCount(t)
	wantExit(t, runSelo(t, "sign", "xml", dtd, filepath.Join(dir, "never.xml"), "--credential", cred, "--token-file", tf), 1, "DTD")
	if s.smsCount(t) != sms {
		t.Fatal("a document that cannot be signed cost an SMS")
	}
	if after := listDir(t, dir); strings.Join(after, ",") != strings.Join(before, ",") {
		t.Fatalf("a refused signature changed %s: %v -> %v", dir, before, after)
	}

	// xmlsec1, the peer, accepts both signatures and refuses a tampered copy.
	xmlsec := xmlsecVerifier(t, chain)
	for _, f := range []string{out, out384} {
		if res, err := xmlsec(f); err != nil {
			t.Fatalf("xmlsec1 refused %s: %v\n%s", f, err, res)
		}
	}
	tampered := writeFile(t, filepath.Join(t.TempDir(), "tampered.xml"), strings.Replace(string(readFile(t, out)), "1230.00", "1230.01", 1))
	if res, err := xmlsec(tampered); err == nil {
		t.Fatalf("xmlsec1 accepted a tampered copy:\n%s", res)
	}
}

// TestSignBatchXAdESRemote signs a folder of e-invoices, XAdES enveloped,
// with ONE SMS code: every output verifies with xades.Verify and xmlsec1;
// files that cannot be signed are reported and leave no output; a rerun
// skips what was signed.
func TestSignBatchXAdESRemote(t *testing.T) {
	t.Parallel()
	s := newCSCServer(t)
	cred := s.credential(t, selo.ApprovalSMS, selo.KeyECDSAP384)
	chain := s.credentialChain(t, cred)
	tf := filepath.Join(t.TempDir(), "token.json")
	mustRunSelo(t, "csc", "login", "--server", s.url, "--email", "maria@example.pt", "--password-file", s.pwFile, "--token-file", tf)
	dir := t.TempDir()
	const n = 6
	for i := range n {
		writeFile(t, filepath.Join(dir, fmt.Sprintf("FT-%03d.xml", i)), strings.Replace(invoiceXML, "0042", fmt.Sprintf("%04d", i), 1))
	}
	writeFile(t, filepath.Join(dir, "UPPER.XML"), invoiceXML) // the default glob folds case
	writeFile(t, filepath.Join(dir, "broken.xml"), "<Invoice><ID>1</Invoice>")
	writeFile(t, filepath.Join(dir, "entities.xml"), `<!DOCTYPE a [<!ENTITY e "x">]><a>&e;</a>`)
	writeFile(t, filepath.Join(dir, "notes.txt"), "not matched by the glob")
	out := filepath.Join(t.TempDir(), "signed")

	otp := s.sendOTP(t, tf, cred)
	sms := s.smsCount(t)
	r := runSelo(t, "sign", "batch", dir, "--out", out, "--format", "xades", "--credential", cred, "--token-file", tf, "--otp-file", otp, "--json")
	wantExit(t, r, 1, "2 of 9 file(s) were not signed")
	var sum batchOutput
	decodeJSON(t, r, &sum)
	if sum.Format != "xades" || sum.Approvals != 1 || sum.Signed != n+1 || sum.Failed != 2 || len(sum.Files) != n+3 {
		t.Fatalf("summary: %+v\n%s", sum, r)
	}
	failed := map[string]string{}
	for _, f := range sum.Files {
		if f.Status == "failed" {
			failed[filepath.Base(f.File)] = f.Error
		}
	}
	if !strings.Contains(failed["broken.xml"], "not well-formed") || !strings.Contains(failed["entities.xml"], "DTD") {
		t.Fatalf("failures: %v", failed)
	}
	if s.smsCount(t) != sms {
		t.Fatal("the batch asked for another SMS")
	}
	names := listDir(t, out)
	if len(names) != n+1 || names[0] != "FT-000.xml" || names[n] != "UPPER.XML" {
		t.Fatalf("outputs: %v", names)
	}
	xmlsec := xmlsecVerifierOrNil(t, chain)
	for _, name := range names {
		checkXAdES(t, filepath.Join(out, name), chain, xades.LevelBB)
		if xmlsec != nil {
			if res, err := xmlsec(filepath.Join(out, name)); err != nil {
				t.Fatalf("xmlsec1 refused %s: %v\n%s", name, err, res)
			}
		}
	}

	// The text summary of a rerun: the signed ones skipped, the broken
	// ones failed again before any approval.
	r = runSelo(t, "sign", "batch", dir, "--out", out, "--format", "xades", "--credential", cred, "--token-file", tf, "--otp-file", otp)
	wantExit(t, r, 1, "2 of 9")
	if !strings.Contains(r.stdout, "skipped  7 (output exists)") || !strings.Contains(r.stdout, "broken.xml: ") || !strings.Contains(r.stdout, "(XAdES B-B)") {
		t.Fatalf("rerun:\n%s", r)
	}
	if got := listDir(t, out); strings.Join(got, ",") != strings.Join(names, ",") {
		t.Fatalf("the rerun changed %s: %v", out, got)
	}
}

// xmlsecVerifierOrNil is xmlsecVerifier without the skip, for tests that
// check more than the peer: nil without xmlsec1 (outside CI).
func xmlsecVerifierOrNil(t *testing.T, chain []*x509.Certificate) func(string) ([]byte, error) {
	t.Helper()
	if _, err := exec.LookPath("xmlsec1"); err != nil && os.Getenv("CI") == "" {
		t.Log("xmlsec1 is not installed: the signed documents are not checked by a peer")
		return nil
	}
	return xmlsecVerifier(t, chain)
}
