package registration

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"strings"
	"time"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/authority"
	"github.com/selo-qtsp/selo/pki"
)

// The certificate update (the seed's "UpdateCertified"): after the provider
// retires a CA, the holder of a certificate it issued proves possession of
// the key by signing a one-time challenge, and gets the certificate re-issued
// under the CA now configured for its profile, with the same key, subject and
// notAfter. No documents, no cost.

// UpdateChallengeValidity is how long an update challenge may be answered.
const UpdateChallengeValidity = 5 * time.Minute

// Limits on what a caller sends.
const (
	// MaxUpdateCertificateBytes bounds the certificate given to StartUpdate.
	MaxUpdateCertificateBytes = 32 << 10
	// MaxUpdateChallengeBytes bounds the challenge given to CompleteUpdate.
	MaxUpdateChallengeBytes = 256
	// MaxUpdateSignatureBytes bounds the signature (RSA 4096 is 512 bytes).
	MaxUpdateSignatureBytes = 1024
)

// updateChallengePrefix starts every challenge, so that what the holder's
// key signs cannot be mistaken for a document, a revocation or a CSR.
const updateChallengePrefix = "selo-update-v1\n"

// purposeUpdate is the one-time code purpose of an update challenge; its
// owner is "certificate/<serial>", so a certificate has at most one live
// challenge and a new one replaces the last.
const purposeUpdate = "update"

// maxSupersededHops bounds how far a chain of re-issues is followed.
const maxSupersededHops = 8

// UpdateChallenge is what the holder signs to update a certificate.
type UpdateChallenge struct {
	// Challenge is the exact text to sign: SHA-256 over its bytes, with the
	// certificate's key (ECDSA ASN.1, RSA PKCS#1 v1.5 or RSA-PSS).
	Challenge string
	Serial    string
	ExpiresAt time.Time
}

// UpdateResult is an updated certificate and its chain (issuing CA first,
// root last).
type UpdateResult struct {
	Certificate *selo.Certificate
	Chain       []*x509.Certificate
	// Replaced is the serial of the certificate the holder presented.
	Replaced string
	// Already is set when the certificate had been updated before (a retry):
	// the same new certificate is returned, never a second one.
	Already bool
}

// UpdateChallengeText is the challenge text for serial and a hex nonce:
//
//	selo-update-v1\n<serial hex, lower case>\n<64 hex digits>
func UpdateChallengeText(serial, nonce string) string {
	return updateChallengePrefix + serial + "\n" + nonce
}

// ParseUpdateChallenge splits a challenge into the certificate serial and
// the nonce, or fails with EINVALID.
func ParseUpdateChallenge(challenge string) (serial, nonce string, err error) {
	bad := selo.Errorf(selo.EINVALID, "the update challenge is malformed; ask for a new one")
	if len(challenge) > MaxUpdateChallengeBytes || !strings.HasPrefix(challenge, updateChallengePrefix) {
		return "", "", bad
	}
	serial, nonce, ok := strings.Cut(strings.TrimPrefix(challenge, updateChallengePrefix), "\n")
	if !ok || len(nonce) != 64 || !lowerHex(nonce) || serial == "" || len(serial) > 40 || !lowerHex(serial) || serial[0] == '0' {
		return "", "", bad
	}
	return serial, nonce, nil
}

func lowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// ParseUpdateCertificate reads a certificate in PEM or DER, or fails with
// EINVALID (ETOOLARGE beyond MaxUpdateCertificateBytes).
func ParseUpdateCertificate(b []byte) (*x509.Certificate, error) {
	if len(b) > MaxUpdateCertificateBytes {
		return nil, selo.Errorf(selo.ETOOLARGE, "the certificate is larger than %d bytes", MaxUpdateCertificateBytes)
	}
	der := b
	if block, _ := pem.Decode(b); block != nil {
		if block.Type != "CERTIFICATE" {
			return nil, selo.Errorf(selo.EINVALID, "expected a CERTIFICATE PEM block, got %q", truncateText(block.Type, 40))
		}
		der = block.Bytes
	}
	if len(der) == 0 {
		return nil, selo.Errorf(selo.EINVALID, "no certificate given")
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, selo.Errorf(selo.EINVALID, "the certificate cannot be parsed (PEM or DER X.509 expected)")
	}
	return cert, nil
}

func truncateText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "..."
}

