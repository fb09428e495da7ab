package pades_test

import (
	"bytes"
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
	})
}
