package pades_test

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/docsign/pades"
	"github.com/selo-qtsp/selo/internal/signtest"
	"github.com/selo-qtsp/selo/pki/cms"
)

// render draws page 1 of pdf at 72 dpi (one pixel per point) with
// pdftoppm, skipped without it and fatal in CI.
func render(t *testing.T, pdf []byte) image.Image {
	t.Helper()
	signtest.Tool(t, "pdftoppm", "poppler-utils")
	dir := t.TempDir()
	path := filepath.Join(dir, "in.pdf")
	os.WriteFile(path, pdf, 0o600)
	if out, err := signtest.Run("pdftoppm", "-png", "-r", "72", "-f", "1", "-l", "1", "-singlefile", path, filepath.Join(dir, "page")); err != nil {
		t.Fatalf("pdftoppm: %v\n%s", err, out)
	}
	f, err := os.Open(filepath.Join(dir, "page.png"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// changed returns the bounding box of the pixels that differ between a and
// b, and how many differ.
func changed(a, b image.Image) (image.Rectangle, int) {
	var box image.Rectangle
	n := 0
	for y := a.Bounds().Min.Y; y < a.Bounds().Max.Y; y++ {
		for x := a.Bounds().Min.X; x < a.Bounds().Max.X; x++ {
			r1, g1, b1, _ := a.At(x, y).RGBA()
			r2, g2, b2, _ := b.At(x, y).RGBA()
			if r1 != r2 || g1 != g2 || b1 != b2 {
				n++
				box = box.Union(image.Rect(x, y, x+1, y+1))
			}
		}
	}
	return box, n
}

// darkPixels counts pixels in r darker than light grey (text and frame).
func darkPixels(img image.Image, r image.Rectangle) int {
	n := 0
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			cr, cg, cb, _ := img.At(x, y).RGBA()
			if (cr+cg+cb)/3 < 0x8000 {
				n++
			}
		}
	}
	return n
}

func TestVisibleSignature(t *testing.T) {
	s := signtest.NewSigner(t, "ecdsa-p256")
	root := signtest.WritePEM(t, t.TempDir(), "root.pem", s.Root)
	rotated := pdfWithPageEntries("/Rotate 90")
	cases := []struct {
		name string
		in   []byte
		v    pades.Visible
		// where the box must appear in the rendered page (pixels, top-left origin)
		want image.Rectangle
	}{
		{"upright", minimalPDF(), pades.Visible{Page: 1, X: 300, Y: 60, Width: 220, Height: 60}, image.Rect(300, 842-120, 520, 842-60)},
		// Rotate 90 shows the page turned clockwise: user (x, y) lands at
		// pixel (y, x).
		{"rotated page", rotated, pades.Visible{Page: 1, X: 300, Y: 60, Width: 220, Height: 60}, image.Rect(60, 300, 120, 520)},
		{"xref stream", xrefStreamPDF(), pades.Visible{Page: 1, X: 40, Y: 700, Width: 200, Height: 80, Name: "José Şahin (QES)"}, image.Rect(40, 842-780, 240, 842-700)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := c.v
			signed, err := pades.Sign(context.Background(), s.Key, c.in, pades.Options{
				CMS: cms.Options{Certificate: s.Cert, Chain: s.Chain}, SigningTime: at, Visible: &v,
			}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Contains(signed, []byte("(Date: 2026-11-24 12:00:00 UTC) Tj")) || !bytes.Contains(signed, []byte("/BaseFont/Helvetica/Encoding/WinAnsiEncoding")) {
				t.Fatal("the appearance lacks the signing time or the standard font")
			}
			// WinAnsi has é (octal 351) but not Ş; parentheses are escaped.
			if v.Name != "" && !bytes.Contains(signed, []byte(`(Jos\351 ?ahin \(QES\)) Tj`)) {
				t.Fatal("the name is not encoded in WinAnsiEncoding")
			}
			out := pdfsig(t, signed, root)
			if strings.Count(out, "Signature is Valid") != 1 || !strings.Contains(out, "Total document signed") {
				t.Fatalf("pdfsig:\n%s", out)
			}
			before, after := render(t, c.in), render(t, signed)
			box, n := changed(before, after)
			if n == 0 {
				t.Fatal("the visible signature drew nothing")
			}
			if !box.In(c.want.Inset(-2)) {
				t.Fatalf("the signature drew at %v, want inside %v", box, c.want)
			}
			if dark := darkPixels(after, c.want); dark < 200 {
				t.Fatalf("only %d dark pixels (text, frame) in the box", dark)
			}
		})
	}
}

func TestInvisibleSignatureDrawsNothing(t *testing.T) {
	s := signtest.NewSigner(t, "ecdsa-p256")
	in := minimalPDF()
	signed := sign(t, s, in, nil)
	if _, n := changed(render(t, in), render(t, signed)); n != 0 {
		t.Fatalf("an invisible signature changed %d pixels", n)
	}
}

func TestVisibleSignatureRefused(t *testing.T) {
	s := signtest.QuickSigner(t)
	for _, c := range []struct {
		v   pades.Visible
		msg string
	}{
		{pades.Visible{Page: 2, X: 10, Y: 10, Width: 100, Height: 50}, "has 1 page"},
		{pades.Visible{Page: 1, X: 500, Y: 10, Width: 200, Height: 50}, "not inside page 1"},
		{pades.Visible{Page: 1, X: 10, Y: 10, Width: 2, Height: 50}, "at least"},
	} {
		v := c.v
		_, err := pades.Prepare(minimalPDF(), pades.Options{CMS: cms.Options{Certificate: s.Cert}, Visible: &v})
		if selo.ErrorCode(err) != selo.EINVALID || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%+v: err = %v", c.v, err)
		}
	}
}

