package pades_test

import (
	"bytes"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/selo-qtsp/selo/docsign/cades"
	"github.com/selo-qtsp/selo/internal/signtest"
)

// appendObjects appends one incremental update that writes the given objects.
func appendObjects(t *testing.T, pdf []byte, objs map[int]string) []byte {
	t.Helper()
	i := bytes.LastIndex(pdf, []byte("startxref"))
	prev := strings.Fields(string(pdf[i+len("startxref"):]))[0]
	var nums []int
	for n := range objs {
		nums = append(nums, n)
	}
	sort.Ints(nums)
	var b bytes.Buffer
	b.Write(pdf)
	offs := map[int]int{}
	for _, n := range nums {
		offs[n] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", n, objs[n])
	}
	xref := b.Len()
	b.WriteString("xref\n")
	for _, n := range nums {
		fmt.Fprintf(&b, "%d 1\n%010d 00000 n\r\n", n, offs[n])
	}
	fmt.Fprintf(&b, "trailer\n<</Size 30/Root 1 0 R/Prev %s>>\nstartxref\n%d\n%%%%EOF\n", prev, xref)
	return b.Bytes()
}

// lastCatalog returns the body of the newest "1 0 obj" (the catalog).
func lastCatalog(t *testing.T, pdf []byte) string {
	t.Helper()
	m := regexp.MustCompile(`(?s)1 0 obj\s*(<<.*?>>)\s*endobj`).FindAllSubmatch(pdf, -1)
	if len(m) == 0 {
		t.Fatal("no catalog")
	}
	return string(m[len(m)-1][1])
}

// TestVerifyReportsContentChangesDisguisedAsSignatureData: a later update
// that rewrites the page's content stream is reported however it is
// dressed up: as a cross-reference or object stream, as a signature or DSS
// dictionary, or reached from a new DSS or a new signature field's
// appearance.
func TestVerifyReportsContentChangesDisguisedAsSignatureData(t *testing.T) {
	s := signtest.NewSigner(t, "ecdsa-p256")
	signed := sign(t, s, minimalPDF(), nil)
	evil := "BT /F1 24 Tf 72 720 Td (Evil) Tj ET"
	stream := func(extra string) string {
		return fmt.Sprintf("<<%s/Length %d>>\nstream\n%s\nendstream", extra, len(evil), evil)
	}
	catalog := lastCatalog(t, signed)
	withDSS := strings.TrimSuffix(catalog, ">>") + "/DSS 20 0 R>>"
	cases := map[string]map[int]string{
		"as xref stream":   {4: stream("/Type/XRef/Size 5/W[1 1 1]")},
		"as object stream": {4: stream("/Type/ObjStm/N 0/First 0")},
		"as signature":     {4: stream("/Type/Sig")},
		"as DSS":           {4: stream("/Type/DSS")},
		"as VRI":           {4: stream("/Type/VRI")},
		"as doc timestamp": {4: stream("/Type/DocTimeStamp")},
		"reached from a new DSS": {
			1:  withDSS,
			20: "<</Certs[4 0 R]>>",
			4:  stream(""),
		},
		"reached from a new signature appearance": {
			21: "<</FT/Sig/T(Evil)/Rect[0 0 0 0]/AP<</N 4 0 R>>>>",
			4:  stream("/Type/XObject/Subtype/Form/BBox[0 0 1 1]"),
		},
	}
	for name, objs := range cases {
		t.Run(name, func(t *testing.T) {
			rep := verifyPDF(t, appendObjects(t, signed, objs), s)
			sig := rep.Signatures[0]
			if rep.Valid() || sig.OnlySignaturesAdded || sig.Status == cades.StatusValid ||
				!strings.Contains(strings.Join(sig.LaterChanges, ";"), "object 4") {
				t.Fatalf("a rewritten page content passed: %s %v %v", sig.Status, sig.LaterChanges, sig.Problems)
			}
		})
	}
}

// TestVerifyReportsDeletedObjects: an update that frees the page's content
// stream blanks the page and must be reported.
func TestVerifyReportsDeletedObjects(t *testing.T) {
	s := signtest.NewSigner(t, "ecdsa-p256")
	signed := sign(t, s, minimalPDF(), nil)
	i := bytes.LastIndex(signed, []byte("startxref"))
	prev := strings.Fields(string(signed[i+len("startxref"):]))[0]
	var b bytes.Buffer
	b.Write(signed)
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n4 1\n0000000000 00001 f\r\ntrailer\n<</Size 30/Root 1 0 R/Prev %s>>\nstartxref\n%d\n%%%%EOF\n", prev, xref)
	rep := verifyPDF(t, b.Bytes(), s)
	sig := rep.Signatures[0]
	if rep.Valid() || sig.OnlySignaturesAdded || !strings.Contains(strings.Join(sig.LaterChanges, ";"), "object 4 deleted") {
		t.Fatalf("a deleted content stream passed: %s %v", sig.Status, sig.LaterChanges)
	}
}
