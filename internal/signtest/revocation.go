package signtest

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/hex"
	"testing"
	"time"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/pki"
	"github.com/selo-qtsp/selo/pki/pkitest"
)

// OCSPResponder returns a delegated OCSP responder certificate of the
// pkitest issuing CA for key, as selo serve makes one (with
// id-pkix-ocsp-nocheck), valid from notBefore for days (0: the default).
func OCSPResponder(t testing.TB, key crypto.Signer, notBefore time.Time, days int) *x509.Certificate {
	t.Helper()
	h := pkitest.NewHierarchy(t)
	serial, err := pki.RandomSerial()
	if err != nil {
		t.Fatal(err)
	}
	der, err := pki.NewOCSPSignerCertificate(h.Issuing.Issuer, key.Public(), pki.OCSPSignerOptions{ValidityDays: days}, serial, notBefore, h.Linter)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// OCSPResponse returns an OCSP response about cert, issued by the pkitest
// issuing CA, produced at producedAt by a fresh delegated responder with
// Selo's own encoder: good when revokedAt is zero, else revoked then for
// key compromise.
func OCSPResponse(t testing.TB, cert *x509.Certificate, producedAt, revokedAt time.Time) []byte {
	t.Helper()
	h := pkitest.NewHierarchy(t)
	key := pkitest.NewKey(t, "ecdsa-p256")
	responder := OCSPResponder(t, key, pkitest.Now, 0)
	id, err := pki.NewOCSPCertID(h.Issuing.Cert, cert.SerialNumber, crypto.SHA1)
	if err != nil {
		t.Fatal(err)
	}
	one := pki.OCSPSingleResponse{CertID: id, Status: pki.OCSPGood, ThisUpdate: producedAt}
	if !revokedAt.IsZero() {
		one.Status, one.RevokedAt, one.Reason = pki.OCSPRevoked, revokedAt, selo.ReasonKeyCompromise
	}
	resp, err := pki.CreateOCSPResponse(responder, key, pki.OCSPResponseTemplate{ProducedAt: producedAt, Responses: []pki.OCSPSingleResponse{one}})
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// CRLRevoking returns a CRL of the pkitest issuing CA, issued at thisUpdate
// for a day, that lists the given certificates as revoked at revokedAt for
// key compromise.
func CRLRevoking(t testing.TB, thisUpdate, revokedAt time.Time, revoked ...*x509.Certificate) []byte {
	t.Helper()
	return crlOf(t, pkitest.NewHierarchy(t).Issuing, thisUpdate, revokedAt, revoked)
}

// RootCRLRevoking returns a CRL of the pkitest root CA, the one that
// answers for the issuing CA's certificate, issued at thisUpdate for a day,
// that lists the given certificates as revoked at revokedAt for key
// compromise; none makes a CRL that says the issuing CA is good.
func RootCRLRevoking(t testing.TB, thisUpdate, revokedAt time.Time, revoked ...*x509.Certificate) []byte {
	t.Helper()
	return crlOf(t, pkitest.NewHierarchy(t).Root, thisUpdate, revokedAt, revoked)
}

func crlOf(t testing.TB, ca *pkitest.CA, thisUpdate, revokedAt time.Time, revoked []*x509.Certificate) []byte {
	t.Helper()
	var b bytes.Buffer
	_, err := pki.WriteCRL(&b, ca.Cert, ca.Key, pki.CRLTemplate{Number: 1, ThisUpdate: thisUpdate, NextUpdate: thisUpdate.Add(24 * time.Hour)},
		func(yield func(pki.CRLEntry) error) error {
			for _, c := range revoked {
				if err := yield(pki.CRLEntry{Serial: hex.EncodeToString(c.SerialNumber.Bytes()), RevokedAt: revokedAt, Reason: selo.ReasonKeyCompromise}); err != nil {
					return err
				}
			}
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}
