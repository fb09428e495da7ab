package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/internal/signtest"
	"github.com/selo-qtsp/selo/signing"
)

// pdfsigValid runs pdfsig on a PDF and fails unless every signature is valid
// and made by signer; it skips (fails in CI) without pdfsig.
func pdfsigValid(t *testing.T, path, signer string) {
	t.Helper()
	signtest.Tool(t, "pdfsig", "poppler-utils")
	out, _ := exec.Command("pdfsig", "-no-ocsp", path).CombinedOutput()
	if !strings.Contains(string(out), "Signature is Valid") || !strings.Contains(string(out), signer) || strings.Contains(string(out), "Invalid") {
		t.Fatalf("pdfsig %s:\n%s", path, out)
	}
}

// listDir returns the names in dir, sorted.
func listDir(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return names
}

// TestSignRemoteFileAndPDF signs a file (CAdES) and a PDF (PAdES) with a
// remote SMS credential through Selo's CSC API; openssl and pdfsig accept
// them. A wrong code writes nothing.
func TestSignRemoteFileAndPDF(t *testing.T) {
	t.Parallel()
	s := newCSCServer(t)
	cred := s.credential(t, selo.ApprovalSMS, selo.KeyECDSAP256)
	root, cn := s.credentialRoot(t, cred)
	dir := t.TempDir()
	tf := filepath.Join(dir, "token.json")
	mustRunSelo(t, "csc", "login", "--server", s.url, "--email", "maria@example.pt", "--password-file", s.pwFile, "--token-file", tf)

	// CAdES, logged in beforehand with 'selo csc login'.
	doc := writeFile(t, filepath.Join(dir, "contract.txt"), "Contrato n.º 7\n")
	r := mustRunSelo(t, "sign", "file", doc, "--credential", cred, "--token-file", tf, "--otp-file", s.sendOTP(t, tf, cred))
	if !strings.Contains(r.stdout, "B-B") || !strings.Contains(r.stdout, cn) {
		t.Fatalf("sign file --credential:\n%s", r)
	}
	mustOpenSSL(t, "cms", "-verify", "-binary", "-inform", "DER", "-in", doc+".p7s", "-content", doc, "-CAfile", root, "-purpose", "any", "-out", filepath.Join(dir, "out"))

	// PAdES, logging in with --csc and --user.
	in := filepath.Join(dir, "lease.pdf")
	if err := os.WriteFile(in, onePagePDF(), 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "lease-signed.pdf")
	r = mustRunSelo(t, "sign", "pdf", in, out, "--credential", cred, "--csc", s.url, "--user", "maria@example.pt",
		"--password-file", s.pwFile, "--otp-file", s.sendOTP(t, tf, cred))
	if !strings.Contains(r.stdout, "PAdES B-B") {
		t.Fatalf("sign pdf --credential:\n%s", r)
	}
	pdfsigValid(t, out, cn)

	// A wrong code: refused, no output, no temporary file left.
	before := listDir(t, dir)
	s.sendOTP(t, tf, cred)
	wrong := "000000"
	if s.smsCode(t) == wrong {
		wrong = "111111"
	}
	bad := writeFile(t, filepath.Join(t.TempDir(), "wrong"), wrong)
	wantExit(t, runSelo(t, "sign", "pdf", in, filepath.Join(dir, "never.pdf"), "--credential", cred, "--token-file", tf, "--otp-file", bad), 1, "invalid_otp")
	wantExit(t, runSelo(t, "sign", "file", in, "--credential", cred, "--token-file", tf, "--otp-file", bad), 1, "invalid_otp")
	if after := listDir(t, dir); strings.Join(after, ",") != strings.Join(before, ",") {
		t.Fatalf("a refused signature changed %s: %v -> %v", dir, before, after)
	}
}

