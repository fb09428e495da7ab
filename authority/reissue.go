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
	profile, timestamping, err := a.reissueProfile(old.Profile)
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
	reissue := iss.Reissue
	if timestamping {
		reissue = iss.ReissueTimestamping
	}
	return a.signAndStore(ctx, func(serial *big.Int) (*pki.Issued, error) {
		return reissue(profile, oldX509, serial, a.clock.Now(), a.linter)
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

// reissueProfile returns the profile a certificate of the named profile is
// re-issued under, and whether it is the TSA's timestamping profile (not one
// an order names, but a certificate under the CA all the same).
func (a *Authority) reissueProfile(name string) (*pki.Profile, bool, error) {
	if p, ok := a.profiles[name]; ok {
		return p, false, nil
	}
	if ts := pki.TimestampingProfile(); name == ts.Name {
		return ts, true, nil
	}
	return nil, false, selo.Errorf(selo.ENOTFOUND, "no profile named %q", name)
}

// CurrentCertificate returns the certificate with serial, or the one that
// replaced it when it was re-issued (following re-issues of re-issues): what
// a service configured with a serial, such as the TSA, must use now.
func (a *Authority) CurrentCertificate(ctx context.Context, serial string) (*selo.Certificate, error) {
	c, err := a.FindCertificate(ctx, serial)
	for hops := 0; err == nil && c.Status == selo.CertSuperseded && c.SupersededBy != "" && hops < 16; hops++ {
		c, err = a.store.FindCertificate(ctx, c.SupersededBy)
	}
	return c, err
}

// ReissueProgress reports how far a bulk re-issue has come.
type ReissueProgress struct {
	Done, Total int
	Serial      string // the serial just re-issued
	Err         error  // non-nil when that certificate could not be re-issued
}

// ReissueAll re-issues every unexpired valid certificate of oldCAID under
// newCAID: end-entity certificates under their profile, TSA certificates
// under the timestamping profile (critical timeStamping EKU, same TSA key).
// It can be stopped (cancel ctx) and run again: certificates already
// re-issued are superseded and not listed again, so a second run resumes,
// and one after the end finds nothing to do. A certificate that fails is
// reported through progress and skipped; the count of those is returned with
// the count re-issued. Certificates that expired are not re-issued and not
// counted. The new CA's delegated OCSP responder is made first when it has
// none, so the re-issued certificates are answered for at once; the old
// CA's responder stays, answering for the old certificates (a responder
// certificate is only valid for the CA that issued it, so it does not move).
func (a *Authority) ReissueAll(ctx context.Context, actor, oldCAID, newCAID string, progress func(ReissueProgress)) (done, failed int, err error) {
	if _, err := a.store.FindCA(ctx, oldCAID); err != nil {
		return 0, 0, err
	}
	newCA, err := a.issuingCA(ctx, "", newCAID)
	if err != nil {
		return 0, 0, err
	}
	if _, err := a.store.FindOCSPSigner(ctx, newCA.ID); selo.ErrorCode(err) == selo.ENOTFOUND {
		if _, err := a.newOCSPSigner(ctx, actor, newCA); err != nil {
			return 0, 0, err
		}
	} else if err != nil {
		return 0, 0, err
	}
	total, err := a.CountReissuable(ctx, oldCAID)
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
			if !a.clock.Now().Before(c.NotAfter) {
				continue
			}
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

// CountReissuable counts the certificates of caID that a bulk re-issue
// moves: valid and not expired. Zero after a bulk re-issue completed.
func (a *Authority) CountReissuable(ctx context.Context, caID string) (int, error) {
	n, after := 0, ""
	now := a.clock.Now()
	for {
		page, err := a.store.ListCertificates(ctx, selo.CertificateFilter{CAID: caID, Status: selo.CertValid, AfterSerial: after, Limit: 1000})
		if err != nil {
			return 0, err
		}
		if len(page) == 0 {
			return n, nil
		}
		for _, c := range page {
			if now.Before(c.NotAfter) {
				n++
			}
		}
		after = page[len(page)-1].Serial
	}
}
