package pades_test

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/selo-qtsp/selo/docsign/cades"
	"github.com/selo-qtsp/selo/docsign/pades"
	"github.com/selo-qtsp/selo/docsign/revocation"
	"github.com/selo-qtsp/selo/internal/signtest"
)

// addDSS appends an incremental update with a /DSS holding one OCSP
// response, the way a B-LT signer does.
func addDSS(t *testing.T, pdf, ocsp []byte) []byte {
	t.Helper()
	bodies := regexp.MustCompile(`(?s)\n1 0 obj\n(.*?)\nendobj`).FindAllSubmatch(pdf, -1)
	catalog := string(bodies[len(bodies)-1][1])
	catalog = catalog[:len(catalog)-2] + "/DSS 31 0 R>>"
	i := bytes.LastIndex(pdf, []byte("startxref"))
	prev := strings.Fields(string(pdf[i+len("startxref"):]))[0]
	var b bytes.Buffer
	b.Write(pdf)
	off1 := b.Len()
	fmt.Fprintf(&b, "1 0 obj\n%s\nendobj\n", catalog)
	off30 := b.Len()
	fmt.Fprintf(&b, "30 0 obj\n<</Length %d>>\nstream\n%s\nendstream\nendobj\n", len(ocsp), ocsp)
	off31 := b.Len()
	b.WriteString("31 0 obj\n<</Type/DSS/OCSPs[30 0 R]>>\nendobj\n")
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n1 1\n%010d 00000 n\r\n30 2\n%010d 00000 n\r\n%010d 00000 n\r\ntrailer\n<</Size 32/Root 1 0 R/Prev %s>>\nstartxref\n%d\n%%%%EOF\n", off1, off30, off31, prev, xref)
	return b.Bytes()
}

func TestVerifyLongTermWithDSS(t *testing.T) {
	s := signtest.NewSigner(t, "ecdsa-p256")
	signed := sign(t, s, minimalPDF(), signtest.TSAResponder(t, at))

	lt := addDSS(t, signed, signtest.OCSPResponse(t, s.Cert, at, time.Time{}))
	rep := verifyPDF(t, lt, s)
	sig := rep.Signatures[0]
	if !rep.Valid() || !rep.DSS || sig.Level != pades.LevelBLT || sig.Revocation.Status != revocation.Good ||
		sig.Revocation.Source != "OCSP (embedded in the document)" || !sig.OnlySignaturesAdded || sig.CoversDocument {
		t.Fatalf("B-LT: %+v %+v %v", sig.SignatureReport, sig.Revocation, sig.LaterChanges)
	}

	// Revoked an hour before the timestamp: the signature came after the
	// revocation.
	revoked := addDSS(t, signed, signtest.OCSPResponse(t, s.Cert, at, at.Add(-time.Hour)))
	rep = verifyPDF(t, revoked, s)
	sig = rep.Signatures[0]
	if rep.Valid() || sig.Status != cades.StatusInvalid || sig.Revocation.Status != revocation.Revoked || sig.Revocation.Reason != "keyCompromise" ||
		!strings.Contains(strings.Join(sig.Problems, ";"), "revoked at") {
		t.Fatalf("revoked: %+v %+v", sig.SignatureReport, sig.Revocation)
	}

	// Revoked after the timestamp: the signature stands.
	later := addDSS(t, signed, signtest.OCSPResponse(t, s.Cert, at, at.Add(time.Hour)))
	if rep := verifyPDF(t, later, s); !rep.Valid() || rep.Signatures[0].Revocation.Status != revocation.Revoked {
		t.Fatalf("revoked later: %+v", rep.Signatures[0].SignatureReport)
	}
}