// TestSignRemoteUsageErrors: key options that do not fit exit 2.
func TestSignRemoteUsageErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	f := writeFile(t, filepath.Join(dir, "a.txt"), "a")
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"sign", "file", f, "--credential", "C", "--pfx", "x.pfx"}, "exactly one of --pfx, --pkcs11-key and --credential"},
		{[]string{"sign", "pdf", f, f + ".pdf"}, "exactly one of --pfx, --pkcs11-key and --credential"},
		{[]string{"sign", "file", f, "--credential", "C", "--user", "maria@example.pt"}, "--user needs --csc"},
		{[]string{"sign", "file", f, "--pfx", "x.pfx", "--otp-file", "otp"}, "go with --credential"},
		{[]string{"sign", "batch", dir, "--credential", "C"}, "needs --out"},
		{[]string{"sign", "batch", dir, "--out", dir, "--format", "pades", "--credential", "C"}, "--out must differ"},
		{[]string{"sign", "batch", dir, "--out", dir + "/o", "--format", "xml", "--credential", "C"}, "--format must be pades, xades or cades"},
		{[]string{"sign", "batch", dir, "--out", dir + "/o", "--format", "cades", "--glob", "[", "--credential", "C"}, "--glob"},
		{[]string{"sign", "batch", "--out", dir}, "sign batch needs the folder"},
	} {
		wantExit(t, runSelo(t, tc.args...), 2, tc.msg)
	}
	wantExit(t, runSelo(t, "sign", "batch", dir, "--out", filepath.Join(dir, "o"), "--format", "pades", "--credential", "C"), 1, `no file in`)
}

// invoicePDF is a one-page PDF that differs by its number.
func invoicePDF(n int) []byte {
	return append(onePagePDF(), []byte(fmt.Sprintf("%% invoice %d\n", n))...)
}

// TestSignBatchRemoteOneSMS signs a folder of invoices with one SMS code:
// every output verifies with pdfsig; a broken file is reported and the
// others are signed; a rerun skips what was signed.
func TestSignBatchRemoteOneSMS(t *testing.T) {
	t.Parallel()
	s := newCSCServer(t)
	cred := s.credential(t, selo.ApprovalSMS, selo.KeyECDSAP256)
	_, cn := s.credentialRoot(t, cred)
	dir := t.TempDir()
	tf := filepath.Join(t.TempDir(), "token.json")
	mustRunSelo(t, "csc", "login", "--server", s.url, "--email", "maria@example.pt", "--password-file", s.pwFile, "--token-file", tf)
	const n = 12
	for i := range n {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("INV-%03d.pdf", i)), invoicePDF(i), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(t, filepath.Join(dir, "broken.pdf"), "not a pdf at all")
	writeFile(t, filepath.Join(dir, "notes.txt"), "not matched by the glob")
	out := filepath.Join(t.TempDir(), "signed")

	otp := s.sendOTP(t, tf, cred)
	before := s.smsCount(t)
	r := runSelo(t, "sign", "batch", dir, "--out", out, "--format", "pades", "--credential", cred, "--token-file", tf, "--otp-file", otp, "--json")
	wantExit(t, r, 1, "1 of 13 file(s) were not signed")
	var sum batchOutput
	decodeJSON(t, r, &sum)
	if sum.Approvals != 1 || sum.Signed != n || sum.Failed != 1 || len(sum.Files) != n+1 || sum.Files[n].Status != "failed" || !strings.Contains(sum.Files[n].Error, "not a PDF") {
		t.Fatalf("summary: %+v\n%s", sum, r)
	}
	if s.smsCount(t) != before {
		t.Fatal("the batch asked for another SMS")
	}
	if !strings.Contains(r.stderr, "broken.pdf") || !strings.Contains(r.stderr, "with 1 approval(s)\n") {
		t.Fatalf("stderr:\n%s", r.stderr)
	}
	names := listDir(t, out)
	if len(names) != n {
		t.Fatalf("outputs: %v", names)
	}
	for _, name := range names {
		if !strings.HasPrefix(name, "INV-") {
			t.Fatalf("unexpected output %s", name)
		}
		pdfsigValid(t, filepath.Join(out, name), cn)
	}

	// A rerun signs only what is missing: here nothing but the broken file,
	// which fails again before any approval is asked for.
	r = runSelo(t, "sign", "batch", dir, "--out", out, "--format", "pades", "--credential", cred, "--token-file", tf, "--otp-file", otp)
	wantExit(t, r, 1, "1 of 13")
	if !strings.Contains(r.stdout, "skipped  12 (output exists)") || !strings.Contains(r.stdout, "broken.pdf: ") {
		t.Fatalf("rerun:\n%s", r)
	}
}

