package authority

import (
	"context"
	"crypto"
	"crypto/x509"
	"reflect"
	"unicode/utf8"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/pki"
)

// MinPFXPasswordLength is the shortest password accepted for a .pfx backup.
const MinPFXPasswordLength = 8

// PFX returns the certificate with serial, its chain and its private key as a
// PKCS#12 encrypted under password (software delivery, the holder's backup).
// The key is the one Selo generated for the holder (exportable keys only), or
// key when the holder brings their own; it must match the certificate.
func (a *Authority) PFX(ctx context.Context, actor, serial string, key crypto.PrivateKey, password string) ([]byte, error) {
	out, err := a.pfx(ctx, actor, serial, key, password)
	if err != nil {
		a.auditFailure(ctx, actor, "key.export", "certificate/"+serial, err)
		return nil, err
	}
	return out, nil
}

func (a *Authority) pfx(ctx context.Context, actor, serial string, key crypto.PrivateKey, password string) ([]byte, error) {
	if utf8.RuneCountInString(password) < MinPFXPasswordLength {
		return nil, selo.Errorf(selo.EINVALID, "the .pfx password must have at least %d characters", MinPFXPasswordLength)
	}
	cert, err := a.FindCertificate(ctx, serial)
	if err != nil {
		return nil, err
	}
	leaf, err := ParsedCertificate(cert)
	if err != nil {
		return nil, err
	}
	if key == nil {
		if cert.KeyID == "" {
			return nil, selo.Errorf(selo.EINVALID, "Selo does not hold the key of certificate %s; give the key file the CSR was made with", cert.Serial)
		}
		if key, err = a.keys.ExportKey(ctx, cert.KeyID); err != nil {
			return nil, err
		}
	}
	if !keyMatches(key, leaf) {
		return nil, selo.Errorf(selo.EINVALID, "the private key does not belong to certificate %s", cert.Serial)
	}
	chain, err := a.Chain(ctx, cert.CAID)
	if err != nil {
		return nil, err
	}
	out, err := pki.EncodePFX(key, leaf, chain, password)
	if err != nil {
		return nil, err
	}
	if err := a.store.AppendAudit(ctx, a.audit(actor, "key.export", "certificate/"+cert.Serial, selo.OutcomeSuccess,
		map[string]string{"format": "pkcs12", "key_id": cert.KeyID})); err != nil {
		return nil, err
	}
	return out, nil
}

func keyMatches(key crypto.PrivateKey, cert *x509.Certificate) bool {
	s, ok := key.(crypto.Signer)
	if !ok {
		return false
	}
	type equaler interface{ Equal(crypto.PublicKey) bool }
	pub, ok := s.Public().(equaler)
	return ok && pub.Equal(cert.PublicKey) && reflect.TypeOf(s.Public()) == reflect.TypeOf(cert.PublicKey)
}