// StartUpdate checks that the certificate (PEM or DER) is one this provider
// issued, is neither revoked nor expired, and has something to update (its
// CA is retired, or it was already updated and the holder is retrying), and
// returns a one-time challenge for the holder to sign. The challenge is
// stored as a keyed hash, bound to the certificate's serial.
func (s *Service) StartUpdate(ctx context.Context, certificate []byte) (*UpdateChallenge, error) {
	x, err := ParseUpdateCertificate(certificate)
	if err != nil {
		s.auditFailure(ctx, "holder", "certificate.update.start", "certificate/(unreadable)", err)
		return nil, err
	}
	serial := serialOf(x)
	if len(serial) > 40 {
		err := selo.Errorf(selo.ENOTFOUND, "the certificate was not issued by this provider")
		s.auditFailure(ctx, "holder", "certificate.update.start", "certificate/(not a serial)", err)
		return nil, err
	}
	actor, object := "holder:"+serial, "certificate/"+serial
	ch, err := s.startUpdate(ctx, x, serial)
	if err != nil {
		s.auditFailure(ctx, actor, "certificate.update.start", object, err)
		return nil, err
	}
	return ch, nil
}

func (s *Service) startUpdate(ctx context.Context, x *x509.Certificate, serial string) (*UpdateChallenge, error) {
	rec, err := s.ownCertificate(ctx, serial, x.Raw)
	if err != nil {
		return nil, err
	}
	if _, _, err := s.updateTarget(ctx, rec); err != nil {
		return nil, err
	}
	var n [32]byte
	if _, err := rand.Read(n[:]); err != nil {
		return nil, err
	}
	text := UpdateChallengeText(serial, hex.EncodeToString(n[:]))
	now := s.clock.Now()
	stored := &selo.OneTimeCode{Owner: "certificate/" + serial, Purpose: purposeUpdate,
		Hash: s.codeHash("certificate/"+serial, purposeUpdate, text), ExpiresAt: now.Add(UpdateChallengeValidity), CreatedAt: now}
	entry := s.audit("holder:"+serial, "certificate.update.start", "certificate/"+serial, selo.OutcomeSuccess,
		map[string]any{"ca": rec.CAID, "expires_at": stored.ExpiresAt})
	if err := s.store.PutOneTimeCode(ctx, stored, entry); err != nil {
		return nil, err
	}
	return &UpdateChallenge{Challenge: text, Serial: serial, ExpiresAt: stored.ExpiresAt}, nil
}

// ownCertificate returns the stored certificate with serial when der is
// exactly it: a certificate with a borrowed serial is not ours.
func (s *Service) ownCertificate(ctx context.Context, serial string, der []byte) (*selo.Certificate, error) {
	rec, err := s.store.FindCertificate(ctx, serial)
	if selo.ErrorCode(err) == selo.ENOTFOUND || (err == nil && !bytes.Equal(rec.DER, der)) {
		return nil, selo.Errorf(selo.ENOTFOUND, "certificate %s was not issued by this provider", serial)
	}
	return rec, err
}

// updateTarget follows rec's re-issues to the newest certificate and says
// whether that one still needs re-issuing (its CA is retired) or is the
// answer to a retried update.
func (s *Service) updateTarget(ctx context.Context, rec *selo.Certificate) (current *selo.Certificate, reissue bool, err error) {
	current = rec
	for hops := 0; current.Status == selo.CertSuperseded; hops++ {
		if hops == maxSupersededHops || current.SupersededBy == "" {
			return nil, false, selo.Errorf(selo.ECONFLICT, "certificate %s was replaced, but its replacement cannot be found", rec.Serial)
		}
		if current, err = s.store.FindCertificate(ctx, current.SupersededBy); err != nil {
			return nil, false, err
		}
	}
	if current.Status == selo.CertRevoked {
		return nil, false, selo.Errorf(selo.EFORBIDDEN, "certificate %s is revoked; a revoked certificate is not updated", current.Serial)
	}
	if !s.clock.Now().Before(current.NotAfter) {
		return nil, false, selo.Errorf(selo.EINVALID, "certificate %s expired on %s; an expired certificate is not updated", current.Serial, current.NotAfter.Format("2006-01-02"))
	}
	ca, err := s.store.FindCA(ctx, current.CAID)
	if err != nil {
		return nil, false, err
	}
	switch {
	case ca.Status == selo.CARetired:
		return current, true, nil
	case current.Serial != rec.Serial:
		return current, false, nil // updated before: a retry
	}
	return nil, false, selo.Errorf(selo.ECONFLICT, "certificate %s is issued by %s, which is active: there is nothing to update", rec.Serial, ca.ID)
}

// CompleteUpdate checks the holder's signature over a challenge from
// StartUpdate (SHA-256, with the certificate's key: ECDSA ASN.1, RSA PKCS#1
// v1.5 or RSA-PSS), uses the challenge up, and re-issues the certificate
// under the CA configured for its profile (authority.Reissue): same key,
// subject and notAfter. A retry after success returns the same new
// certificate with Already set.
func (s *Service) CompleteUpdate(ctx context.Context, challenge string, signature []byte) (*UpdateResult, error) {
	serial, _, err := ParseUpdateChallenge(challenge)
	if err != nil {
		s.auditFailure(ctx, "holder", "certificate.update", "certificate/(not a challenge)", err)
		return nil, err
	}
	actor, object := "holder:"+serial, "certificate/"+serial
	res, err := s.completeUpdate(ctx, actor, serial, challenge, signature)
	if err != nil {
		s.auditFailure(ctx, actor, "certificate.update", object, err)
		return nil, err
	}
	return res, nil
}

