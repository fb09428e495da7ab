package pki

import (
	"crypto/x509"
	"crypto/x509/pkix"
	_ "embed"
	"encoding/asn1"
	"fmt"
	"math/big"
	"time"

	"github.com/selo-qtsp/selo"
)

//go:embed profiles/service/timestamping.yaml
var timestampingProfile []byte

// TimestampingProfile returns the profile of a TSA's time-stamping unit
// certificate. It is not among BuiltinProfiles: nobody orders one.
func TimestampingProfile() *Profile {
	p, err := LoadProfile(timestampingProfile)
	if err != nil {
		panic("pki: embedded timestamping profile: " + selo.ErrorMessage(err))
	}
	return p
}

// oidExtKeyUsage is id-ce-extKeyUsage.
var oidExtKeyUsage = asn1.ObjectIdentifier{2, 5, 29, 37}

// IssueTimestamping issues a TSA certificate for req under the timestamping
// profile p (TimestampingProfile, or an operator's copy of it): like Issue,
// linted before the real signature, with the extended key usage extension
// marked critical as RFC 3161 2.3 requires and crypto/x509 cannot express.
func (iss *Issuer) IssueTimestamping(p *Profile, req *Request, serial *big.Int, now time.Time, l *Linter) (*Issued, error) {
	if iss == nil || iss.lintSigner == nil {
		return nil, fmt.Errorf("pki: issuer not prepared with NewIssuer")
	}
	if p == nil {
		return nil, selo.Errorf(selo.EINVALID, "profile is missing")
	}
	prof := *p
	if err := prof.validate(); err != nil {
		return nil, err
	}
	if len(prof.extKeyUsage) != 1 || prof.extKeyUsage[0] != x509.ExtKeyUsageTimeStamping || len(prof.unknownEKU) != 0 {
		return nil, selo.Errorf(selo.EINVALID, "profile %s: a TSA certificate has timeStamping as its only extended key usage", prof.Name)
	}
	l, err := l.orDefault()
	if err != nil {
		return nil, err
	}
	if err := prof.CheckRequest(req); err != nil {
		return nil, err
	}
	if err := checkSerial(serial); err != nil {
		return nil, err
	}
	tmpl, err := iss.leafTemplate(&prof, req, nil, serial, now)
	if err != nil {
		return nil, err
	}
	ekuDER, err := asn1.Marshal([]asn1.ObjectIdentifier{{1, 3, 6, 1, 5, 5, 7, 3, 8}})
	if err != nil {
		return nil, err
	}
	// An ExtraExtensions entry replaces the extension crypto/x509 would make.
	tmpl.ExtraExtensions = append(tmpl.ExtraExtensions, pkix.Extension{Id: oidExtKeyUsage, Critical: true, Value: ekuDER})
	der, findings, err := signLinted(tmpl, req.PublicKey, iss.Cert, iss.Signer, iss.lintCert, iss.lintSigner, l, prof.Kind, "tsa certificate")
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parse issued certificate: %w", err)
	}
	return &Issued{Cert: cert, DER: der, Findings: findings}, nil
}
