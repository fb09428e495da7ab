package pki_test

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"testing"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/pki"
	"github.com/selo-qtsp/selo/pki/pkitest"
)

func TestIssueTimestamping(t *testing.T) {
	h := pkitest.NewHierarchy(t)
	key := pkitest.NewKey(t, "ecdsa-p256")
	req := &pki.Request{PublicKey: key.Public(), Subject: pkix.Name{Country: []string{"PT"}, Organization: []string{"Selo Test"}, CommonName: "Selo Test TSA"}}
	issued, err := h.Issuing.Issuer.IssueTimestamping(pki.TimestampingProfile(), req, mustSerial(t), pkitest.Now, h.Linter)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range issued.Findings {
		if f.Status != "notice" && f.Status != "info" {
			t.Errorf("lint %s: %s %s", f.Lint, f.Status, f.Details)
		}
	}
	c := issued.Cert
	if len(c.ExtKeyUsage) != 1 || c.ExtKeyUsage[0] != x509.ExtKeyUsageTimeStamping || c.KeyUsage != x509.KeyUsageDigitalSignature|x509.KeyUsageContentCommitment {
		t.Fatalf("EKU %v KU %v", c.ExtKeyUsage, c.KeyUsage)
	}
	critical := false
	for _, e := range c.Extensions {
		if e.Id.Equal(asn1.ObjectIdentifier{2, 5, 29, 37}) {
			critical = e.Critical
		}
	}
	if !critical {
		t.Fatal("extended key usage is not critical")
	}
	if _, ok := pki.BuiltinProfiles()["timestamping"]; ok {
		t.Fatal("the timestamping profile is orderable")
	}
	if name := pki.TimestampingProfile().Name; name != pki.TimestampingProfileName {
		t.Fatalf("the timestamping profile is named %q, not %q as stored TSA certificates say", name, pki.TimestampingProfileName)
	}
	// A profile with another EKU is refused.
	other := pki.BuiltinProfiles()["advanced-invoice"]
	if _, err := h.Issuing.Issuer.IssueTimestamping(other, pkitest.Request("advanced-invoice", key.Public()), mustSerial(t), pkitest.Now, h.Linter); selo.ErrorCode(err) != selo.EINVALID {
		t.Fatalf("err = %v", err)
	}
}
