package authority

import (
	"context"
	"crypto/x509"
	"time"

	"github.com/selo-qtsp/selo"
)

// CheckDestroyCAKey says why the key of CA id may not be destroyed now:
// only a CA that is retired (or revoked) and whose own certificate has
// expired, so that nothing it signed can still need a CRL or an OCSP
// answer from it, loses its key.
func (a *Authority) CheckDestroyCAKey(ctx context.Context, id string) (*selo.CA, error) {
	ca, err := a.store.FindCA(ctx, id)
	if err != nil {
		return nil, err
	}
	if ca.Status == selo.CAActive {
		return nil, selo.Errorf(selo.ECONFLICT, "CA %s is active: retire it, and wait for its certificate to expire, before destroying its key", id)
	}
	cert, err := x509.ParseCertificate(ca.CertDER)
	if err != nil {
		return nil, err
	}
	if now := a.clock.Now(); now.Before(cert.NotAfter) {
		return nil, selo.Errorf(selo.ECONFLICT, "the certificate of CA %s is valid until %s: its key still signs CRLs and OCSP answers for what it issued",
			id, cert.NotAfter.UTC().Format(time.RFC3339))
	}
	return ca, nil
}

// DestroyCAKey deletes the key of a retired CA whose certificate has
// expired from the key store: the end of a CA's life (ETSI EN 319 411-1
// asks that CA keys be destroyed then, under multi-person control; the
// control package runs this only from an approved proposal).
func (a *Authority) DestroyCAKey(ctx context.Context, actor, id string) error {
	ca, err := a.CheckDestroyCAKey(ctx, id)
	if err != nil {
		a.auditFailure(ctx, actor, "key.destroy", "ca/"+id, err)
		return err
	}
	if err := a.store.AppendAudit(ctx, a.audit(actor, "key.destroy", "key/"+ca.KeyID, selo.OutcomeSuccess,
		map[string]string{"ca": ca.ID, "purpose": "ca"})); err != nil {
		return err
	}
	if err := a.keys.DeleteKey(ctx, ca.KeyID); err != nil {
		a.auditFailure(ctx, actor, "key.destroy", "key/"+ca.KeyID, err)
		return err
	}
	a.mu.Lock()
	delete(a.issuers, ca.ID)
	a.mu.Unlock()
	return nil
}
