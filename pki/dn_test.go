package pki_test

import (
	"crypto/x509/pkix"
	"encoding/asn1"
	"testing"

	"github.com/selo-qtsp/selo/pki"
)

func TestNameString(t *testing.T) {
	parsed := pkix.Name{Names: []pkix.AttributeTypeAndValue{
		{Type: asn1.ObjectIdentifier{2, 5, 4, 6}, Value: "PT"},
		{Type: asn1.ObjectIdentifier{2, 5, 4, 42}, Value: "Ana Maria"},
		{Type: asn1.ObjectIdentifier{2, 5, 4, 4}, Value: "Silva, Jr"},
		{Type: asn1.ObjectIdentifier{2, 5, 4, 5}, Value: "IDCPT-12345678"},
		{Type: asn1.ObjectIdentifier{2, 5, 4, 3}, Value: " Ana Silva"},
		{Type: asn1.ObjectIdentifier{1, 2, 3, 4}, Value: 7},
	}}
	want := `1.2.3.4=#020107,CN=\ Ana Silva,serialNumber=IDCPT-12345678,SN=Silva\, Jr,GN=Ana Maria,C=PT`
	if got := pki.NameString(parsed); got != want {
		t.Errorf("parsed name:\n got %s\nwant %s", got, want)
	}
	built := pkix.Name{CommonName: "Selo Root", Organization: []string{"Selo"}, Country: []string{"PT"}}
	if got, want := pki.NameString(built), built.String(); got != want {
		t.Errorf("built name %q, want what pkix prints: %q", got, want)
	}
}
