package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestVerifyPDFCommand(t *testing.T) {
	data := dataDir(t)
	pfx, pw := signerPFX(t, data)
	dir := t.TempDir()
	in := filepath.Join(dir, "contract.pdf")
	os.WriteFile(in, onePagePDF(), 0o600)
	once := filepath.Join(dir, "once.pdf")
	twice := filepath.Join(dir, "twice.pdf")
	mustRunSelo(t, "sign", "pdf", in, once, "--pfx", pfx, "--password-file", pw, "--data", data)
	mustRunSelo(t, "sign", "pdf", once, twice, "--pfx", pfx, "--password-file", pw, "--data", data)

	v, r := verifyJSON(t, once, "--offline", "--data", data)
	if r.code != 0 || !v.Valid || v.Report.Format != "PAdES" || len(v.Report.Signatures) != 1 ||
		v.Report.Signatures[0].Level != "B-B" || !strings.Contains(v.Report.Signatures[0].Signer, "Maria Silva") {
		t.Fatalf("verify once.pdf:\n%s", r)
	}
	text := mustRunSelo(t, "verify", twice, "--offline", "--data", data)
	for _, want := range []string{"2 signature(s)", "signed revision 2 of 3; later incremental updates only added: signature (1)",
		"signed revision 3 of 3 (the whole document)", "Maria Silva", "leads to a trusted root", "revocation    not checked (--offline, and the document embeds no answer for this certificate); not counted against the signature"} {
		if !strings.Contains(text.stdout, want) {
			t.Errorf("verify text lacks %q:\n%s", want, text)
		}
	}

	// One changed byte inside the signed range: invalid, exit 1, said plainly.
	signed := readFile(t, once)
	i := bytes.Index(signed, []byte("/MediaBox[0 0 595"))
	bad := bytes.Clone(signed)
	bad[i+len("/MediaBox[0 0 ")] = '4'
	tampered := filepath.Join(dir, "tampered.pdf")
	os.WriteFile(tampered, bad, 0o600)
	r = runSelo(t, "verify", tampered, "--offline", "--data", data)
	wantExit(t, r, 1, "not every signature is valid")
	if !strings.Contains(r.stdout, "INVALID") || !strings.Contains(r.stdout, "document was changed after signing") {
		t.Fatalf("tampered:\n%s", r)
	}

	// Trusting only another root: intact but indeterminate.
	other := writeFile(t, filepath.Join(dir, "other-root.pem"), otherRootPEM(t))
	if v, r := verifyJSON(t, once, "--offline", "--trust", other, "--data", data); r.code != 1 || v.Report.Signatures[0].Status != "indeterminate" || !v.Report.Signatures[0].DigestOK {
		t.Fatalf("other root:\n%s", r)
	}

	// Not signed, not a PDF, --content with a PDF.
	wantExit(t, runSelo(t, "verify", in, "--offline", "--data", data), 1, "holds no signature")
	wantExit(t, runSelo(t, "verify", once, "--content", in, "--data", data), 2, "--content")
	broken := writeFile(t, filepath.Join(dir, "broken.pdf"), "%PDF-1.4\nnothing here")
	wantExit(t, runSelo(t, "verify", broken, "--data", data), 1, "PDF")
}
