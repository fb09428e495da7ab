package signing

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"runtime"
	"strings"
	"sync"

	"github.com/selo-qtsp/selo"
)

// SignHashRequest is the root's selo.SignHashRequest.
type SignHashRequest = selo.SignHashRequest

// parallelFrom is the batch size from which signing is spread over the CPUs.
const parallelFrom = 16

// SignHash consumes the SAD, then checks that it was issued to this account
// and credential for exactly these hashes (same algorithm, order and count)
// and signs each hash with the credential's key. The SAD is burnt even when
// the check fails, so a SAD tried with other hashes is of no further use.
// ECDSA signatures are ASN.1 DER; RSA signatures PKCS#1 v1.5 or PSS.
// EUNAUTHORIZED: the SAD is unknown, used, expired or bound to something
// else; EFORBIDDEN: the credential is disabled, its certificate no longer
// valid or the certificate's CA revoked; EINVALID: bad input.
//
// One store transaction consumes the SAD, reads the credential, its
// certificate and the certificate's CA as they are now (so disabling a
// credential or revoking its certificate or CA stops signing at once, even
// under a SAD issued before) and appends the batch's audit entry, success
// or refusal: no signature is made that the log does not hold. Should the
// key then fail to sign, a second entry records the failure.
func (s *Service) SignHash(ctx context.Context, req SignHashRequest) ([][]byte, error) {
	object := "credential/" + req.CredentialID
	refuse := func(err error) ([][]byte, error) {
		s.auditFailure(ctx, holder(req.AccountID), "signature.sign", object, err, map[string]any{"hashes": len(req.Hashes)})
		s.metrics.SignHashBatch(0, false)
		return nil, err
	}
	if req.SAD == "" || len(req.SAD) > 256 {
		return refuse(selo.Errorf(selo.EUNAUTHORIZED, "invalid SAD"))
	}
	if err := s.checkHashes(req.HashAlgorithmOID, req.Hashes); err != nil {
		return refuse(err)
	}
	hash, _ := hashByOID(req.HashAlgorithmOID)
	var (
		cred    *selo.Credential
		opts    crypto.SignerOpts
		kind    keyKind
		verdict error
	)
	err := s.store.UseSignatureActivation(ctx, tokenHash(req.SAD), s.clock.Now(),
		func(act *selo.SignatureActivation, c *selo.Credential, cert *selo.Certificate, ca *selo.CA) (*selo.AuditEntry, error) {
			kind, opts, verdict = s.judge(req, hash, act, c, cert, ca)
			if verdict != nil {
				return s.failureEntry(holder(req.AccountID), "signature.sign", object, verdict, map[string]any{"hashes": len(req.Hashes)}), verdict
			}
			cred = c
			details := map[string]any{"hashes": len(req.Hashes), "hash_algorithm": req.HashAlgorithmOID, "sign_algorithm": req.SignAlgo,
				"approval": string(c.ApprovalType)}
			if act.AuthorizerID != "" {
				details["approval"] = string(selo.ApprovalAuthorizer)
			}
			if req.Integrator != "" {
				details["integrator"] = truncateRunes(req.Integrator, 64)
			}
			return s.entry(holder(req.AccountID), "signature.sign", object, selo.OutcomeSuccess, details), nil
		})
	switch {
	case err != nil && verdict != nil && err == verdict:
		s.metrics.SignHashBatch(0, false)
		return nil, err // refused and audited with the SAD's consumption
	case selo.ErrorCode(err) == selo.ENOTFOUND:
		return refuse(selo.Errorf(selo.EUNAUTHORIZED, "invalid SAD"))
	case err != nil:
		return refuse(err)
	}
	sigs, err := s.sign(ctx, cred, kind, req.Hashes, opts)
	if err != nil {
		return refuse(err)
	}
	s.metrics.SignHashBatch(len(sigs), true)
	return sigs, nil
}

