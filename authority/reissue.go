package authority

import (
	"context"
	"math/big"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/pki"
)

// Reissue makes the certificate with serial anew under the CA newCAID, with
// the same public key, subject, SANs and notAfter (the "certificate update"
// after a CA change), and marks the old one superseded. The holder keeps
// their key and validity; nothing is revoked.
func (a *Authority) Reissue(ctx context.Context, actor, serial, newCAID string) (*selo.Certificate, error) {
	cert, err := a.reissue(ctx, actor, serial, newCAID)
	if err != nil {
		a.auditFailure(ctx, actor, "certificate.reissue", "certificate/"+serial, err)
		return nil, err
	}
	return cert, nil
}

func (a *Authority) reissue(ctx context.Context, actor, serial, newCAID string) (*selo.Certificate, error) {
	old, err := a.FindCertificate(ctx, serial)
	if err != nil {
		return nil, err
	}
	if old.Status != selo.CertValid {
		return nil, selo.Errorf(selo.ECONFLICT, "certificate %s is %s; only a valid certificate can be re-issued", old.Serial, old.Status)
	}
	if newCAID == "" {
		// As issuingCA would: the CA configured for the profile. Resolved here
		// so that the check below also covers it.
		newCAID = a.profileCA[old.Profile]
	}
	if old.CAID == newCAID {
		return nil, selo.Errorf(selo.EINVALID, "certificate %s is already issued by %s", old.Serial, newCAID)
	}
	oldX509, err := ParsedCertificate(old)
	if err != nil {
		return nil, err
	}
	if !a.clock.Now().Before(oldX509.NotAfter) {
		return nil, selo.Errorf(selo.EINVALID, "certificate %s expired on %s; an expired certificate is not re-issued", old.Serial, oldX509.NotAfter.Format("2006-01-02"))
	}
	profile, err := a.Profile(old.Profile)
	if err != nil {
		return nil, err
	}
	ca, err := a.issuingCA(ctx, old.Profile, newCAID)
	if err != nil {
		return nil, err
	}
	iss, err := a.issuer(ctx, ca)
	if err != nil {
		return nil, err
	}
	return a.signAndStore(ctx, func(serial *big.Int) (*pki.Issued, error) {
		return iss.Reissue(profile, oldX509, serial, a.clock.Now(), a.linter)
	}, func(issued *pki.Issued) (*selo.Certificate, error) {
		rec := a.record(ca.ID, profile.Name, old.KeyID, issued)
		rec.ReissuedFrom = old.Serial
		entry := a.audit(actor, "certificate.reissue", "certificate/"+rec.Serial, selo.OutcomeSuccess, map[string]any{
			"ca": ca.ID, "old_ca": old.CAID, "old_serial": old.Serial, "profile": profile.Name,
			"subject": rec.Subject, "not_after": rec.NotAfter,
		})
		return rec, a.store.SupersedeCertificate(ctx, old.Serial, rec, entry)
	})
}

// ReissueProgress reports how far a bulk re-issue has come.
type ReissueProgress struct {
	Done, Total int
	Serial      string // the serial just re-issued
	Err         error  // non-nil when that certificate could not be re-issued
}

// ReissueAll re-issues every valid certificate of oldCAID under newCAID. It
// can be stopped (cancel ctx) and run again: certificates already re-issued
// are superseded and not listed again, so a second run resumes. A certificate
// that fails is reported through progress and skipped; the count of those is
// returned with the count re-issued.
func (a *Authority) ReissueAll(ctx context.Context, actor, oldCAID, newCAID string, progress func(ReissueProgress)) (done, failed int, err error) {
	if _, err := a.store.FindCA(ctx, oldCAID); err != nil {
		return 0, 0, err
	}
	if _, err := a.issuingCA(ctx, "", newCAID); err != nil {
		return 0, 0, err
	}
	total, err := a.countCertificates(ctx, oldCAID)
	if err != nil {
		return 0, 0, err
	}
	after := ""
	for {
		page, err := a.store.ListCertificates(ctx, selo.CertificateFilter{CAID: oldCAID, Status: selo.CertValid, AfterSerial: after, Limit: 200})
		if err != nil {
			return done, failed, err
		}
		if len(page) == 0 {
			return done, failed, nil
		}
		for _, c := range page {
			if err := ctx.Err(); err != nil {
				return done, failed, err
			}
			after = c.Serial
			_, rerr := a.Reissue(ctx, actor, c.Serial, newCAID)
			if rerr != nil {
				failed++
			} else {
				done++
			}
			if progress != nil {
				progress(ReissueProgress{Done: done + failed, Total: total, Serial: c.Serial, Err: rerr})
			}
		}
	}
}

func (a *Authority) countCertificates(ctx context.Context, caID string) (int, error) {
	n, after := 0, ""
	for {
		page, err := a.store.ListCertificates(ctx, selo.CertificateFilter{CAID: caID, Status: selo.CertValid, AfterSerial: after, Limit: 1000})
		if err != nil {
			return 0, err
		}
		if len(page) == 0 {
			return n, nil
		}
		n += len(page)
		after = page[len(page)-1].Serial
	}
}
