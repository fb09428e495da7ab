package trustlist

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"testing"
	"time"
)

// FuzzParse feeds Parse and the grading of what it parsed arbitrary bytes:
// neither may panic, and a list Parse accepts must marshal and parse again. (The
// signature check is xades.Verify's, fuzzed in docsign/xades.)
func FuzzParse(f *testing.F) {
	// Made on the spot with P-256 keys only: every fuzz worker builds its
	// own, and the pkitest hierarchy's RSA keys would take it seconds.
	caKey, ca := listSigner(f, "Fuzz CA")
	leafKey, leafCert := listSigner(f, "Fuzz signer")
	leafCert.Raw = nil
	der, err := x509.CreateCertificate(rand.Reader, leafCert, ca, leafKey.Public(), caKey)
	if err != nil {
		f.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	chain := []*x509.Certificate{leaf, ca}
	p, err := NewProvider(ProviderInfo{Name: "Fuzz TSP", Country: "PT"}, []ServiceSpec{{Type: ServiceTypeCAQC, Name: "Fuzz CA", Certificate: ca,
		Changes: []StatusChange{{StatusGranted, now.AddDate(-1, 0, 0)}, {StatusWithdrawn, now.Add(-time.Hour)}}, Qualifications: qualifications()}})
	if err != nil {
		f.Fatal(err)
	}
	lotlKey, lotlCert := listSigner(f, "Fuzz LOTL")
	for _, l := range []*List{
		NewList(ListOptions{Type: TypeEUGeneric, SequenceNumber: 1, Territory: "PT", IssueDate: now, NextUpdate: now.AddDate(0, 1, 0), Providers: []*Provider{p}}),
		NewList(ListOptions{Type: TypeEULOTL, SequenceNumber: 1, Territory: "EU", IssueDate: now, NextUpdate: now.AddDate(0, 1, 0),
			Pointers: []PointerSpec{{Location: "tl.xml", Type: TypeEUGeneric, Signers: []*x509.Certificate{ca}}}}),
	} {
		data, _ := Marshal(l)
		signed, err := Sign(context.Background(), data, lotlKey, lotlCert, now)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(signed)
	}
	f.Add([]byte(`<TrustServiceStatusList xmlns="http://uri.etsi.org/02231/v2#" TSLTag="http://uri.etsi.org/19612/TSLTag"><SchemeInformation><TSLVersionIdentifier>5</TSLVersionIdentifier></SchemeInformation></TrustServiceStatusList>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		l, err := Parse(data)
		if err != nil {
			return
		}
		set := newSet()
		set.add(l, &ListReport{Location: "fuzz"})
		set.Grade(chain, now)
		out, err := Marshal(l)
		if err != nil {
			t.Fatalf("a parsed list does not marshal: %v", err)
		}
		again, err := Parse(out)
		if err != nil {
			t.Fatalf("a marshalled list does not parse: %v\n%s", err, out)
		}
		if again.Scheme.SequenceNumber != l.Scheme.SequenceNumber || again.Scheme.Type != l.Scheme.Type {
			t.Fatalf("the round trip changed the scheme: %+v -> %+v", l.Scheme, again.Scheme)
		}
	})
}
