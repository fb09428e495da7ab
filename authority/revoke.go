package authority

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"time"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/pki"
)

// RevokeRequest asks to revoke one certificate.
type RevokeRequest struct {
	Serial         string
	Reason         selo.RevocationReason
	InvalidityDate time.Time // when the key is known or suspected to have been compromised; optional
}

// Revoke revokes a certificate as an officer. Revoking a revoked certificate
// answers with the first revocation and created=false; a certificate on hold
// is not revoked again (release the hold first, then revoke). Before Revoke
// returns, the stored OCSP response says revoked; a new CRL follows shortly
// (coalesced with other revocations of the same CA).
func (a *Authority) Revoke(ctx context.Context, actor string, req RevokeRequest) (rev *selo.Revocation, created bool, err error) {
	rev, created, err = a.revoke(ctx, actor, req)
	if err != nil {
		a.auditFailure(ctx, actor, "certificate.revoke", "certificate/"+req.Serial, err)
		return nil, false, err
	}
	return rev, created, nil
}

func (a *Authority) revoke(ctx context.Context, actor string, req RevokeRequest) (*selo.Revocation, bool, error) {
	serial, err := NormalizeSerial(req.Serial)
	if err != nil {
		return nil, false, err
	}
	if !req.Reason.Valid() {
		return nil, false, selo.Errorf(selo.EINVALID, "%s is not a reason to revoke with", req.Reason)
	}
	cert, err := a.store.FindCertificate(ctx, serial)
	if err != nil {
		return nil, false, err
	}
	if p, ok := a.profiles[cert.Profile]; ok && p.Kind == pki.KindTLS && req.Reason == selo.ReasonCertificateHold {
		// CA/B Forum Baseline Requirements 7.2.2: no certificateHold for TLS.
		return nil, false, selo.Errorf(selo.EFORBIDDEN, "a TLS server certificate cannot be put on hold (CA/B Forum BR 7.2.2); revoke it with another reason")
	}
	now := a.clock.Now()
	if !req.InvalidityDate.IsZero() && req.InvalidityDate.After(now) {
		return nil, false, selo.Errorf(selo.EINVALID, "invalidity date %s is in the future", req.InvalidityDate.UTC().Format(time.RFC3339))
	}
	rev := &selo.Revocation{
		Serial: serial, CAID: cert.CAID, Reason: req.Reason, RevokedAt: now,
		InvalidityDate: req.InvalidityDate, Actor: actor,
	}
	details := map[string]any{"ca": cert.CAID, "reason": req.Reason.String(), "previous_status": cert.Status}
	if !req.InvalidityDate.IsZero() {
		details["invalidity_date"] = req.InvalidityDate.UTC()
	}
	entry := a.audit(actor, "certificate.revoke", "certificate/"+serial, selo.OutcomeSuccess, details)
	if req.Reason == selo.ReasonKeyCompromise {
		return a.revokeKey(ctx, actor, cert, rev, entry)
	}
	got, created, err := a.store.RevokeCertificate(ctx, rev, entry)
	if err != nil {
		return nil, false, err
	}
	if created {
		a.statusChanged(ctx, cert)
	}
	return got, created, nil
}

