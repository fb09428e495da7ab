package revocation

import (
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"slices"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

var (
	oidDeltaCRLIndicator        = asn1.ObjectIdentifier{2, 5, 29, 27}
	oidIssuingDistributionPoint = asn1.ObjectIdentifier{2, 5, 29, 28}
)

// checkCRLScope returns an error unless crl is a complete CRL whose scope
// includes cert (RFC 5280 6.3.3 b): a delta CRL, or a partitioned one (for
// CA certificates only, some reasons only, another distribution point, or
// indirect) that does not list cert says nothing about it, and must not be
// read as "good".
func checkCRLScope(crl *x509.RevocationList, cert *x509.Certificate) error {
	for _, e := range crl.Extensions {
		switch {
		case e.Id.Equal(oidDeltaCRLIndicator):
			return errors.New("a delta CRL: only complete CRLs are read")
		case e.Id.Equal(oidIssuingDistributionPoint):
			return checkIssuingDistributionPoint(e.Value, cert)
		}
	}
	return nil
}

func checkIssuingDistributionPoint(der []byte, cert *x509.Certificate) error {
	malformed := errors.New("the CRL's issuing distribution point is malformed")
	in := cryptobyte.String(der)
	var idp cryptobyte.String
	if !in.ReadASN1(&idp, cbasn1.SEQUENCE) || !in.Empty() {
		return malformed
	}
	var dp cryptobyte.String
	var hasDP bool
	if !idp.ReadOptionalASN1(&dp, &hasDP, cbasn1.Tag(0).Constructed().ContextSpecific()) {
		return malformed
	}
	if hasDP {
		var full cryptobyte.String
		if !dp.ReadASN1(&full, cbasn1.Tag(0).Constructed().ContextSpecific()) {
			return errors.New("the CRL covers a distribution point named relative to its issuer: not supported")
		}
		match := false
		for !full.Empty() {
			var name cryptobyte.String
			var tag cbasn1.Tag
			if !full.ReadAnyASN1(&name, &tag) {
				return malformed
			}
			if tag == cbasn1.Tag(6).ContextSpecific() && slices.Contains(cert.CRLDistributionPoints, string(name)) {
				match = true
			}
		}
		if !match {
			return errors.New("the CRL covers another distribution point than the certificate's")
		}
	}
	// The flags are IMPLICIT BOOLEANs, DEFAULT FALSE.
	flag := func(n uint8) (bool, error) {
		var v cryptobyte.String
		var present bool
		if !idp.ReadOptionalASN1(&v, &present, cbasn1.Tag(n).ContextSpecific()) || present && len(v) != 1 {
			return false, malformed
		}
		return present && v[0] != 0, nil
	}
	userOnly, err := flag(1)
	if err != nil {
		return err
	}
	caOnly, err := flag(2)
	if err != nil {
		return err
	}
	if userOnly && cert.IsCA || caOnly && !cert.IsCA {
		return errors.New("the CRL covers only another kind of certificate (user or CA)")
	}
	if idp.PeekASN1Tag(cbasn1.Tag(3).ContextSpecific()) {
		return errors.New("the CRL covers only some revocation reasons")
	}
	idp.SkipOptionalASN1(cbasn1.Tag(3).ContextSpecific())
	indirect, err := flag(4)
	if err != nil {
		return err
	}
	attrOnly, err := flag(5)
	if err != nil {
		return err
	}
	if indirect || attrOnly {
		return errors.New("an indirect or attribute-certificate CRL: not supported")
	}
	return nil
}
