package xades_test

import (
	"context"
	"strings"
	"testing"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/docsign/revocation"
	"github.com/selo-qtsp/selo/docsign/xades"
	"github.com/selo-qtsp/selo/internal/signtest"
)

// FuzzXML feeds arbitrary bytes to what reads XML a user hands in: Verify
// (`selo verify`) and Prepare (`selo sign xml`). Neither may panic or call
// bad input an internal error, and whatever Prepare accepts must come out
// as a signed document that Verify finds intact.
func FuzzXML(f *testing.F) {
	s := signtest.QuickSigner(f)
	signed, err := xades.Sign(context.Background(), s.Key, invoice(f), xades.Options{Certificate: s.Cert}, nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(signed)
	// Revocation values (unsigned, B-LT style) with one bad OCSP response
	// and one bad CRL: the revocation checker reads them offline.
	f.Add([]byte(strings.Replace(string(signed), "</xades:QualifyingProperties>", "<xades:UnsignedProperties><xades:UnsignedSignatureProperties>"+
		"<xades:RevocationValues><xades:OCSPValues><xades:EncapsulatedOCSPValue>MAMKAQE=</xades:EncapsulatedOCSPValue></xades:OCSPValues>"+
		"<xades:CRLValues><xades:EncapsulatedCRLValue>MAA=</xades:EncapsulatedCRLValue></xades:CRLValues></xades:RevocationValues>"+
		"</xades:UnsignedSignatureProperties></xades:UnsignedProperties></xades:QualifyingProperties>", 1)))
	f.Add(invoice(f))
	f.Add([]byte(`<a xmlns:p="urn:p"><p:b p:c="1">x</p:b><?pi data?><!-- c --></a>`))
	f.Add([]byte(`<?xml version="1.0"?><!DOCTYPE a [<!ENTITY e "x">]><a>&e;</a>`))
	f.Add([]byte(`<a><ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo/></ds:Signature></a>`))
	roots := s.Roots()
	f.Fuzz(func(t *testing.T, data []byte) {
		if _, err := xades.Verify(data, xades.VerifyOptions{Roots: roots, Revocation: &revocation.Checker{Offline: true}}); err != nil && selo.ErrorCode(err) == selo.EINTERNAL {
			t.Fatalf("Verify: internal error for bad input: %v", err)
		}
		p, err := xades.Prepare(data, xades.Options{Certificate: s.Cert})
		if err != nil {
			if selo.ErrorCode(err) == selo.EINTERNAL {
				t.Fatalf("Prepare: internal error for bad input: %v", err)
			}
			return
		}
		sig, err := s.Key.Sign(nil, p.Digest(), p.SignerOpts())
		if err != nil {
			t.Fatal(err)
		}
		out, err := p.Finish(context.Background(), sig, nil)
		if err != nil {
			// The one refusal allowed: a document whose canonical form our
			// own read-back disagrees with (reported, never written).
			if !strings.Contains(err.Error(), "check the signed document") && !strings.Contains(err.Error(), "does not verify") {
				t.Fatalf("Finish: %v", err)
			}
			return
		}
		rep, err := xades.Verify(out, xades.VerifyOptions{Roots: roots})
		if err != nil {
			t.Fatalf("Verify of a signed document: %v", err)
		}
		last := rep.Signatures[len(rep.Signatures)-1]
		if !last.DigestOK || !last.SignatureOK {
			t.Fatalf("signed document does not verify: %+v", last)
		}
	})
}