// revokeKey revokes cert for keyCompromise together with every other
// unexpired certificate Selo issued for the same public key (a re-issue
// under a new CA keeps the key): a compromised key is compromised in all of
// them. One transaction records them all, each with its audit entry. A
// certificate already revoked keeps its first revocation; when cert itself
// is revoked for another reason (a hold included) nothing else is touched.
func (a *Authority) revokeKey(ctx context.Context, actor string, cert *selo.Certificate, rev *selo.Revocation, entry *selo.AuditEntry) (*selo.Revocation, bool, error) {
	if cert.Status == selo.CertRevoked {
		first, err := a.store.FindRevocation(ctx, cert.Serial)
		if err != nil {
			return nil, false, err
		}
		if first.Reason != selo.ReasonKeyCompromise {
			return first, false, nil
		}
	}
	var same []*selo.Certificate
	if keyHash, err := selo.KeyHash(cert.DER); err != nil {
		// Not a certificate Selo signed (a bulk-loaded record): it has no
		// key to share.
		a.log.Warn("revoke for key compromise: stored certificate does not parse; revoking it alone", "serial", cert.Serial, "err", err)
	} else if same, err = a.store.ListCertificatesByKey(ctx, keyHash); err != nil {
		return nil, false, err
	}
	revs, entries, certs := []*selo.Revocation{rev}, []*selo.AuditEntry{entry}, []*selo.Certificate{cert}
	for _, c := range same {
		if c.Serial == cert.Serial || c.Status == selo.CertRevoked || !rev.RevokedAt.Before(c.NotAfter) {
			continue
		}
		twin := &selo.Revocation{Serial: c.Serial, CAID: c.CAID, Reason: selo.ReasonKeyCompromise, RevokedAt: rev.RevokedAt,
			InvalidityDate: rev.InvalidityDate, Actor: actor}
		details := map[string]any{"ca": c.CAID, "reason": selo.ReasonKeyCompromise.String(), "previous_status": c.Status, "same_key_as": cert.Serial}
		if !rev.InvalidityDate.IsZero() {
			details["invalidity_date"] = rev.InvalidityDate.UTC()
		}
		revs = append(revs, twin)
		entries = append(entries, a.audit(actor, "certificate.revoke", "certificate/"+c.Serial, selo.OutcomeSuccess, details))
		certs = append(certs, c)
	}
	created, err := a.store.RevokeCertificates(ctx, revs, entries)
	if err != nil {
		return nil, false, err
	}
	for i, c := range certs {
		if created[i] {
			a.statusChanged(ctx, c)
		}
	}
	if !created[0] {
		first, err := a.store.FindRevocation(ctx, cert.Serial)
		if err != nil {
			return nil, false, err
		}
		return first, false, nil
	}
	return rev, true, nil
}

// ReleaseHold lifts a certificateHold: the certificate is good again. Only a
// hold can be released; every other revocation is final.
func (a *Authority) ReleaseHold(ctx context.Context, actor, serial string) error {
	err := a.releaseHold(ctx, actor, serial)
	if err != nil {
		a.auditFailure(ctx, actor, "certificate.release-hold", "certificate/"+serial, err)
	}
	return err
}

func (a *Authority) releaseHold(ctx context.Context, actor, serial string) error {
	serial, err := NormalizeSerial(serial)
	if err != nil {
		return err
	}
	cert, err := a.store.FindCertificate(ctx, serial)
	if err != nil {
		return err
	}
	if err := a.store.ReleaseHold(ctx, serial, a.audit(actor, "certificate.release-hold", "certificate/"+serial, selo.OutcomeSuccess, map[string]any{"ca": cert.CAID})); err != nil {
		return err
	}
	a.statusChanged(ctx, cert)
	return nil
}

// FindRevocation returns a certificate's revocation or ENOTFOUND.
func (a *Authority) FindRevocation(ctx context.Context, serial string) (*selo.Revocation, error) {
	serial, err := NormalizeSerial(serial)
	if err != nil {
		return nil, err
	}
	return a.store.FindRevocation(ctx, serial)
}

// statusChanged brings the published status of cert up to date after a
// revocation or a released hold: the OCSP response is signed and stored now
// (the store dropped the old one in the same transaction, so until this
// finishes the responder signs live from the database), and the CA's CRL is
// scheduled. A failure here loses nothing: the revocation is committed and
// the responder and the CRL worker read it from the database.
func (a *Authority) statusChanged(ctx context.Context, cert *selo.Certificate) {
	if a.ocsp != nil {
		if err := a.ocsp.refresh(ctx, cert.CAID, cert.Serial); err != nil {
			a.log.Error("sign ocsp response after status change", "serial", cert.Serial, "err", err)
		}
	}
	a.crls.schedule(cert.CAID)
}

