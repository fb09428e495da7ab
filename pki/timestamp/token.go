package timestamp

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/asn1"
	"time"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/pki/cms"
)

// Token is a parsed RFC 3161 timestamp token.
type Token struct {
	SignedData *cms.SignedData
	Info       *Info
}

// ParseToken reads a DER timestamp token (a ContentInfo with a SignedData
// whose content is a TSTInfo).
func ParseToken(der []byte) (*Token, error) {
	sd, err := cms.Parse(der)
	if err != nil {
		return nil, err
	}
	if !sd.ContentType.Equal(cms.OIDTSTInfo) || sd.Detached {
		return nil, selo.Errorf(selo.EINVALID, "not a timestamp token: the content is not a TSTInfo")
	}
	if len(sd.Signers) != 1 {
		return nil, selo.Errorf(selo.EINVALID, "a timestamp token has exactly one signer, not %d", len(sd.Signers))
	}
	info, err := ParseInfo(sd.Content)
	if err != nil {
		return nil, err
	}
	return &Token{SignedData: sd, Info: info}, nil
}

// VerifyOptions says what to check a token against.
type VerifyOptions struct {
	// Roots are the trusted roots the TSA certificate must chain to; nil
	// skips the chain check.
	Roots *x509.CertPool
	// Certificates adds certificates to those the token carries (the TSA's
	// own, when it was requested without certReq).
	Certificates []*x509.Certificate
}

// Verify checks that the token is over digest (made with hash), that its
// signature is the TSA's, that the TSA certificate is a timestamping one
// (RFC 3161 2.3), and, with roots, that it chains to them at the token's time.
func (t *Token) Verify(hash crypto.Hash, digest []byte, opts VerifyOptions) (*cms.SignerReport, error) {
	if t.Info.Hash != hash || !bytes.Equal(t.Info.HashedMessage, digest) {
		return nil, selo.Errorf(selo.EINVALID, "the timestamp is over other data than this signature")
	}
	rep, err := t.SignedData.VerifySigner(t.SignedData.Signers[0], cms.VerifyOptions{
		Intermediates: opts.Certificates, Roots: opts.Roots, Time: t.Info.GenTime,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageTimeStamping},
	})
	if err != nil {
		return rep, selo.Errorf(selo.EINVALID, "timestamp token: %s", selo.ErrorMessage(err))
	}
	if err := CheckCertificate(rep.Certificate); err != nil {
		return rep, err
	}
	return rep, nil
}

// Time returns the token's time.
func (t *Token) Time() time.Time { return t.Info.GenTime }

// oidExtKeyUsage is id-ce-extKeyUsage.
var oidExtKeyUsage = asn1.ObjectIdentifier{2, 5, 29, 37}

// CheckCertificate checks what RFC 3161 2.3 demands of a TSA certificate:
// one extended key usage, id-kp-timeStamping, in a critical extension, and
// a key usage (when present) that allows digitalSignature or nonRepudiation.
func CheckCertificate(c *x509.Certificate) error {
	critical := false
	for _, e := range c.Extensions {
		if e.Id.Equal(oidExtKeyUsage) {
			critical = e.Critical
		}
	}
	if len(c.ExtKeyUsage) != 1 || c.ExtKeyUsage[0] != x509.ExtKeyUsageTimeStamping || len(c.UnknownExtKeyUsage) != 0 || !critical {
		return selo.Errorf(selo.EINVALID, "certificate %q is not a TSA certificate: its only extended key usage must be timeStamping, marked critical", c.Subject.CommonName)
	}
	if c.KeyUsage != 0 && c.KeyUsage&(x509.KeyUsageDigitalSignature|x509.KeyUsageContentCommitment) == 0 {
		return selo.Errorf(selo.EINVALID, "certificate %q does not allow digital signatures", c.Subject.CommonName)
	}
	return nil
}