// errUpdateChallenge is what an unknown, used, expired or altered challenge
// gets: the holder's remedy is the same for each.
var errUpdateChallenge = selo.Errorf(selo.EUNAUTHORIZED, "the update challenge is unknown, already used or expired; ask for a new one")

func (s *Service) completeUpdate(ctx context.Context, actor, serial, challenge string, signature []byte) (*UpdateResult, error) {
	if len(signature) == 0 || len(signature) > MaxUpdateSignatureBytes {
		return nil, selo.Errorf(selo.EINVALID, "the signature must be 1 to %d bytes", MaxUpdateSignatureBytes)
	}
	owner := "certificate/" + serial
	stored, err := s.store.TryOneTimeCode(ctx, owner, purposeUpdate, s.cfg.MaxCodeFailures)
	switch selo.ErrorCode(err) {
	case "":
	case selo.ENOTFOUND:
		return nil, errUpdateChallenge
	default:
		return nil, err
	}
	if !s.clock.Now().Before(stored.ExpiresAt) || !hmac.Equal(stored.Hash, s.codeHash(owner, purposeUpdate, challenge)) {
		return nil, errUpdateChallenge
	}
	rec, err := s.store.FindCertificate(ctx, serial)
	if err != nil {
		return nil, err
	}
	x, err := authority.ParsedCertificate(rec)
	if err != nil {
		return nil, err
	}
	if !verifyHolderSignature(x.PublicKey, []byte(challenge), signature) {
		return nil, selo.Errorf(selo.EUNAUTHORIZED, "the signature does not verify with the key of certificate %s", serial)
	}
	// Used up before anything is issued: of two racing answers to one
	// challenge, only the one that deletes it goes on.
	if err := s.store.DeleteOneTimeCode(ctx, owner, purposeUpdate, s.audit(actor, "certificate.update.prove", owner, selo.OutcomeSuccess, nil)); err != nil {
		if selo.ErrorCode(err) == selo.ENOTFOUND {
			return nil, errUpdateChallenge
		}
		return nil, err
	}
	return s.updateCertificate(ctx, actor, rec)
}

// updateCertificate re-issues rec (or returns its replacement on a retry).
func (s *Service) updateCertificate(ctx context.Context, actor string, rec *selo.Certificate) (*UpdateResult, error) {
	for attempt := 0; ; attempt++ {
		current, reissue, err := s.updateTarget(ctx, rec)
		if err != nil {
			return nil, err
		}
		already := !reissue
		if reissue {
			// "" picks the CA configured for the profile; Reissue refuses a
			// retired one and the CA the certificate already has.
			next, err := s.auth.Reissue(ctx, actor, current.Serial, "")
			if selo.ErrorCode(err) == selo.ECONFLICT && attempt == 0 {
				continue // a concurrent update won: answer with its certificate
			}
			if selo.ErrorCode(err) == selo.EINVALID {
				return nil, selo.Errorf(selo.ECONFLICT, "certificate %s cannot be updated yet: %s", current.Serial, selo.ErrorMessage(err))
			}
			if err != nil {
				return nil, err
			}
			current = next
		}
		chain, err := s.auth.Chain(ctx, current.CAID)
		if err != nil {
			return nil, err
		}
		entry := s.audit(actor, "certificate.update", "certificate/"+rec.Serial, selo.OutcomeSuccess,
			map[string]any{"new_serial": current.Serial, "ca": current.CAID, "old_ca": rec.CAID, "already": already})
		if err := s.store.AppendAudit(ctx, entry); err != nil {
			return nil, err
		}
		return &UpdateResult{Certificate: current, Chain: chain, Replaced: rec.Serial, Already: already}, nil
	}
}

// verifyHolderSignature checks sig over SHA-256(msg) with pub: ECDSA
// (ASN.1), RSA PKCS#1 v1.5 or RSA-PSS (any salt length).
func verifyHolderSignature(pub crypto.PublicKey, msg, sig []byte) bool {
	digest := sha256.Sum256(msg)
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		return ecdsa.VerifyASN1(k, digest[:], sig)
	case *rsa.PublicKey:
		return rsa.VerifyPKCS1v15(k, crypto.SHA256, digest[:], sig) == nil ||
			rsa.VerifyPSS(k, crypto.SHA256, digest[:], sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto}) == nil
	}
	return false
}

// serialOf is a certificate's serial in the stored form.
func serialOf(x *x509.Certificate) string {
	if x.SerialNumber == nil || x.SerialNumber.Sign() <= 0 {
		return "0"
	}
	return pki.SerialHex(x.SerialNumber)
}
