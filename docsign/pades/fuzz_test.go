package pades_test

import (
	"bytes"
	"crypto/sha1"
	"crypto/x509"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/selo-qtsp/selo/docsign/pades"
	"github.com/selo-qtsp/selo/internal/signtest"
	"github.com/selo-qtsp/selo/pki/cms"
)

// FuzzPreparePDF feeds arbitrary bytes to the PDF reader behind Prepare: it
// must return an error or a prepared signature, never panic or hang.
func FuzzPreparePDF(f *testing.F) {
	good := minimalPDF()
	f.Add(good)
	f.Add(good[:len(good)/2])
	xs := xrefStreamPDF()
	f.Add(xs)
	f.Add(bytes.Replace(xs, []byte("/W[1 3 2]"), []byte("/W[1 9 9]"), 1))
	f.Add([]byte("%PDF-1.7\n%%EOF\n"))
	f.Add([]byte("%PDF-1.4\nxref\n0 1\n0000000000 65535 f\r\ntrailer\n<</Size 1/Root 1 0 R>>\nstartxref\n9\n%%EOF\n"))
	s := signtest.QuickSigner(f)
	const limit = 64 << 10
	f.Fuzz(func(t *testing.T, in []byte) {
		p, err := pades.Prepare(in, pades.Options{CMS: cms.Options{Certificate: s.Cert}, MaxInputSize: limit, SignatureSize: 2048})
		if err == nil && len(p.Digest()) != 32 {
			t.Fatal("prepared without a digest")
		}
		// The visible path walks the page tree itself, to a later page.
		v := &pades.Visible{Page: 2, X: 10, Y: 10, Width: 100, Height: 40}
		if p, err := pades.Prepare(in, pades.Options{CMS: cms.Options{Certificate: s.Cert}, MaxInputSize: limit, SignatureSize: 2048, Visible: v}); err == nil && len(p.Digest()) != 32 {
			t.Fatal("prepared without a digest")
		}
	})
}

// signedLookingPDF returns a small one-page PDF whose form has a signature
// field with a /ByteRange and a short /Contents, and extra catalog entries:
// what the DSS update reads, without a real CMS (the update does not check
// it), so the fuzzer's seeds stay small enough to minimize quickly.
func signedLookingPDF(catalogExtra string) []byte {
	objs := []string{
		"<</Type/Catalog/Pages 2 0 R/AcroForm<</Fields[4 0 R]/SigFlags 3>>" + catalogExtra + ">>",
		"<</Type/Pages/Kids[3 0 R]/Count 1>>",
		"<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]/Annots[4 0 R]>>",
		"<</Type/Annot/Subtype/Widget/FT/Sig/T(Signature1)/V 5 0 R/P 3 0 R/Rect[0 0 0 0]/F 132>>",
		"<</Type/Sig/SubFilter/ETSI.CAdES.detached/ByteRange[0 10 20 30]/Contents<3003020100>>>",
		"<</Type/DSS/Certs[7 0 R]/VRI<</AB<</Cert[7 0 R]>>>>>>",
		"<</Length 2>>\nstream\n0\x00\nendstream",
	}
	return signtest.PDF("%PDF-1.7\n", objs...)
}

// FuzzAddValidationData feeds arbitrary bytes to the DSS update, which
// reads the newest signature's /Contents and any existing DSS: an error or
// a PDF that starts with the input, never a panic.
func FuzzAddValidationData(f *testing.F) {
	f.Add(signedLookingPDF(""))
	f.Add(signedLookingPDF("/DSS 6 0 R/Extensions<</ADBE<</BaseVersion/1.7>>>>"))
	f.Add(signedLookingPDF("/DSS<</Certs 9 0 R/VRI 3 0 R>>/Extensions 2 0 R"))
	f.Add(minimalPDF())
	s := signtest.QuickSigner(f)
	vd := &pades.ValidationData{Certificates: []*x509.Certificate{s.Cert, s.Root}, OCSPs: [][]byte{{0x30, 0}}, CRLs: [][]byte{{0x30, 0}}}
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) > 64<<10 {
			return
		}
		out, err := pades.AddValidationData(in, vd)
		if err == nil && !bytes.HasPrefix(out, in) {
			t.Fatal("the DSS update rewrote the input")
		}
	})
}

func TestAddValidationDataKeepsExistingDSS(t *testing.T) {
	s := signtest.QuickSigner(t)
	vd := &pades.ValidationData{Certificates: []*x509.Certificate{s.Cert}}
	out, err := pades.AddValidationData(signedLookingPDF("/DSS 6 0 R"), vd)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha1.Sum([]byte{0x30, 3, 2, 1, 0}) // the /Contents
	key := strings.ToUpper(hex.EncodeToString(sum[:]))
	update := out[len(signedLookingPDF("/DSS 6 0 R")):]
	for _, want := range []string{"/Certs[7 0 R 8 0 R]", "/AB<</Cert[7 0 R]>>", "/" + key + "<</Cert[8 0 R]/Type/VRI>>", "/DSS 9 0 R", "/ESIC<<"} {
		if !bytes.Contains(update, []byte(want)) {
			t.Fatalf("the update lacks %s:\n%s", want, update)
		}
	}
	for _, bad := range []string{"/Extensions 5", "/DSS<</Certs 2 0 R>>", "/DSS<</VRI 7 0 R>>", "/DSS 7 0 R"} {
		if _, err := pades.AddValidationData(signedLookingPDF(bad), vd); err == nil {
			t.Errorf("a broken %s was accepted", bad)
		}
	}
}

// FuzzVerifyPDF feeds arbitrary bytes to the signature reader behind
// Verify: it must return an error or a report, never panic or hang, and a
// report of garbage is never valid.
func FuzzVerifyPDF(f *testing.F) {
	s := signtest.QuickSigner(f)
	// The smallest /Contents the signature fits in: half of each run went
	// into parsing the hex of a 2048-byte reservation, most of it zeros.
	p, err := pades.Prepare(minimalPDF(), pades.Options{CMS: cms.Options{Certificate: s.Cert}, SignatureSize: 1024})
	if err != nil {
		f.Fatal(err)
	}
	sig, _ := s.Key.Sign(nil, p.Digest(), p.SignerOpts())
	signed, err := p.Finish(f.Context(), sig, nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(signed)
	f.Add(signed[:len(signed)-100])
	f.Add(minimalPDF())
	f.Add([]byte("%PDF-1.7\n%%EOF\n"))
	roots := s.Roots()
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) > 64<<10 {
			return
		}
		rep, err := pades.Verify(in, pades.VerifyOptions{Roots: roots})
		if err == nil && rep == nil {
			t.Fatal("no report and no error")
		}
	})
}
