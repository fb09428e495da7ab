package signing

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"runtime"
	"sync"

	"github.com/selo-qtsp/selo"
)

// SignHashRequest signs hashes with a credential under a SAD.
type SignHashRequest struct {
	AccountID, CredentialID, SAD string
	HashAlgorithmOID             string
	Hashes                       [][]byte
	SignAlgo                     string // OID
	SignAlgoParams               []byte // DER RSASSA-PSS-params for PSS
}

// parallelFrom is the batch size from which signing is spread over the CPUs.
const parallelFrom = 16

// SignHash consumes the SAD, then checks that it was issued to this account
// and credential for exactly these hashes (same algorithm, order and count)
// and signs each hash with the credential's key. The SAD is burnt even when
// the check fails, so a SAD tried with other hashes is of no further use.
// ECDSA signatures are ASN.1 DER; RSA signatures PKCS#1 v1.5 or PSS.
// EUNAUTHORIZED: the SAD is unknown, used, expired or bound to something
// else; EINVALID: bad input.
func (s *Service) SignHash(ctx context.Context, req SignHashRequest) ([][]byte, error) {
	sigs, err := s.signHash(ctx, req)
	object := "credential/" + req.CredentialID
	if err != nil {
		s.auditFailure(ctx, holder(req.AccountID), "signature.sign", object, err, map[string]any{"hashes": len(req.Hashes)})
		return nil, err
	}
	s.appendAudit(ctx, s.entry(holder(req.AccountID), "signature.sign", object, selo.OutcomeSuccess,
		map[string]any{"hashes": len(sigs), "hash_algorithm": req.HashAlgorithmOID, "sign_algorithm": req.SignAlgo}))
	return sigs, nil
}

func (s *Service) signHash(ctx context.Context, req SignHashRequest) ([][]byte, error) {
	if req.SAD == "" || len(req.SAD) > 256 {
		return nil, selo.Errorf(selo.EUNAUTHORIZED, "invalid SAD")
	}
	if err := s.checkHashes(req.HashAlgorithmOID, req.Hashes); err != nil {
		return nil, err
	}
	hash, _ := hashByOID(req.HashAlgorithmOID)
	act, err := s.store.ConsumeSignatureActivation(ctx, tokenHash(req.SAD), s.clock.Now())
	if selo.ErrorCode(err) == selo.ENOTFOUND {
		return nil, selo.Errorf(selo.EUNAUTHORIZED, "invalid SAD")
	} else if err != nil {
		return nil, err
	}
	if act.AccountID != req.AccountID || act.CredentialID != req.CredentialID ||
		act.HashAlgorithmOID != req.HashAlgorithmOID || !sameHashes(act.Hashes, req.Hashes) {
		return nil, selo.Errorf(selo.EUNAUTHORIZED, "invalid SAD")
	}
	e, err := s.signable(ctx, req.AccountID, req.CredentialID)
	if err != nil {
		return nil, err
	}
	kind := keyECDSA
	if _, ok := e.signer.Public().(*rsa.PublicKey); ok {
		kind = keyRSA
	}
	opts, err := signerOpts(kind, req.SignAlgo, req.SignAlgoParams, hash)
	if err != nil {
		return nil, err
	}
	return signAll(e.signer, req.Hashes, opts)
}

// signable reads the credential row and its certificate's status afresh
// (two indexed lookups) so that disabling a credential or revoking its
// certificate stops signing at once, even under a SAD issued before; only
// the key handle, parsed certificate and chain come from the cache.
// EFORBIDDEN for a disabled credential or a certificate no longer valid.
func (s *Service) signable(ctx context.Context, accountID, credentialID string) (*credentialEntry, error) {
	c, err := s.credential(ctx, accountID, credentialID)
	if err != nil {
		return nil, selo.Errorf(selo.EUNAUTHORIZED, "invalid SAD")
	}
	if c.Status != selo.CredentialActive {
		return nil, selo.Errorf(selo.EFORBIDDEN, "credential %s is disabled", c.ID)
	}
	rec, err := s.store.FindCertificate(ctx, c.CertificateSerial)
	if err != nil {
		return nil, fmt.Errorf("credential %s certificate: %w", c.ID, err)
	}
	if rec.Status != selo.CertValid {
		return nil, selo.Errorf(selo.EFORBIDDEN, "the certificate of credential %s is %s", c.ID, rec.Status)
	}
	if now := s.clock.Now(); now.Before(rec.NotBefore) || !now.Before(rec.NotAfter) {
		return nil, selo.Errorf(selo.EFORBIDDEN, "the certificate of credential %s is not valid now", c.ID)
	}
	return s.load(ctx, c)
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
