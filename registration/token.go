package registration

import (
	"context"
	"crypto"
	"crypto/x509"
	"strings"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/pki"
)

// IssueTokenOrder completes a token order: an officer hands in the CSR the
// holder's token (a QSCD) made. The order must be validated and paid
// (ready, or further); the CSR's signature proves possession, its key must
// never have been certified by Selo and must fit the profile's key policy.
// The certificate has the order's subject (never the CSR's), its reserved
// serial and QcSSCD where the profile states it. Sending the same CSR again
// returns the same certificate; another key once one is recorded is
// ECONFLICT. Audited as actor.
func (s *Service) IssueTokenOrder(ctx context.Context, actor, number string, csrData []byte) (*selo.Certificate, error) {
	cert, _, err := s.IssueTokenOrderWithCode(ctx, actor, number, csrData)
	return cert, err
}

// IssueTokenOrderWithCode is IssueTokenOrder that also returns the
// certificate's revocation code when this call issued it, for the officer to
// hand to the holder: it revokes the certificate without the token
// (RevokeWithCode), is stored only as an argon2id hash and is never shown
// again ("" on a repeated call).
func (s *Service) IssueTokenOrderWithCode(ctx context.Context, actor, number string, csrData []byte) (*selo.Certificate, string, error) {
	cert, fresh, err := s.issueTokenOrder(ctx, actor, number, csrData)
	if err != nil {
		s.auditFailure(ctx, actor, "order.token", "order/"+strings.TrimSpace(number), err)
		return nil, "", err
	}
	if !fresh {
		return cert, "", nil
	}
	code, err := s.newRevocationCode(ctx, actor, cert.Serial)
	if err != nil {
		// The certificate is issued; only the code is missing.
		s.log.Error("make revocation code", "order", strings.TrimSpace(number), "serial", cert.Serial, "err", err)
		return cert, "", nil
	}
	return cert, code, nil
}

func (s *Service) issueTokenOrder(ctx context.Context, actor, number string, csrData []byte) (*selo.Certificate, bool, error) {
	o, err := s.FindOrder(ctx, number)
	if err != nil {
		return nil, false, err
	}
	if o.Delivery != selo.DeliveryToken {
		return nil, false, selo.Errorf(selo.EINVALID, "order %s is for %s delivery, not a token", o.Number, o.Delivery)
	}
	req, err := pki.ParseCSR(csrData)
	if err != nil {
		return nil, false, err
	}
	hash, err := keyHash(req.PublicKey)
	if err != nil {
		return nil, false, err
	}
	if o.PublicKeySHA256 != "" && o.PublicKeySHA256 != hash {
		return nil, false, selo.Errorf(selo.ECONFLICT, "order %s already has another key (SHA-256 %s): send that token's CSR", o.Number, o.PublicKeySHA256)
	}
	switch o.State {
	case selo.OrderIssued, selo.OrderDelivered:
		cert, err := s.store.FindCertificate(ctx, o.CertificateSerial)
		return cert, false, err
	case selo.OrderKeyReady:
		return s.issueOrder(ctx, actor, o)
	case selo.OrderReady, selo.OrderEmailVerified:
	default:
		return nil, false, selo.Errorf(selo.ECONFLICT, "order %s is %s: a token's CSR is taken once the identity is validated and the order paid", o.Number, o.State)
	}
	if serial, err := s.keyCertified(ctx, req.PublicKey); err != nil {
		return nil, false, err
	} else if serial != "" {
		return nil, false, selo.Errorf(selo.ECONFLICT, "this key is already certified (serial %s): a token order needs a key never certified before", serial)
	}
	profile, err := s.auth.Profile(o.Profile)
	if err != nil {
		return nil, false, err
	}
	check, err := s.approvedCheck(ctx, o)
	if err != nil {
		return nil, false, err
	}
	probe := subjectRequest(o, profile, check)
	probe.PublicKey = req.PublicKey
	if err := profile.CheckRequest(probe); err != nil {
		return nil, false, err
	}
	serial, err := pki.RandomSerial()
	if err != nil {
		return nil, false, err
	}
	// The officer is the channel the CSR came through: the e-mail step of
	// the holder's own lift does not apply to a token handed in.
	var u *selo.OrderUpdate
	if o.State == selo.OrderReady {
		u = s.transition(o, selo.OrderEmailVerified, actor, "token order: the CSR is handed in by the officer", nil)
	}
	o.PublicKeySHA256, o.CSR, o.ReservedSerial = hash, req.Raw, pki.SerialHex(serial)
	next := s.transition(o, selo.OrderKeyReady, actor, "token key recorded from its CSR", map[string]any{
		"key": pki.KeyDescription(req.PublicKey), "public_key_sha256": hash, "reserved_serial": o.ReservedSerial})
	if u != nil {
		next.Events = append(u.Events, next.Events...)
	}
	if err := s.store.UpdateOrder(ctx, next); err != nil {
		return nil, false, err
	}
	return s.issueOrder(ctx, actor, o)
}

// keyCertified returns the serial of a certificate Selo issued for pub, or
// "" when there is none. It reads every certificate: an officer's action,
// not a hot path.
func (s *Service) keyCertified(ctx context.Context, pub crypto.PublicKey) (string, error) {
	want, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", selo.Errorf(selo.EINVALID, "unsupported public key")
	}
	after := ""
	for {
		page, err := s.store.ListCertificates(ctx, selo.CertificateFilter{AfterSerial: after, Limit: 500})
		if err != nil || len(page) == 0 {
			return "", err
		}
		for _, c := range page {
			after = c.Serial
			x, err := x509.ParseCertificate(c.DER)
			if err != nil {
				continue
			}
			if string(x.RawSubjectPublicKeyInfo) == string(want) {
				return c.Serial, nil
			}
		}
	}
}