// TestSignBatchCAdESAuthenticator signs a folder of XML invoices, CAdES
// detached, with one authenticator code; openssl verifies every .p7s.
func TestSignBatchCAdESAuthenticator(t *testing.T) {
	t.Parallel()
	s := newCSCServer(t)
	cred := s.credential(t, selo.ApprovalAuthenticator, selo.KeyECDSAP384)
	code := s.authenticatorCode(t)
	root, _ := s.credentialRoot(t, cred)
	dir := t.TempDir()
	for i := range 5 {
		writeFile(t, filepath.Join(dir, fmt.Sprintf("inv-%d.xml", i)), fmt.Sprintf("<Invoice><ID>%d</ID></Invoice>", i))
	}
	writeFile(t, filepath.Join(dir, "readme.md"), "left out by --glob")
	out := filepath.Join(t.TempDir(), "sigs")
	otp := writeFile(t, filepath.Join(t.TempDir(), "otp"), code)
	r := mustRunSelo(t, "sign", "batch", dir, "--out", out, "--format", "cades", "--glob", "*.xml", "--credential", cred,
		"--csc", s.url, "--user", "maria@example.pt", "--password-file", s.pwFile, "--otp-file", otp)
	if !strings.Contains(r.stdout, "Signed 5 of 5 file(s)") || !strings.Contains(r.stdout, "CAdES B-B") || !strings.Contains(r.stdout, "1 approval(s)") {
		t.Fatalf("sign batch cades:\n%s", r)
	}
	for i := range 5 {
		name := fmt.Sprintf("inv-%d.xml", i)
		mustOpenSSL(t, "cms", "-verify", "-binary", "-inform", "DER", "-in", filepath.Join(out, name+".p7s"), "-content", filepath.Join(dir, name),
			"-CAfile", root, "-purpose", "any", "-out", filepath.Join(t.TempDir(), "out"))
	}
}

// TestSignBatchLargerThanMultisign: more documents than one approval covers
// need several codes; one code from a file is refused before anything is
// signed or written.
func TestSignBatchLargerThanMultisign(t *testing.T) {
	t.Parallel()
	s := newCSCServerConfig(t, func(c *signing.Config) { c.MaxHashes = 2 })
	cred := s.credential(t, selo.ApprovalSMS, selo.KeyECDSAP256)
	tf := filepath.Join(t.TempDir(), "token.json")
	mustRunSelo(t, "csc", "login", "--server", s.url, "--email", "maria@example.pt", "--password-file", s.pwFile, "--token-file", tf)
	dir := t.TempDir()
	for i := range 3 {
		writeFile(t, filepath.Join(dir, fmt.Sprintf("%d.txt", i)), "x")
	}
	out := filepath.Join(t.TempDir(), "sigs")
	r := runSelo(t, "sign", "batch", dir, "--out", out, "--format", "cades", "--credential", cred, "--token-file", tf, "--otp-file", s.sendOTP(t, tf, cred))
	wantExit(t, r, 1, "3 documents need 2 approvals", "at most 2", "no file was written")
	if names := listDir(t, out); len(names) != 0 {
		t.Fatalf("a refused batch wrote %v", names)
	}
}

// TestSignBatchWalletOneTap: a wallet credential signs a folder with one
// approval in the wallet, which shows every hash of the batch.
func TestSignBatchWalletOneTap(t *testing.T) {
	t.Parallel()
	s := newCSCServer(t)
	cred := s.credential(t, selo.ApprovalWallet, selo.KeyECDSAP256)
	_, cn := s.credentialRoot(t, cred)
	wallet, key := s.registerWallet(t)
	dir := t.TempDir()
	for i := range 4 {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("inv-%d.PDF", i)), invoicePDF(i), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(t.TempDir(), "signed")
	done := make(chan result, 1)
	go func() {
		done <- runSelo(t, "sign", "batch", dir, "--out", out, "--format", "pades", "--credential", cred, "--csc", s.url,
			"--user", "maria@example.pt", "--password-file", s.pwFile, "--wait", "1m")
	}()
	// The holder sees the request in the wallet and approves it.
	pending := s.approveInWallet(t, wallet, key)
	if len(pending) != 1 || len(pending[0].Hashes) != 4 || !strings.Contains(pending[0].Description, "4 documents") {
		t.Fatalf("the wallet shows %d request(s), the first %+v", len(pending), pending[0])
	}
	r := <-done
	if r.code != 0 || !strings.Contains(r.stdout, "Signed 4 of 4") || !strings.Contains(r.stderr, "waiting for the holder") {
		t.Fatalf("sign batch with a wallet approval:\n%s", r)
	}
	for i := range 4 {
		pdfsigValid(t, filepath.Join(out, fmt.Sprintf("inv-%d.PDF", i)), cn)
	}
}
