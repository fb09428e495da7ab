package xades_test

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/selo-qtsp/selo/docsign/cades"
	"github.com/selo-qtsp/selo/docsign/revocation"
	"github.com/selo-qtsp/selo/docsign/xades"
	"github.com/selo-qtsp/selo/internal/signtest"
	"github.com/selo-qtsp/selo/pki"
)

// withRevocationValues adds a xades:RevocationValues unsigned property
// holding the given OCSP responses and CRLs, the way a B-LT signer does;
// the signature itself is unchanged.
func withRevocationValues(t *testing.T, signed []byte, ocsps, crls [][]byte) []byte {
	t.Helper()
	var b strings.Builder
	b.WriteString("<xades:RevocationValues>")
	if len(ocsps) > 0 {
		b.WriteString("<xades:OCSPValues>")
		for _, o := range ocsps {
			b.WriteString("<xades:EncapsulatedOCSPValue>" + base64.StdEncoding.EncodeToString(o) + "</xades:EncapsulatedOCSPValue>")
		}
		b.WriteString("</xades:OCSPValues>")
	}
	if len(crls) > 0 {
		b.WriteString("<xades:CRLValues>")
		for _, c := range crls {
			b.WriteString("<xades:EncapsulatedCRLValue>" + base64.StdEncoding.EncodeToString(c) + "</xades:EncapsulatedCRLValue>")
		}
		b.WriteString("</xades:CRLValues>")
	}
	b.WriteString("</xades:RevocationValues>")
	s := string(signed)
	if strings.Contains(s, "</xades:UnsignedSignatureProperties>") {
		return []byte(strings.Replace(s, "</xades:UnsignedSignatureProperties>", b.String()+"</xades:UnsignedSignatureProperties>", 1))
	}
	return []byte(strings.Replace(s, "</xades:QualifyingProperties>",
		"<xades:UnsignedProperties><xades:UnsignedSignatureProperties>"+b.String()+"</xades:UnsignedSignatureProperties></xades:UnsignedProperties></xades:QualifyingProperties>", 1))
}

func verifyWith(t *testing.T, doc []byte, s *signtest.Signer, c *revocation.Checker) *cades.SignatureReport {
	t.Helper()
	rep, err := xades.Verify(doc, xades.VerifyOptions{Roots: s.Roots(), Now: at, Revocation: c})
	if err != nil {
		t.Fatal(err)
	}
	return rep.Signatures[0]
}

// TestRevocationEmbedded: the OCSP responses and CRLs a signature embeds
// answer offline; a revocation before the timestamp makes the signature
// invalid, one after leaves it valid; without a timestamp a revocation
// before now leaves it indeterminate (when it was made is not proven).
func TestRevocationEmbedded(t *testing.T) {
	s := signtest.NewSigner(t, "ecdsa-p256")
	bt := sign(t, s, invoice(t), 0, signtest.TSAResponder(t, at))
	offline := &revocation.Checker{Offline: true}
	const embedded = "OCSP (embedded in the document)"

	sig := verifyWith(t, bt, s, offline)
	if sig.Status != cades.StatusValid || sig.Revocation == nil || sig.Revocation.Status != revocation.NotChecked {
		t.Fatalf("offline, nothing embedded: %+v %+v", sig, sig.Revocation)
	}
	sig = verifyWith(t, bt, s, nil)
	if sig.Status != cades.StatusValid || sig.Revocation != nil {
		t.Fatalf("no checker: %+v", sig)
	}

	good := withRevocationValues(t, bt, [][]byte{signtest.OCSPResponse(t, s.Cert, at, time.Time{})}, nil)
	sig = verifyWith(t, good, s, offline)
	if sig.Status != cades.StatusValid || sig.Revocation.Status != revocation.Good || sig.Revocation.Source != embedded || sig.Level != xades.LevelBT {
		t.Fatalf("embedded good OCSP: %+v %+v", sig, sig.Revocation)
	}

	before := withRevocationValues(t, bt, [][]byte{signtest.OCSPResponse(t, s.Cert, at, at.Add(-time.Hour))}, nil)
	sig = verifyWith(t, before, s, offline)
	if sig.Status != cades.StatusInvalid || sig.Revocation.Status != revocation.Revoked || sig.Revocation.Reason != "keyCompromise" ||
		!strings.Contains(strings.Join(sig.Problems, ";"), "revoked at") {
		t.Fatalf("revoked before the timestamp: %+v %+v", sig, sig.Revocation)
	}

	after := withRevocationValues(t, bt, [][]byte{signtest.OCSPResponse(t, s.Cert, at, at.Add(time.Hour))}, nil)
	sig = verifyWith(t, after, s, offline)
	if sig.Status != cades.StatusValid || sig.Revocation.Status != revocation.Revoked {
		t.Fatalf("revoked after the timestamp: %+v %+v", sig, sig.Revocation)
	}

	// A CRL, alone: the second source.
	crl := withRevocationValues(t, bt, nil, [][]byte{signtest.CRLRevoking(t, at, at.Add(-time.Hour), s.Cert)})
	sig = verifyWith(t, crl, s, offline)
	if sig.Status != cades.StatusInvalid || sig.Revocation.Source != "CRL (embedded in the document)" {
		t.Fatalf("embedded CRL: %+v %+v", sig, sig.Revocation)
	}

	// B-B: nothing proves the signature came before the revocation.
	bb := sign(t, s, invoice(t), 0, nil)
	sig = verifyWith(t, withRevocationValues(t, bb, [][]byte{signtest.OCSPResponse(t, s.Cert, at, at.Add(-time.Hour))}, nil), s, offline)
	if sig.Status != cades.StatusIndeterminate || sig.Revocation.Status != revocation.Revoked {
		t.Fatalf("B-B revoked: %+v %+v", sig, sig.Revocation)
	}

	// Revocation data that is not base64 is reported, not trusted.
	broken := []byte(strings.Replace(string(good), "<xades:EncapsulatedOCSPValue>", "<xades:EncapsulatedOCSPValue>!!", 1))
	sig = verifyWith(t, broken, s, offline)
	if sig.Status != cades.StatusIndeterminate || sig.Revocation.Status != revocation.NotChecked || !strings.Contains(strings.Join(sig.Problems, ";"), "not base64") {
		t.Fatalf("broken revocation values: %+v %+v", sig, sig.Revocation)
	}
	// An OCSP response about another certificate does not answer for this one.
	other := signtest.NewSigner(t, "ecdsa-p256")
	sig = verifyWith(t, withRevocationValues(t, bt, [][]byte{signtest.OCSPResponse(t, other.Cert, at, at.Add(-time.Hour))}, nil), s, offline)
	if sig.Status != cades.StatusValid || sig.Revocation.Status != revocation.NotChecked {
		t.Fatalf("foreign OCSP response: %+v %+v", sig, sig.Revocation)
	}
}

