package pades_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/selo-qtsp/selo/internal/signtest"
)

// xrefStreamPDF returns a one-page PDF 1.5 whose catalog, page tree, page
// and font live in an object stream and whose only cross-reference section
// is a stream, written by hand like minimalPDF.
func xrefStreamPDF() []byte {
	content := "BT /F1 24 Tf 72 720 Td (Selo) Tj ET"
	packed := []string{
		"<</Type/Catalog/Pages 2 0 R>>",
		"<</Type/Pages/Kids[3 0 R]/Count 1>>",
		"<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]/Contents 4 0 R/Resources<</Font<</F1 5 0 R>>>>>>",
		"", // object 4 is the content stream, outside
		"<</Type/Font/Subtype/Type1/BaseFont/Helvetica>>",
	}
	var header, body strings.Builder
	n := 0
	for i, o := range packed {
		if o == "" {
			continue
		}
		fmt.Fprintf(&header, "%d %d ", i+1, body.Len())
		body.WriteString(o + "\n")
		n++
	}
	objStm := header.String() + body.String()

	var b bytes.Buffer
	b.WriteString("%PDF-1.5\n%\xe2\xe3\xcf\xd3\n")
	off4 := b.Len()
	fmt.Fprintf(&b, "4 0 obj\n<</Length %d>>\nstream\n%s\nendstream\nendobj\n", len(content), content)
	off6 := b.Len()
	fmt.Fprintf(&b, "6 0 obj\n<</Type/ObjStm/N %d/First %d/Length %d>>\nstream\n%s\nendstream\nendobj\n", n, len(header.String()), len(objStm), objStm)
	off7 := b.Len()
	// Type 0 free, type 1 at an offset, type 2 in object stream 6 at an index.
	rows := [][3]int{{0, 0, 65535}, {2, 6, 0}, {2, 6, 1}, {2, 6, 2}, {1, off4, 0}, {2, 6, 3}, {1, off6, 0}, {1, off7, 0}}
	var data []byte
	for _, r := range rows {
		data = append(data, byte(r[0]), byte(r[1]>>16), byte(r[1]>>8), byte(r[1]), byte(r[2]>>8), byte(r[2]))
	}
	fmt.Fprintf(&b, "7 0 obj\n<</Type/XRef/Size 8/W[1 3 2]/Root 1 0 R/ID[<0102030405060708090A0B0C0D0E0F10><0102030405060708090A0B0C0D0E0F10>]/Length %d>>\nstream\n", len(data))
	b.Write(data)
	fmt.Fprintf(&b, "\nendstream\nendobj\nstartxref\n%d\n%%%%EOF\n", off7)
	return b.Bytes()
}

// qpdfObjectStreams rewrites in with qpdf --object-streams=generate, the
// shape LibreOffice and Word write; skipped without qpdf, fatal in CI.
func qpdfObjectStreams(t *testing.T, in []byte) []byte {
	t.Helper()
	signtest.Tool(t, "qpdf", "")
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "in.pdf"), filepath.Join(dir, "out.pdf")
	os.WriteFile(src, in, 0o600)
	if out, err := signtest.Run("qpdf", "--object-streams=generate", src, dst); err != nil {
		t.Fatalf("qpdf: %v\n%s", err, out)
	}
	data, err := os.ReadFile(dst)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// checkXRefStreamUpdate checks that the update appended to base ends with a
// cross-reference stream and holds no classic table.
func checkXRefStreamUpdate(t *testing.T, base, signed []byte) {
	t.Helper()
	update := signed[len(base):]
	if bytes.Contains(update, []byte("\nxref\n")) || bytes.Contains(update, []byte("trailer")) {
		t.Fatal("a classic xref table was appended to a PDF that uses xref streams")
	}
	for _, want := range []string{"/Type/XRef", "/W[1 4 2]", "/Index[", "/Prev ", "/Root ", "/ID["} {
		if !bytes.Contains(update, []byte(want)) {
			t.Fatalf("the update's xref stream lacks %s:\n%s", want, update[bytes.LastIndex(update, []byte(" obj\n")):])
		}
	}
}

func TestSignXRefStreamPDF(t *testing.T) {
	s := signtest.NewSigner(t, "ecdsa-p256")
	root := signtest.WritePEM(t, t.TempDir(), "root.pem", s.Root)
	inputs := map[string]func(t *testing.T) []byte{
		"generated": func(*testing.T) []byte { return xrefStreamPDF() },
		"qpdf":      func(t *testing.T) []byte { return qpdfObjectStreams(t, minimalPDF()) },
	}
	for name, input := range inputs {
		t.Run(name, func(t *testing.T) {
			in := input(t)
			once := sign(t, s, in, nil)
			checkXRefStreamUpdate(t, in, once)
			twice := sign(t, s, once, nil)
			checkXRefStreamUpdate(t, once, twice)
			out := pdfsig(t, twice, root)
			if strings.Count(out, "Signature is Valid") != 2 || !strings.Contains(out, "Total document signed") {
				t.Fatalf("pdfsig:\n%s", out)
			}
			if _, err := exec.LookPath("qpdf"); err == nil {
				dir := t.TempDir()
				path := filepath.Join(dir, "twice.pdf")
				os.WriteFile(path, twice, 0o600)
				if out, err := signtest.Run("qpdf", "--check", path); err != nil || strings.Contains(out, "WARNING") {
					t.Fatalf("qpdf --check: %v\n%s", err, out)
				}
			}
		})
	}
}
