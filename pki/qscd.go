package pki

import (
	"crypto/x509"
	"encoding/asn1"
	"slices"

	"github.com/selo-qtsp/selo"
)

// QSCD policies of ETSI EN 319 411-2 and the policy the same certificate
// has when its key is not in a QSCD.
var qscdPolicies = map[string]string{
	"0.4.0.194112.1.2": "0.4.0.194112.1.0", // QCP-n-qscd → QCP-n
	"0.4.0.194112.1.3": "0.4.0.194112.1.1", // QCP-l-qscd → QCP-l
}

// validateQSCD keeps QcSSCD and the -qscd policies together: a profile
// that states one without the other would certify a key location it does
// not know.
func (p *Profile) validateQSCD() error {
	sscd := p.QC != nil && p.QC.SSCD
	for _, s := range p.Policies {
		if _, ok := qscdPolicies[s]; ok && !sscd {
			return invalidProfile("policies: %s is a QSCD policy and needs qc_statements.sscd", s)
		}
	}
	if sscd && !slices.ContainsFunc(p.Policies, func(s string) bool { _, ok := qscdPolicies[s]; return ok }) {
		return invalidProfile("qc_statements.sscd needs a QSCD policy (QCP-n-qscd 0.4.0.194112.1.2 or QCP-l-qscd 0.4.0.194112.1.3)")
	}
	return nil
}

// forKeyLocation returns p as it applies to a key that is (inQSCD) or is
// not in a qualified signature creation device: a profile that states
// QcSSCD keeps it only for a QSCD key; for any other key (a software key in
// a .pfx) it certifies without QcSSCD and under QCP-n / QCP-l instead of
// the -qscd policies. p must be validated; the copy returned is.
func (p *Profile) forKeyLocation(inQSCD bool) (*Profile, error) {
	if inQSCD || p.QC == nil || !p.QC.SSCD {
		return p, nil
	}
	cp := *p
	qc := *p.QC
	qc.SSCD = false
	cp.QC = &qc
	cp.Policies = make([]string, len(p.Policies))
	for i, s := range p.Policies {
		if plain, ok := qscdPolicies[s]; ok {
			s = plain
		}
		cp.Policies[i] = s
	}
	if err := cp.validate(); err != nil {
		return nil, err
	}
	return &cp, nil
}

// checkKeyLocation refuses a certificate that claims a QSCD (QcSSCD or a
// -qscd policy) for a key that is not in one: the last check before the
// signature, whatever built the template.
func checkKeyLocation(tmpl *x509.Certificate, inQSCD bool) error {
	if inQSCD {
		return nil
	}
	for _, pol := range tmpl.Policies {
		if _, ok := qscdPolicies[pol.String()]; ok {
			return selo.Errorf(selo.EINVALID, "policy %s is for keys in a QSCD; this key is not in one", pol)
		}
	}
	for _, ext := range tmpl.ExtraExtensions {
		if ext.Id.Equal(asn1.ObjectIdentifier(oidQCStatements)) && hasQcSSCD(ext.Value) {
			return selo.Errorf(selo.EINVALID, "QcSSCD states a key in a QSCD; this key is not in one")
		}
	}
	return nil
}

// HasQcSSCD reports whether cert states QcSSCD (its key is in a QSCD).
func HasQcSSCD(cert *x509.Certificate) bool {
	for _, ext := range cert.Extensions {
		if ext.Id.Equal(asn1.ObjectIdentifier(oidQCStatements)) {
			return hasQcSSCD(ext.Value)
		}
	}
	return false
}

// hasQcSSCD reports whether a qcStatements extension value holds QcSSCD.
func hasQcSSCD(der []byte) bool {
	var stmts []qcStatement
	if rest, err := asn1.Unmarshal(der, &stmts); err != nil || len(rest) != 0 {
		return false
	}
	for _, s := range stmts {
		if s.ID.Equal(oidQcSSCD) {
			return true
		}
	}
	return false
}
