package pades_test

import (
	"testing"

	"github.com/selo-qtsp/selo/docsign/cms"
	"github.com/selo-qtsp/selo/docsign/pades"
	"github.com/selo-qtsp/selo/internal/signtest"
)

// FuzzPreparePDF feeds arbitrary bytes to the PDF reader behind Prepare: it
// must return an error or a prepared signature, never panic or hang.
func FuzzPreparePDF(f *testing.F) {
	good := minimalPDF()
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add([]byte("%PDF-1.7\n%%EOF\n"))
	f.Add([]byte("%PDF-1.4\nxref\n0 1\n0000000000 65535 f\r\ntrailer\n<</Size 1/Root 1 0 R>>\nstartxref\n9\n%%EOF\n"))
	s := signtest.QuickSigner(f)
	const limit = 64 << 10
	f.Fuzz(func(t *testing.T, in []byte) {
		p, err := pades.Prepare(in, pades.Options{CMS: cms.Options{Certificate: s.Cert}, MaxInputSize: limit, SignatureSize: 2048})
		if err == nil && len(p.Digest()) != 32 {
			t.Fatal("prepared without a digest")
		}
	})
}

// FuzzVerifyPDF feeds arbitrary bytes to the signature reader behind
// Verify: it must return an error or a report, never panic or hang, and a
// report of garbage is never valid.
func FuzzVerifyPDF(f *testing.F) {
	s := signtest.QuickSigner(f)
	p, err := pades.Prepare(minimalPDF(), pades.Options{CMS: cms.Options{Certificate: s.Cert}, SignatureSize: 2048})
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
