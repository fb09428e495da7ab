package tsa

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/pki"
)

// Load returns the Responder of a stored TSA certificate, one the authority
// issued under the timestamping profile (authority.IssueTimestamping): its
// key from the key store, chain as given (the issuing CA up to, not
// including, the root).
func Load(ctx context.Context, store selo.CertificateStore, keys selo.KeyStore, serial string, chain []*x509.Certificate, cfg Config) (*Responder, error) {
	rec, err := store.FindCertificate(ctx, serial)
	if err != nil {
		return nil, err
	}
	if rec.Profile != pki.TimestampingProfileName || rec.KeyID == "" {
		return nil, selo.Errorf(selo.EINVALID, "certificate %s is not a TSA certificate made by 'selo tsa init'", serial)
	}
	if rec.Status != selo.CertValid {
		return nil, selo.Errorf(selo.EINVALID, "TSA certificate %s is %s", serial, rec.Status)
	}
	cert, err := x509.ParseCertificate(rec.DER)
	if err != nil {
		return nil, fmt.Errorf("parse TSA certificate: %w", err)
	}
	signer, err := keys.Signer(ctx, rec.KeyID)
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return nil, err
		}
		return nil, fmt.Errorf("key of TSA certificate %s: %w", serial, err)
	}
	cfg.Certificate, cfg.Signer, cfg.Chain = cert, signer, chain
	return NewResponder(cfg)
}