// HolderRevokeRequest is a revocation asked for by the holder of a
// certificate, who proves it by signing the request with the certificate's
// private key (the way ACME lets a key holder revoke).
type HolderRevokeRequest struct {
	Serial string
	Reason selo.RevocationReason
	// Time is when the holder signed; it must be within HolderRevokeWindow of now.
	Time time.Time
	// Signature is the holder's signature over HolderRevokeMessage with the
	// certificate's key: ECDSA (ASN.1) or RSA PKCS#1 v1.5, over SHA-256.
	Signature []byte
}

// HolderRevokeWindow is how far a holder's signing time may be from now.
const HolderRevokeWindow = 5 * time.Minute

// holderReasons are the reasons a holder may give (RFC 5280 leaves the others
// to the CA: cACompromise, certificateHold, privilegeWithdrawn, aACompromise).
var holderReasons = map[selo.RevocationReason]bool{
	selo.ReasonUnspecified: true, selo.ReasonKeyCompromise: true, selo.ReasonAffiliationChanged: true,
	selo.ReasonSuperseded: true, selo.ReasonCessationOfOperation: true,
}

// HolderRevokeMessage is the text a holder signs to revoke:
//
//	selo-revoke-v1\n<serial hex, lower case>\n<reason name>\n<time, RFC 3339 UTC>
//
// e.g. with OpenSSL: printf 'selo-revoke-v1\n%s\n%s\n%s' SERIAL keyCompromise
// 2026-11-25T10:00:00Z | openssl dgst -sha256 -sign key.pem | base64 -w0
func HolderRevokeMessage(serial string, reason selo.RevocationReason, t time.Time) string {
	return "selo-revoke-v1\n" + serial + "\n" + reason.String() + "\n" + t.UTC().Format(time.RFC3339)
}

// RevokeByHolder revokes a certificate on the word of whoever holds its
// private key. The actor recorded is "holder:<serial>".
func (a *Authority) RevokeByHolder(ctx context.Context, req HolderRevokeRequest) (*selo.Revocation, bool, error) {
	serial, err := NormalizeSerial(req.Serial)
	if err != nil {
		// Anyone may call this: what is not a serial is not written to the
		// audit log as it came.
		a.auditFailure(ctx, "holder", "certificate.revoke", "certificate/(not a serial)", err)
		return nil, false, err
	}
	// The stored form, so that the audit log names one holder and one
	// certificate however the serial was typed.
	actor := "holder:" + serial
	if err := a.checkHolderProof(ctx, serial, req); err != nil {
		a.auditFailure(ctx, actor, "certificate.revoke", "certificate/"+serial, err)
		return nil, false, err
	}
	return a.Revoke(ctx, actor, RevokeRequest{Serial: serial, Reason: req.Reason})
}

// checkHolderProof checks a holder's request for the certificate with the
// normalized serial.
func (a *Authority) checkHolderProof(ctx context.Context, serial string, req HolderRevokeRequest) error {
	if !holderReasons[req.Reason] {
		return selo.Errorf(selo.EFORBIDDEN, "a holder may not revoke with reason %s; ask the registration desk", req.Reason)
	}
	if d := a.clock.Now().Sub(req.Time); d > HolderRevokeWindow || d < -HolderRevokeWindow {
		return selo.Errorf(selo.EUNAUTHORIZED, "the signed time %s is more than %s from the server's time; sign again", req.Time.UTC().Format(time.RFC3339), HolderRevokeWindow)
	}
	rec, err := a.store.FindCertificate(ctx, serial)
	if err != nil {
		return err
	}
	cert, err := ParsedCertificate(rec)
	if err != nil {
		return err
	}
	digest := sha256.Sum256([]byte(HolderRevokeMessage(serial, req.Reason, req.Time)))
	ok := false
	switch pub := cert.PublicKey.(type) {
	case *ecdsa.PublicKey:
		ok = ecdsa.VerifyASN1(pub, digest[:], req.Signature)
	case *rsa.PublicKey:
		ok = rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], req.Signature) == nil
	}
	if !ok {
		return selo.Errorf(selo.EUNAUTHORIZED, "the signature does not verify with the key of certificate %s", serial)
	}
	return nil
}
