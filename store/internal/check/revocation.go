package check

import "github.com/selo-qtsp/selo"

// Revocation validates rev before the store looks up its certificate.
func Revocation(rev *selo.Revocation) error {
	switch {
	case rev == nil:
		return selo.Errorf(selo.EINVALID, "no revocation given")
	case !Serial(rev.Serial):
		return selo.Errorf(selo.EINVALID, "serial %q is not lower-case hex", rev.Serial)
	case !rev.Reason.Valid():
		return selo.Errorf(selo.EINVALID, "%s is not a reason to revoke certificate %s with", rev.Reason, rev.Serial)
	}
	return nil
}

// RevocationOf checks that rev may revoke cert and fills in its CAID from the
// certificate when empty, and its Actor from the audit entry when empty.
func RevocationOf(rev *selo.Revocation, cert *selo.Certificate, audit *selo.AuditEntry) error {
	if rev.CAID == "" {
		rev.CAID = cert.CAID
	}
	if rev.CAID != cert.CAID {
		return selo.Errorf(selo.EINVALID, "certificate %s was issued by CA %q, not %q", cert.Serial, cert.CAID, rev.CAID)
	}
	if rev.Actor == "" {
		rev.Actor = audit.Actor
	}
	return nil
}

// CRL validates crl.
func CRL(crl *selo.CRL) error {
	switch {
	case crl == nil:
		return selo.Errorf(selo.EINVALID, "no CRL given")
	case crl.CAID == "":
		return selo.Errorf(selo.EINVALID, "a CRL needs a CA")
	case crl.Number <= 0:
		return selo.Errorf(selo.EINVALID, "CRL number %d of CA %q is not positive", crl.Number, crl.CAID)
	case crl.Entries < 0:
		return selo.Errorf(selo.EINVALID, "CRL %d of CA %q has a negative entry count", crl.Number, crl.CAID)
	case crl.ThisUpdate.IsZero() || !crl.NextUpdate.After(crl.ThisUpdate):
		return selo.Errorf(selo.EINVALID, "CRL %d of CA %q needs a thisUpdate and a later nextUpdate", crl.Number, crl.CAID)
	case len(crl.DER) == 0:
		return selo.Errorf(selo.EINVALID, "CRL %d of CA %q has no DER", crl.Number, crl.CAID)
	}
	return nil
}

// The statuses a stored OCSP response may have: a pre-signed answer is about
// a certificate Selo issued, so it is never "unknown".
const (
	OCSPGood    = "good"
	OCSPRevoked = "revoked"
)

// OCSPResponse validates resp before the store looks up its certificate.
func OCSPResponse(resp *selo.OCSPResponse) error {
	switch {
	case resp == nil:
		return selo.Errorf(selo.EINVALID, "no OCSP response given")
	case !Serial(resp.Serial):
		return selo.Errorf(selo.EINVALID, "serial %q is not lower-case hex", resp.Serial)
	case resp.Status != OCSPGood && resp.Status != OCSPRevoked:
		return selo.Errorf(selo.EINVALID, "OCSP response status %q for %s is neither good nor revoked", resp.Status, resp.Serial)
	case resp.ThisUpdate.IsZero() || !resp.NextUpdate.After(resp.ThisUpdate):
		return selo.Errorf(selo.EINVALID, "OCSP response for %s needs a thisUpdate and a later nextUpdate", resp.Serial)
	case len(resp.DER) == 0:
		return selo.Errorf(selo.EINVALID, "OCSP response for %s has no DER", resp.Serial)
	}
	return nil
}

// OCSPResponseOf checks that resp answers for cert as it stands and fills in
// its CAID from the certificate when empty. ECONFLICT when the status
// disagrees: the response was signed before the certificate was revoked or
// released from hold.
func OCSPResponseOf(resp *selo.OCSPResponse, caID string, status selo.CertificateStatus) error {
	if resp.CAID == "" {
		resp.CAID = caID
	}
	if resp.CAID != caID {
		return selo.Errorf(selo.EINVALID, "certificate %s was issued by CA %q, not %q", resp.Serial, caID, resp.CAID)
	}
	if (resp.Status == OCSPRevoked) != (status == selo.CertRevoked) {
		return selo.Errorf(selo.ECONFLICT, "OCSP response for %s says %s but the certificate is %s: sign it again", resp.Serial, resp.Status, status)
	}
	return nil
}

// OCSPSigner validates signer.
func OCSPSigner(signer *selo.OCSPSigner) error {
	switch {
	case signer == nil:
		return selo.Errorf(selo.EINVALID, "no OCSP signer given")
	case signer.CAID == "":
		return selo.Errorf(selo.EINVALID, "an OCSP signer needs a CA")
	case signer.KeyID == "":
		return selo.Errorf(selo.EINVALID, "the OCSP signer of CA %q has no key", signer.CAID)
	case len(signer.CertDER) == 0:
		return selo.Errorf(selo.EINVALID, "the OCSP signer of CA %q has no certificate", signer.CAID)
	case signer.NotAfter.IsZero():
		return selo.Errorf(selo.EINVALID, "the OCSP signer of CA %q has no notAfter", signer.CAID)
	}
	return nil
}

// Limit accepts only a positive page size, for lists that must not return
// everything at once.
func Limit(limit int) error {
	if limit <= 0 {
		return selo.Errorf(selo.EINVALID, "limit %d is not positive", limit)
	}
	return nil
}