func TestParseVisible(t *testing.T) {
	v, err := pades.ParseVisible("2:36.5, 40,200,60")
	if err != nil || *v != (pades.Visible{Page: 2, X: 36.5, Y: 40, Width: 200, Height: 60}) {
		t.Fatalf("ParseVisible = %+v, %v", v, err)
	}
	for _, bad := range []string{"", "1", "0:1,2,30,40", "x:1,2,30,40", "1:1,2,30", "1:1,2,30,40,5", "1:a,2,30,40", "1:1,2,NaN,40", "1:1,2,1e9,40", "1:1,2,-30,40"} {
		if _, err := pades.ParseVisible(bad); selo.ErrorCode(err) != selo.EINVALID {
			t.Errorf("ParseVisible(%q) = %v, want EINVALID", bad, err)
		}
	}
}

// FuzzParseVisible: any text gives a box that passes its own checks or an
// error, never a panic.
func FuzzParseVisible(f *testing.F) {
	for _, s := range []string{"1:360,60,200,60", "2:0,0,10,10", "1:1e400,2,3,4", ":,,,"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := pades.ParseVisible(s)
		if err == nil && (v.Page < 1 || v.Width < 10 || v.Height < 10) {
			t.Fatalf("ParseVisible(%q) accepted %+v", s, v)
		}
	})
}

// pdfFromObjects writes objs as objects 1, 2, … of a PDF 1.4 with a
// classic xref table; object 1 is the catalog.
func pdfFromObjects(objs ...string) []byte {
	return signtest.PDF("%PDF-1.4\n", objs...)
}

func TestVisibleSignatureInPageTree(t *testing.T) {
	s := signtest.NewSigner(t, "ecdsa-p256")
	root := signtest.WritePEM(t, t.TempDir(), "root.pem", s.Root)
	// Three pages in two levels; the root node gives /MediaBox and /Rotate
	// to the pages that do not override them.
	in := pdfFromObjects(
		"<</Type/Catalog/Pages 2 0 R>>",
		"<</Type/Pages/Kids[3 0 R 4 0 R]/Count 3/MediaBox[0 0 595 842]/Rotate 90>>",
		"<</Type/Page/Parent 2 0 R>>",
		"<</Type/Pages/Parent 2 0 R/Kids[5 0 R 6 0 R]/Count 2>>",
		"<</Type/Page/Parent 4 0 R>>",
		"<</Type/Page/Parent 4 0 R/MediaBox[0 0 300 300]/Rotate 0>>",
	)
	opts := func(v pades.Visible) pades.Options {
		return pades.Options{CMS: cms.Options{Certificate: s.Cert, Chain: s.Chain}, SigningTime: at, Visible: &v}
	}
	signed, err := pades.Sign(context.Background(), s.Key, in, opts(pades.Visible{Page: 2, X: 100, Y: 100, Width: 60, Height: 200}), nil)
	if err != nil {
		t.Fatal(err)
	}
	update := signed[len(in):]
	if !bytes.Contains(update, []byte("5 0 obj\n<</Annots[")) || !bytes.Contains(update, []byte("/Matrix[0 1 -1 0 0 0]")) {
		t.Fatalf("the widget is not on page 2 (object 5) with the inherited rotation:\n%s", update[:min(len(update), 600)])
	}
	if out := pdfsig(t, signed, root); !strings.Contains(out, "Signature is Valid") {
		t.Fatalf("pdfsig:\n%s", out)
	}
	// Page 3 has its own, smaller media box.
	if _, err := pades.Prepare(in, opts(pades.Visible{Page: 3, X: 250, Y: 250, Width: 100, Height: 40})); err == nil || !strings.Contains(err.Error(), "not inside page 3") {
		t.Fatalf("box off page 3: %v", err)
	}
	if _, err := pades.Prepare(in, opts(pades.Visible{Page: 4, X: 10, Y: 10, Width: 100, Height: 40})); err == nil || !strings.Contains(err.Error(), "has 3 page") {
		t.Fatalf("page 4 of 3: %v", err)
	}
	// A page tree that contains itself is refused, not walked forever.
	loop := pdfFromObjects("<</Type/Catalog/Pages 2 0 R>>", "<</Type/Pages/Kids[2 0 R]/Count 5>>")
	if _, err := pades.Prepare(loop, opts(pades.Visible{Page: 2, X: 10, Y: 10, Width: 100, Height: 40})); selo.ErrorCode(err) != selo.EINVALID {
		t.Fatalf("a looping page tree: %v", err)
	}
}
