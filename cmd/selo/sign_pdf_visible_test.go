package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestSignPDFVisibleCommand(t *testing.T) {
	data := dataDir(t)
	pfx, pw := signerPFX(t, data)
	dir := t.TempDir()
	in := filepath.Join(dir, "form.pdf")
	os.WriteFile(in, onePagePDF(), 0o600)
	out := filepath.Join(dir, "form-signed.pdf")
	mustRunSelo(t, "sign", "pdf", in, out, "--pfx", pfx, "--password-file", pw, "--visible", "1:360,60,200,60", "--data", data)
	signed, err := os.ReadFile(out)
	if err != nil || !bytes.Contains(signed, []byte("/Rect[360 60 560 120]/AP<</N ")) || !bytes.Contains(signed, []byte("(Maria Silva) Tj")) {
		t.Fatalf("no visible box with the signer's name: %v", err)
	}
	if _, err := exec.LookPath("pdfsig"); err == nil {
		res, _ := exec.Command("pdfsig", "-no-ocsp", out).CombinedOutput()
		if !strings.Contains(string(res), "Signature is Valid") {
			t.Fatalf("pdfsig:\n%s", res)
		}
	}

	bad := filepath.Join(dir, "bad.pdf")
	wantExit(t, runSelo(t, "sign", "pdf", in, bad, "--pfx", pfx, "--password-file", pw, "--visible", "1:360,60", "--data", data), 2, "PAGE:x,y,width,height")
	wantExit(t, runSelo(t, "sign", "pdf", in, bad, "--pfx", pfx, "--password-file", pw, "--visible", "3:10,10,100,40", "--data", data), 1, "has 1 page")
	if _, err := os.Stat(bad); !os.IsNotExist(err) {
		t.Fatal("a refused visible signature left its output behind")
	}
}