// TestRevocationOnline asks the certificate's OCSP responder, then its CRL
// distribution point when OCSP is down, and reports which answered.
func TestRevocationOnline(t *testing.T) {
	s := signtest.NewSigner(t, "ecdsa-p256")
	revokedAt := at.Add(-time.Hour)
	var ocspDown atomic.Bool
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		switch {
		case r.URL.Path == "/ocsp" && !ocspDown.Load():
			io.Copy(io.Discard, r.Body)
			w.Write(signtest.OCSPResponse(t, s.Cert, at, revokedAt))
		case strings.HasPrefix(r.URL.Path, "/crl/"):
			w.Write(signtest.CRLRevoking(t, at, revokedAt, s.Cert))
		default:
			http.Error(w, "down", http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	// The certificate names pki.selo-test.eu: send its requests here.
	client := signtest.RedirectClient(srv.URL, nil)
	bt := sign(t, s, invoice(t), 0, signtest.TSAResponder(t, at))
	checker := &revocation.Checker{Client: client}
	rep, err := xades.Verify(bt, xades.VerifyOptions{Roots: s.Roots(), Now: at, Revocation: checker, Context: context.Background()})
	if err != nil {
		t.Fatal(err)
	}
	sig := rep.Signatures[0]
	if sig.Status != cades.StatusInvalid || sig.Revocation.Status != revocation.Revoked || sig.Revocation.Source != "OCSP http://pki.selo-test.eu/ocsp" {
		t.Fatalf("OCSP: %+v %+v", sig, sig.Revocation)
	}
	ocspDown.Store(true)
	sig = verifyWith(t, bt, s, checker)
	if sig.Status != cades.StatusInvalid || !strings.HasPrefix(sig.Revocation.Source, "CRL http://pki.selo-test.eu/crl/") || len(sig.Revocation.Problems) != 1 {
		t.Fatalf("CRL after OCSP failed: %+v %+v", sig, sig.Revocation)
	}
	// Embedded data answers first, for the signer and its CA: no request
	// is made.
	n := calls.Load()
	sig = verifyWith(t, withRevocationValues(t, bt, [][]byte{signtest.OCSPResponse(t, s.Cert, at, time.Time{})}, [][]byte{signtest.RootCRLRevoking(t, at, time.Time{})}), s, checker)
	if sig.Status != cades.StatusValid || sig.Revocation.Status != revocation.Good || calls.Load() != n {
		t.Fatalf("embedded before online: %+v %+v (%d requests)", sig, sig.Revocation, calls.Load()-n)
	}
}

// TestChainRevocation: the intermediate CA certificate of the signer's
// chain is checked with the same sources and rules as the signer's own: a
// CA revoked before the timestamp makes the signature invalid, one revoked
// after leaves it valid, and each CA's status is reported on its own.
func TestChainRevocation(t *testing.T) {
	s := signtest.NewSigner(t, "ecdsa-p256")
	bt := sign(t, s, invoice(t), 0, signtest.TSAResponder(t, at))
	offline := &revocation.Checker{Offline: true}
	signerGood := signtest.OCSPResponse(t, s.Cert, at, time.Time{})
	ca := s.Chain[0]

	sig := verifyWith(t, bt, s, offline)
	if sig.Status != cades.StatusValid || len(sig.ChainRevocation) != 1 || sig.ChainRevocation[0].Status.Status != revocation.NotChecked ||
		sig.ChainRevocation[0].Subject != pkiName(ca) {
		t.Fatalf("offline, nothing embedded: %+v %+v", sig, sig.ChainRevocation)
	}

	good := withRevocationValues(t, bt, [][]byte{signerGood}, [][]byte{signtest.RootCRLRevoking(t, at, time.Time{})})
	sig = verifyWith(t, good, s, offline)
	if sig.Status != cades.StatusValid || len(sig.ChainRevocation) != 1 || sig.ChainRevocation[0].Status.Status != revocation.Good ||
		sig.ChainRevocation[0].Status.Source != "CRL (embedded in the document)" {
		t.Fatalf("CA good: %+v %+v", sig, sig.ChainRevocation[0].Status)
	}

	// The signer's own CRL (the issuing CA's) says nothing about the CA.
	issuingCRL := withRevocationValues(t, bt, [][]byte{signerGood}, [][]byte{signtest.CRLRevoking(t, at, at.Add(-time.Hour), ca)})
	sig = verifyWith(t, issuingCRL, s, offline)
	if sig.Status != cades.StatusValid || sig.ChainRevocation[0].Status.Status != revocation.NotChecked {
		t.Fatalf("the CA listed on its own CRL: %+v %+v", sig, sig.ChainRevocation[0].Status)
	}

	before := withRevocationValues(t, bt, [][]byte{signerGood}, [][]byte{signtest.RootCRLRevoking(t, at, at.Add(-time.Hour), ca)})
	sig = verifyWith(t, before, s, offline)
	if sig.Status != cades.StatusInvalid || sig.Revocation.Status != revocation.Good || sig.ChainRevocation[0].Status.Status != revocation.Revoked ||
		sig.ChainRevocation[0].Status.Reason != "keyCompromise" || !strings.Contains(strings.Join(sig.Problems, ";"), "the CA certificate \""+pkiName(ca)+"\" was revoked at") {
		t.Fatalf("CA revoked before the timestamp: %+v %+v", sig, sig.ChainRevocation[0].Status)
	}

	after := withRevocationValues(t, bt, [][]byte{signerGood}, [][]byte{signtest.RootCRLRevoking(t, at.Add(2*time.Hour), at.Add(time.Hour), ca)})
	sig = verifyWith(t, after, s, offline)
	if sig.Status != cades.StatusValid || sig.ChainRevocation[0].Status.Status != revocation.Revoked {
		t.Fatalf("CA revoked after the timestamp: %+v %+v", sig, sig.ChainRevocation[0].Status)
	}

	// B-B: nothing proves the signature came before the CA's revocation.
	bb := sign(t, s, invoice(t), 0, nil)
	sig = verifyWith(t, withRevocationValues(t, bb, [][]byte{signerGood}, [][]byte{signtest.RootCRLRevoking(t, at, at.Add(-time.Hour), ca)}), s, offline)
	if sig.Status != cades.StatusIndeterminate || sig.ChainRevocation[0].Status.Status != revocation.Revoked {
		t.Fatalf("B-B, CA revoked: %+v %+v", sig, sig.ChainRevocation[0].Status)
	}

	// Without a checker nothing is reported, for the CA as for the signer.
	if sig = verifyWith(t, bt, s, nil); sig.ChainRevocation != nil {
		t.Fatalf("no checker: %+v", sig.ChainRevocation)
	}
}

// TestChainRevocationOnline: the CA's status comes from its issuer's CRL
// distribution point when nothing is embedded.
func TestChainRevocationOnline(t *testing.T) {
	s := signtest.NewSigner(t, "ecdsa-p256")
	ca := s.Chain[0]
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/crl/") && strings.Contains(ca.CRLDistributionPoints[0], r.URL.Path) {
			w.Write(signtest.RootCRLRevoking(t, at, at.Add(-time.Hour), ca))
			return
		}
		http.Error(w, "down", http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	client := signtest.RedirectClient(srv.URL, nil)
	bt := sign(t, s, invoice(t), 0, signtest.TSAResponder(t, at))
	sig := verifyWith(t, withRevocationValues(t, bt, [][]byte{signtest.OCSPResponse(t, s.Cert, at, time.Time{})}, nil), s, &revocation.Checker{Client: client})
	if sig.Status != cades.StatusInvalid || sig.ChainRevocation[0].Status.Status != revocation.Revoked ||
		sig.ChainRevocation[0].Status.Source != "CRL "+ca.CRLDistributionPoints[0] {
		t.Fatalf("CA revoked, online: %+v %+v", sig, sig.ChainRevocation[0].Status)
	}
}

func pkiName(c *x509.Certificate) string { return pki.NameString(c.Subject) }
