package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/selo-qtsp/selo/internal/signtest"
)

// onePagePDF returns a hand-written one-page PDF 1.4 with a classic xref.
func onePagePDF() []byte {
	objs := []string{
		"<</Type/Catalog/Pages 2 0 R>>",
		"<</Type/Pages/Kids[3 0 R]/Count 1>>",
		"<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]>>",
	}
	return signtest.PDF("%PDF-1.4\n", objs...)
}

func TestSignPDFCommand(t *testing.T) {
	data := dataDir(t)
	pfx, pw := signerPFX(t, data)
	dir := t.TempDir()
	in := filepath.Join(dir, "contract.pdf")
	original := onePagePDF()
	if err := os.WriteFile(in, original, 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "contract-signed.pdf")
	r := mustRunSelo(t, "sign", "pdf", in, out, "--pfx", pfx, "--password-file", pw, "--reason", "Aprovação", "--data", data)
	if !strings.Contains(r.stdout, "PAdES B-B") || !strings.Contains(r.stdout, "Maria Silva") {
		t.Fatalf("sign pdf output:\n%s", r)
	}
	signed, err := os.ReadFile(out)
	if err != nil || !bytes.HasPrefix(signed, original) || !bytes.Contains(signed, []byte("/SubFilter/ETSI.CAdES.detached")) {
		t.Fatalf("signed PDF: %v", err)
	}
	if _, err := exec.LookPath("pdfsig"); err == nil {
		res, _ := exec.Command("pdfsig", "-no-ocsp", out).CombinedOutput()
		if !strings.Contains(string(res), "Signature is Valid") || !strings.Contains(string(res), "Maria Silva") {
			t.Fatalf("pdfsig:\n%s", res)
		}
	} else if os.Getenv("CI") != "" {
		t.Fatal("pdfsig is required in CI")
	}
}

func TestSignPDFCommandErrors(t *testing.T) {
	data := dataDir(t)
	pfx, pw := signerPFX(t, data)
	dir := t.TempDir()
	good := filepath.Join(dir, "good.pdf")
	os.WriteFile(good, onePagePDF(), 0o600)
	garbage := writeFile(t, filepath.Join(dir, "garbage.pdf"), "not a pdf")
	truncated := filepath.Join(dir, "truncated.pdf")
	os.WriteFile(truncated, onePagePDF()[:100], 0o600)
	out := filepath.Join(dir, "out.pdf")
	wantExit(t, runSelo(t, "sign", "pdf", good, out, "--data", data), 2, "exactly one of --pfx, --pkcs11-key and --credential")
	wantExit(t, runSelo(t, "sign", "pdf", good, good, "--pfx", pfx, "--password-file", pw, "--data", data), 2, "must differ")
	// Refused documents are named in the error.
	wantExit(t, runSelo(t, "sign", "pdf", garbage, out, "--pfx", pfx, "--password-file", pw, "--data", data), 1, "garbage.pdf: not a PDF")
	wantExit(t, runSelo(t, "sign", "pdf", truncated, out, "--pfx", pfx, "--password-file", pw, "--data", data), 1, "truncated.pdf: ")
	// OUT.pdf spelt differently from IN.pdf, or a link to it, is still IN.pdf.
	abs, _ := filepath.Abs(good)
	link := filepath.Join(dir, "link.pdf")
	if err := os.Symlink(good, link); err != nil {
		t.Fatal(err)
	}
	for _, same := range []string{abs, link, filepath.Join(dir, ".", "..", filepath.Base(dir), "good.pdf")} {
		wantExit(t, runSelo(t, "sign", "pdf", good, same, "--pfx", pfx, "--password-file", pw, "--data", data), 2, "must differ")
	}
	os.Remove(link)
	if b, _ := os.ReadFile(good); !bytes.Equal(b, onePagePDF()) {
		t.Fatal("the original was overwritten")
	}
	// An unreachable TSA fails the signature and leaves no output behind.
	wantExit(t, runSelo(t, "sign", "pdf", good, out, "--pfx", pfx, "--password-file", pw, "--tsa", "http://127.0.0.1:1/tsa", "--data", data), 1, "TSA")
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Fatal("a failed signature left its output behind")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 3 {
		t.Fatalf("stray files in %s: %v", dir, entries)
	}
}
