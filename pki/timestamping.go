package pki

import (
	"crypto/x509"
	"crypto/x509/pkix"
	_ "embed"
	"encoding/asn1"
	"math/big"
	"time"

	"github.com/selo-qtsp/selo"
)

//go:embed profiles/service/timestamping.yaml
var timestampingProfile []byte

// TimestampingProfileName is the name of TimestampingProfile, recorded with
// every TSA certificate in the store.
const TimestampingProfileName = "timestamping"

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
	return iss.issue(p, req, nil, serial, now, l, "tsa certificate", timestampingEKU)
}

// ReissueTimestamping is Reissue for a TSA certificate: the same key, subject
// and notAfter under iss, with the timestamping profile p and its critical
// extended key usage, as IssueTimestamping makes it.
func (iss *Issuer) ReissueTimestamping(p *Profile, old *x509.Certificate, serial *big.Int, now time.Time, l *Linter) (*Issued, error) {
	return iss.reissue(p, old, serial, now, l, "tsa certificate", timestampingEKU)
}

// timestampingEKU checks that prof is a timestamping profile and marks the
// extended key usage of tmpl critical.
func timestampingEKU(prof *Profile, tmpl *x509.Certificate) error {
	if len(prof.extKeyUsage) != 1 || prof.extKeyUsage[0] != x509.ExtKeyUsageTimeStamping || len(prof.unknownEKU) != 0 {
		return selo.Errorf(selo.EINVALID, "profile %s: a TSA certificate has timeStamping as its only extended key usage", prof.Name)
	}
	ekuDER, err := asn1.Marshal([]asn1.ObjectIdentifier{{1, 3, 6, 1, 5, 5, 7, 3, 8}})
	if err != nil {
		return err
	}
	// An ExtraExtensions entry replaces the extension crypto/x509 would make.
	tmpl.ExtraExtensions = append(tmpl.ExtraExtensions, pkix.Extension{Id: oidExtKeyUsage, Critical: true, Value: ekuDER})
	return nil
}