// judge decides a consumed SAD: bound to this account, credential, hash
// algorithm and exactly these hashes; the credential active and its
// certificate valid now and its issuing CA not revoked; the signature
// algorithm fit for the key. It reads nothing: the store hands it the rows
// of the consuming transaction.
func (s *Service) judge(req SignHashRequest, hash crypto.Hash, act *selo.SignatureActivation, c *selo.Credential, cert *selo.Certificate, ca *selo.CA) (keyKind, crypto.SignerOpts, error) {
	if act.AccountID != req.AccountID || act.CredentialID != req.CredentialID ||
		act.HashAlgorithmOID != req.HashAlgorithmOID || !sameHashes(act.Hashes, req.Hashes) ||
		c == nil || c.AccountID != req.AccountID {
		return 0, nil, selo.Errorf(selo.EUNAUTHORIZED, "invalid SAD")
	}
	if c.Status != selo.CredentialActive {
		return 0, nil, selo.Errorf(selo.EFORBIDDEN, "credential %s is disabled", c.ID)
	}
	if cert == nil {
		return 0, nil, fmt.Errorf("credential %s: its certificate %s is missing from the store", c.ID, c.CertificateSerial)
	}
	if cert.Status != selo.CertValid {
		return 0, nil, selo.Errorf(selo.EFORBIDDEN, "the certificate of credential %s is %s", c.ID, cert.Status)
	}
	// A revoked issuing CA (selo ca revoke) voids every certificate it
	// issued, whatever their own status says.
	if ca == nil {
		return 0, nil, fmt.Errorf("credential %s: the CA %s of its certificate is missing from the store", c.ID, cert.CAID)
	}
	if ca.Status == selo.CARevoked {
		return 0, nil, selo.Errorf(selo.EFORBIDDEN, "the CA %s that issued the certificate of credential %s is revoked", ca.ID, c.ID)
	}
	if now := s.clock.Now(); now.Before(cert.NotBefore) || !now.Before(cert.NotAfter) {
		return 0, nil, selo.Errorf(selo.EFORBIDDEN, "the certificate of credential %s is not valid now", c.ID)
	}
	kind := keyECDSA
	if strings.HasPrefix(string(c.KeyAlgorithm), "rsa-") {
		kind = keyRSA
	}
	opts, err := signerOpts(kind, req.SignAlgo, req.SignAlgoParams, hash)
	if err != nil {
		return 0, nil, err
	}
	return kind, opts, nil
}

// sign signs the digests with the credential's key (its handle from the
// cache while fresh), after checking the key is of the kind judged.
func (s *Service) sign(ctx context.Context, c *selo.Credential, kind keyKind, digests [][]byte, opts crypto.SignerOpts) ([][]byte, error) {
	e, err := s.load(ctx, c)
	if err != nil {
		return nil, err
	}
	if _, isRSA := e.signer.Public().(*rsa.PublicKey); isRSA != (kind == keyRSA) {
		return nil, fmt.Errorf("credential %s: key algorithm %s does not match its key", c.ID, c.KeyAlgorithm)
	}
	return signAll(e.signer, digests, opts)
}

// signAll signs every digest, spread over the CPUs for large batches.
func signAll(signer crypto.Signer, digests [][]byte, opts crypto.SignerOpts) ([][]byte, error) {
	sigs := make([][]byte, len(digests))
	workers := min(runtime.GOMAXPROCS(0), len(digests)/parallelFrom+1)
	if workers <= 1 {
		for i, d := range digests {
			sig, err := signer.Sign(rand.Reader, d, opts)
			if err != nil {
				return nil, fmt.Errorf("sign hash %d: %w", i+1, err)
			}
			sigs[i] = sig
		}
		return sigs, nil
	}
	var wg sync.WaitGroup
	errs := make([]error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(digests); i += workers {
				sig, err := signer.Sign(rand.Reader, digests[i], opts)
				if err != nil {
					errs[w] = fmt.Errorf("sign hash %d: %w", i+1, err)
					return
				}
				sigs[i] = sig
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return sigs, nil
}

// truncateRunes cuts s to at most n runes.
func truncateRunes(s string, n int) string {
	for i := range s {
		if n == 0 {
			return s[:i]
		}
		n--
	}
	return s
}
