package pades_test

import (
	"bytes"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/docsign/cades"
	"github.com/selo-qtsp/selo/docsign/pades"
	"github.com/selo-qtsp/selo/docsign/revocation"
	"github.com/selo-qtsp/selo/internal/signtest"
)

func verifyPDF(t *testing.T, pdf []byte, s *signtest.Signer) *pades.Report {
	t.Helper()
	rep, err := pades.Verify(pdf, pades.VerifyOptions{Roots: s.Roots(), Now: at, Revocation: &revocation.Checker{Offline: true}})
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	return rep
}

func TestVerifySignedPDF(t *testing.T) {
	s := signtest.NewSigner(t, "ecdsa-p256")
	signed := sign(t, s, minimalPDF(), signtest.TSAResponder(t, at))
	rep := verifyPDF(t, signed, s)
	if !rep.Valid() || rep.Format != "PAdES" || rep.Revisions != 2 || len(rep.Signatures) != 1 {
		t.Fatalf("report: %+v", rep)
	}
	sig := rep.Signatures[0]
	if sig.Level != cades.LevelBT || !sig.TimestampOK || sig.Timestamp == nil || !sig.ClaimedTime.Equal(at) ||
		sig.Revision != 2 || !sig.CoversRevision || !sig.CoversDocument || !sig.OnlySignaturesAdded ||
		sig.Field != "Signature1" || sig.SubFilter != "ETSI.CAdES.detached" || !strings.Contains(sig.Signer, s.Cert.Subject.CommonName) {
		t.Fatalf("signature: %+v", sig.SignatureReport)
	}
	if sig.Revocation == nil || sig.Revocation.Status != revocation.NotChecked {
		t.Fatalf("offline revocation: %+v", sig.Revocation)
	}
	// Without roots the signature is intact but not trusted.
	rep, err := pades.Verify(signed, pades.VerifyOptions{Now: at})
	if err != nil || rep.Valid() || rep.Signatures[0].Status != cades.StatusIndeterminate || !rep.Signatures[0].DigestOK {
		t.Fatalf("no roots: %v %+v", err, rep.Signatures[0].SignatureReport)
	}
}

func TestVerifyTwoSignaturesAndLaterUpdates(t *testing.T) {
	s := signtest.NewSigner(t, "ecdsa-p256")
	once := sign(t, s, minimalPDF(), nil)
	twice := sign(t, s, once, nil)
	rep := verifyPDF(t, twice, s)
	if !rep.Valid() || len(rep.Signatures) != 2 || rep.Revisions != 3 {
		t.Fatalf("report: %+v", rep)
	}
	first, second := rep.Signatures[0], rep.Signatures[1]
	if first.Revision != 2 || first.CoversDocument || !first.OnlySignaturesAdded || second.Revision != 3 || !second.CoversDocument {
		t.Fatalf("revisions: first %d %v %v, second %d %v", first.Revision, first.CoversDocument, first.OnlySignaturesAdded, second.Revision, second.CoversDocument)
	}
	if got := strings.Join(first.LaterChanges, "; "); !strings.Contains(got, "signature (1)") || strings.Contains(got, "changed") {
		t.Fatalf("later changes: %s", got)
	}

	// An update that changes the page after signing is reported, and the
	// signature is no longer valid.
	edited := appendUpdate(t, once, 3, "<</Type/Page/Parent 2 0 R/MediaBox[0 0 300 300]/Contents 4 0 R>>")
	rep = verifyPDF(t, edited, s)
	sig := rep.Signatures[0]
	if rep.Valid() || sig.OnlySignaturesAdded || sig.Status != cades.StatusIndeterminate || !sig.DigestOK ||
		!strings.Contains(strings.Join(sig.LaterChanges, ";"), "object 3 (/Page) changed") {
		t.Fatalf("edited: %+v %v", sig.SignatureReport, sig.LaterChanges)
	}
}

func TestVerifyTamperedPDF(t *testing.T) {
	s := signtest.NewSigner(t, "ecdsa-p256")
	signed := sign(t, s, minimalPDF(), nil)
	bad := bytes.Clone(signed)
	i := bytes.Index(bad, []byte("(Selo)"))
	bad[i+1] = 'X'
	rep := verifyPDF(t, bad, s)
	sig := rep.Signatures[0]
	if rep.Valid() || sig.Status != cades.StatusInvalid || sig.DigestOK || !strings.Contains(strings.Join(sig.Problems, ";"), "document was changed after signing") {
		t.Fatalf("tampered: %+v", sig.SignatureReport)
	}
	// A byte range that stops short of the revision's end.
	short := regexp.MustCompile(`/ByteRange\[0 (\d+) (\d+) (\d+)`).ReplaceAllFunc(signed, func(m []byte) []byte {
		f := strings.Fields(string(m[len("/ByteRange["):]))
		d, _ := strconv.Atoi(f[3])
		return []byte(fmt.Sprintf("/ByteRange[0 %s %s %d", f[1], f[2], d-40)[:len(m)])
	})
	rep = verifyPDF(t, short, s)
	if rep.Valid() || rep.Signatures[0].CoversRevision {
		t.Fatalf("short byte range: %+v", rep.Signatures[0].SignatureReport)
	}
}

func TestVerifyRefusesNonPDF(t *testing.T) {
	for _, in := range [][]byte{[]byte("hello"), []byte("%PDF-1.4\ngarbage")} {
		if _, err := pades.Verify(in, pades.VerifyOptions{}); selo.ErrorCode(err) != selo.EINVALID {
			t.Fatalf("%q: %v", in, err)
		}
	}
	rep, err := pades.Verify(minimalPDF(), pades.VerifyOptions{})
	if err != nil || len(rep.Signatures) != 0 || rep.Valid() {
		t.Fatalf("unsigned: %v %+v", err, rep)
	}
}

// appendUpdate appends an incremental update that replaces object num.
func appendUpdate(t *testing.T, pdf []byte, num int, body string) []byte {
	t.Helper()
	i := bytes.LastIndex(pdf, []byte("startxref"))
	prev := strings.Fields(string(pdf[i+len("startxref"):]))[0]
	var b bytes.Buffer
	b.Write(pdf)
	off := b.Len()
	fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", num, body)
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n%d 1\n%010d 00000 n\r\ntrailer\n<</Size 20/Root 1 0 R/Prev %s>>\nstartxref\n%d\n%%%%EOF\n", num, off, prev, xref)
	return b.Bytes()
}
